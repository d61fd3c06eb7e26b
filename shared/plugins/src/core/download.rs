//! `io.kestra.plugin.core.http.Download`: streams an HTTP response body into
//! internal storage (never buffered whole). The file is named after the
//! `Content-Disposition` filename, else the URL's last path segment (keeping
//! its extension), else `download`. Outputs `uri`, `code`, `length`,
//! `headers` (name → list of values); Kestra's counter `response.length`
//! (tagged `request.method`).

use std::sync::LazyLock;

use async_trait::async_trait;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio_util::io::StreamReader;

use super::http::{self, HttpOptions};
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::ByteStream;

/// Download a file over HTTP into internal storage.
///
/// Fetches `uri` and stores the body as a file of the execution; the status code, headers and length come along.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.http.Download",
    aliases = ["io.kestra.plugin.fs.http.Download"],
    group = "core",
    example = "id: fetch\ntype: io.kestra.plugin.core.http.Download\nuri: https://example.com/data.csv\n",
    outputs(
        uri(String, "The downloaded file in internal storage."),
        code(Integer, "The HTTP status code."),
        headers(Map, "The response headers."),
        length(Integer, "The number of bytes.")
    ),
)]
struct Props {
    /// The URL to download.
    #[serde(deserialize_with = "de::string_lenient")]
    uri: String,
    /// The HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"GET\"")]
    method: Option<String>,
    /// Request headers.
    #[serde(default, deserialize_with = "de::multi_map")]
    #[prop(kind = "Map")]
    headers: Vec<(String, Vec<String>)>,
    /// The request body.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    body: Option<String>,
    /// The request's Content-Type.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_type: Option<String>,
    /// Fail when the body is empty.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    fail_on_empty_response: Option<bool>,
    /// Give up the request after this long.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration")]
    timeout: Option<chrono::Duration>,
    /// Client options: connectTimeout, readIdleTimeout, followRedirects, basicAuthUser…
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
    /// The name of the stored file (e.g. `orders.csv`), instead of the one
    /// the response's `Content-Disposition` or the URL gives.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    save_as: Option<String>,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct Download {
    url: reqwest::Url,
    method: reqwest::Method,
    headers: Vec<(String, Vec<String>)>,
    body: Option<String>,
    content_type: Option<String>,
    fail_on_empty_response: bool,
    timeout: Option<chrono::Duration>,
    options: HttpOptions,
    save_as: Option<String>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(Download {
        url: http::parse_uri("uri", &p.uri)?,
        method: http::parse_method(p.method.as_deref())?,
        headers: p.headers,
        body: p.body,
        content_type: p.content_type,
        fail_on_empty_response: p.fail_on_empty_response.unwrap_or(true),
        timeout: p.timeout,
        options: p.options.unwrap_or_default(),
        save_as: match p.save_as.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) {
            Some(n) if n.contains('/') || n == "." || n == ".." => {
                return Err(TaskError::property("saveAs", format!("'{n}' must be a file name, without '/'")));
            }
            other => other,
        },
    }))
}

#[async_trait]
impl RunnableTask for Download {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = &self.url;
        let mut rb = cx.services.http.request(self.method.clone(), url.clone());
        let mut skip: &[&str] = &[];
        if let Some(body) = &self.body {
            if let Some(ct) = &self.content_type {
                rb = rb.header(reqwest::header::CONTENT_TYPE, ct.as_str());
                skip = &["content-type"];
            }
            rb = rb.body(body.clone());
        }
        rb = http::add_headers(rb, &self.headers, skip)?;
        rb = http::with_timeout(rb, self.timeout, &self.options)?;
        rb = http::with_auth(rb, &self.options)?;

        cx.info(&format!("Downloading '{url}'"));
        let resp = http::send(rb, &self.method, "download", url).await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(TaskError::failed(format!("Failed to download '{url}': HTTP {}", status.as_u16())));
        }
        let headers = http::headers_output(resp.headers());
        let total = resp.content_length();
        let name = match &self.save_as {
            Some(n) => n.clone(),
            None => resp
                .headers()
                .get(reqwest::header::CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok())
                .and_then(http::content_disposition_filename)
                .or_else(|| http::url_file_name(resp.url()))
                .or_else(|| http::url_file_name(url))
                .unwrap_or_else(|| "download".to_string()),
        };

        let progress = cx.services.progress.clone();
        let task_id = cx.task_id.clone();
        let shown = url.to_string();
        let mut done: u64 = 0;
        let stream = resp.bytes_stream().map(move |chunk| match chunk {
            Ok(bytes) => {
                done += bytes.len() as u64;
                if let Some(p) = &progress {
                    p.update(&task_id, done, total);
                }
                Ok(bytes)
            }
            Err(e) => Err(std::io::Error::other(format!("download of '{shown}' interrupted: {e}"))),
        });
        let reader: ByteStream = Box::pin(StreamReader::new(stream));
        let stored = cx.put_file(&name, reader).await;
        if let Some(p) = &cx.services.progress {
            p.finish(&cx.task_id);
        }
        let (uri, length) = stored?;

        if length == 0 {
            if self.fail_on_empty_response {
                return Err(TaskError::failed(format!(
                    "Failed to download '{url}': the response is empty (set `failOnEmptyResponse: false` to allow it)"
                )));
            }
            cx.warn(&format!("File '{url}' is empty"));
        }
        cx.counter("response.length", length as f64, &[("request.method", self.method.as_str())]);
        cx.info(&format!("Downloaded {length} bytes to {uri}"));

        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        out.insert("code".into(), Value::from(status.as_u16()));
        out.insert("length".into(), Value::from(length));
        out.insert("headers".into(), headers);
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::*;
    use crate::context::Progress;
    use crate::core::test_support::{Env, Req, Resp, serve};

    const BIG: usize = 5 * 1024 * 1024 + 123;

    fn big_body() -> Vec<u8> {
        (0..BIG).map(|i| (i % 251) as u8).collect()
    }

    fn handler(r: &Req) -> Resp {
        match r.path.as_str() {
            "/trip/yellow_tripdata_2019-01.csv.gz" => {
                assert_eq!(r.header("x-token"), Some("abc"));
                Resp::new(200, big_body())
                    .header("Content-Type", "application/gzip")
                    .header("X-Multi", "1")
                    .header("X-Multi", "2")
            }
            "/named" => Resp::new(200, "a,b\n").header("Content-Disposition", r#"attachment; filename="report.csv""#),
            "/" => Resp::new(200, "root"),
            "/empty" => Resp::new(200, ""),
            _ => Resp::new(404, "not here"),
        }
    }

    #[derive(Default)]
    struct Prog(Mutex<Vec<(u64, Option<u64>)>>, Mutex<bool>);

    impl Progress for Prog {
        fn update(&self, _task_id: &str, done: u64, total: Option<u64>) {
            self.0.lock().unwrap().push((done, total));
        }
        fn finish(&self, _task_id: &str) {
            *self.1.lock().unwrap() = true;
        }
    }

    #[tokio::test]
    async fn streams_a_large_body_into_storage() {
        let base = serve(handler).await;
        let env = Env::new();
        let raw = json!({"uri": format!("{base}/trip/yellow_tripdata_2019-01.csv.gz"), "headers": {"X-Token": "abc"}});
        let mut cx = env.cx(&raw);
        let prog = Arc::new(Prog::default());
        cx.services.progress = Some(prog.clone());
        let task = (DEF.build)(raw.as_object().unwrap()).unwrap();
        let out = task.run(&cx).await.unwrap();

        let path = "/company/team/my-flow/executions/exec1/tasks/t1/tr1/yellow_tripdata_2019-01.csv.gz";
        assert_eq!(out.outputs.get("uri"), Some(&json!(format!("kestra://{path}"))));
        assert_eq!(out.outputs.get("code"), Some(&json!(200)));
        assert_eq!(out.outputs.get("length"), Some(&json!(BIG)));
        let headers = out.outputs.get("headers").unwrap();
        assert_eq!(headers.get("content-type"), Some(&json!(["application/gzip"])));
        assert_eq!(headers.get("x-multi"), Some(&json!(["1", "2"])));
        assert_eq!(env.storage.bytes(path).map(|b| b.len()), Some(BIG));
        assert!(env.storage.bytes(path).is_some_and(|d| d == big_body()));

        let updates = prog.0.lock().unwrap().clone();
        assert!(updates.len() > 1);
        assert_eq!(updates.last(), Some(&(BIG as u64, Some(BIG as u64))));
        assert!(*prog.1.lock().unwrap());
    }

    #[tokio::test]
    async fn names_files() {
        let base = serve(handler).await;
        let env = Env::new();
        let out = env.run(&DEF, json!({"uri": format!("{base}/named?x=1")})).await.unwrap();
        assert!(out.outputs["uri"].as_str().unwrap().ends_with("/tr1/report.csv"), "{:?}", out.outputs);
        let out = env.run(&DEF, json!({"uri": format!("{base}/")})).await.unwrap();
        assert!(out.outputs["uri"].as_str().unwrap().ends_with("/tr1/download"), "{:?}", out.outputs);
        // `saveAs` names the stored file whatever the response says
        let out = env.run(&DEF, json!({"uri": format!("{base}/named"), "saveAs": "orders.csv"})).await.unwrap();
        assert!(out.outputs["uri"].as_str().unwrap().ends_with("/tr1/orders.csv"), "{:?}", out.outputs);
        let err = env.run(&DEF, json!({"uri": format!("{base}/named"), "saveAs": "../x.csv"})).await.unwrap_err();
        assert!(err.to_string().contains("saveAs"), "{err}");
    }

    #[tokio::test]
    async fn fails_on_http_errors_and_empty_bodies() {
        let base = serve(handler).await;
        let env = Env::new();
        let uri = format!("{base}/missing.csv");
        let e = env.run(&DEF, json!({"uri": uri})).await.unwrap_err();
        assert_eq!(e.to_string(), format!("Failed to download '{uri}': HTTP 404"));

        let e = env.run(&DEF, json!({"uri": format!("{base}/empty")})).await.unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let out = env.run(&DEF, json!({"uri": format!("{base}/empty"), "failOnEmptyResponse": "false"})).await.unwrap();
        assert_eq!(out.outputs.get("length"), Some(&json!(0)));

        let e = env.run(&DEF, json!({"uri": "ftp://example.com/x"})).await.unwrap_err();
        assert!(e.to_string().contains("uri"), "{e}");
    }

    #[tokio::test]
    async fn connection_errors_name_host_and_port() {
        // Bind then drop a listener so the port is (very likely) closed.
        let port = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let env = Env::new();
        let e = env.run(&DEF, json!({"uri": format!("http://127.0.0.1:{port}/f.csv")})).await.unwrap_err();
        assert!(e.to_string().contains(&format!("cannot connect to 127.0.0.1:{port}")), "{e}");
    }
}
