//! Helpers shared by the HTTP tasks (`Download`, `Request`): URI and method
//! parsing, request headers, error messages that name the host, response
//! headers as Kestra outputs them (name → list of values), file names.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Url};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{TaskError, de};

/// Kestra's HTTP client `options` (only the parts Baton uses; the others
/// are accepted and ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpOptions {
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    pub allow_failed: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub read_timeout: Option<chrono::Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub connect_timeout: Option<chrono::Duration>,
    /// Kestra's `timeout: {connectTimeout, readIdleTimeout}` (what the
    /// flat `connectTimeout`/`readTimeout` became; 2.0 keeps only this).
    #[serde(default)]
    pub timeout: Option<HttpTimeouts>,
    /// `{type: BASIC, username, password}` or `{type: BEARER, token}`.
    #[serde(default)]
    pub auth: Option<HttpAuth>,
    /// Legacy basic auth options.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub basic_auth_user: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub basic_auth_password: Option<String>,
}

/// Kestra's `options.timeout`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpTimeouts {
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub connect_timeout: Option<chrono::Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub read_idle_timeout: Option<chrono::Duration>,
}

/// Kestra's `options.auth`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpAuth {
    #[serde(default, rename = "type", deserialize_with = "de::opt_string_lenient")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub password: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub token: Option<String>,
}

/// Applies `options.auth` (or the legacy basic auth options). A password
/// or token is masked when it came from `secret()`, as everywhere; a plain
/// value written in the flow is not (Kestra masks only secrets).
pub fn with_auth(rb: RequestBuilder, options: &HttpOptions) -> Result<RequestBuilder, TaskError> {
    if let Some(a) = &options.auth {
        let kind = a.kind.as_deref().unwrap_or(if a.token.is_some() { "BEARER" } else { "BASIC" });
        return match kind.trim().to_ascii_uppercase().as_str() {
            "BEARER" => {
                let token =
                    a.token.as_deref().ok_or_else(|| TaskError::property("options.auth.token", "is required"))?;
                Ok(rb.bearer_auth(token))
            }
            "BASIC" => {
                let user = a.username.as_deref().unwrap_or_default();
                Ok(rb.basic_auth(user, a.password.as_deref()))
            }
            other => Err(TaskError::property(
                "options.auth.type",
                format!("unknown authentication type '{other}' (expected BASIC or BEARER)"),
            )),
        };
    }
    if let Some(user) = &options.basic_auth_user {
        return Ok(rb.basic_auth(user, options.basic_auth_password.as_deref()));
    }
    Ok(rb)
}

/// The URL of `path` on a service's API: the base URL the setting
/// `setting` gives (`configured`), else `default`. A bad setting is an
/// error naming the setting, not a property of the task.
pub fn api_url(setting: &str, configured: Option<&str>, default: &str, path: &str) -> Result<Url, TaskError> {
    let base = configured.unwrap_or(default).trim().trim_end_matches('/');
    let bad =
        |why: String| TaskError::failed(format!("the setting {setting} ('{base}') is not an http(s) base URL: {why}"));
    let url = Url::parse(&format!("{base}{path}")).map_err(|e| bad(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        s => Err(bad(format!("unsupported scheme '{s}'"))),
    }
}

/// Parses an `http`/`https` URI.
pub fn parse_uri(property: &str, uri: &str) -> Result<Url, TaskError> {
    let url =
        Url::parse(uri.trim()).map_err(|e| TaskError::property(property, format!("'{uri}' is not a URL: {e}")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        s => Err(TaskError::property(property, format!("'{uri}': unsupported scheme '{s}' (expected http or https)"))),
    }
}

/// Parses an HTTP method (default GET).
pub fn parse_method(method: Option<&str>) -> Result<Method, TaskError> {
    let m = method.map(str::trim).filter(|m| !m.is_empty()).unwrap_or("GET").to_ascii_uppercase();
    Method::from_bytes(m.as_bytes()).map_err(|_| TaskError::property("method", format!("'{m}' is not an HTTP method")))
}

/// Adds headers to a request, skipping the names in `skip` (lower case).
pub fn add_headers(
    mut rb: RequestBuilder,
    headers: &[(String, Vec<String>)],
    skip: &[&str],
) -> Result<RequestBuilder, TaskError> {
    for (k, vals) in headers {
        if skip.contains(&k.to_ascii_lowercase().as_str()) {
            continue;
        }
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| TaskError::property("headers", format!("'{k}' is not a valid header name")))?;
        for v in vals {
            let value = HeaderValue::from_str(v)
                .map_err(|_| TaskError::property("headers", format!("the value of header '{k}' is not valid")))?;
            rb = rb.header(name.clone(), value);
        }
    }
    Ok(rb)
}

/// The value of header `name` (case-insensitive) among the task's headers.
pub fn find_header<'a>(headers: &'a [(String, Vec<String>)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.first()).map(String::as_str)
}

/// Applies `timeout` (or `options.readTimeout`, or
/// `options.timeout.readIdleTimeout`) to a request.
pub fn with_timeout(
    rb: RequestBuilder,
    timeout: Option<chrono::Duration>,
    options: &HttpOptions,
) -> Result<RequestBuilder, TaskError> {
    let idle = options.timeout.as_ref().and_then(|t| t.read_idle_timeout);
    match timeout.or(options.read_timeout).or(idle) {
        None => Ok(rb),
        Some(t) => {
            let t = t.to_std().map_err(|_| TaskError::property("timeout", "must not be negative"))?;
            Ok(rb.timeout(t))
        }
    }
}

fn host_port(url: &Url) -> String {
    format!("{}:{}", url.host_str().unwrap_or("?"), url.port_or_known_default().unwrap_or(0))
}

/// The error chain below a reqwest error, e.g. `tcp connect error: Connection refused`.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = s.source();
    }
    if parts.is_empty() { e.to_string() } else { parts.join(": ") }
}

/// A failed send, naming the host and port: `Failed to {what} '{uri}': …`.
pub fn send_error(what: &str, url: &Url, e: &reqwest::Error) -> TaskError {
    let why = if e.is_timeout() {
        "the request timed out".to_string()
    } else if e.is_connect() {
        format!("cannot connect to {}: {}", host_port(url), causes(e))
    } else {
        causes(e)
    };
    TaskError::failed(format!("Failed to {what} '{url}': {why}"))
}

/// Sends `rb` as one traced call (an `HTTP {method}` client span, the URL
/// without its query, where tokens travel, and the answer's status); a
/// failed send names the host: `Failed to {what} '{uri}': …`.
pub async fn send(rb: RequestBuilder, method: &Method, what: &str, url: &Url) -> Result<reqwest::Response, TaskError> {
    let span = baton_backend::io_span!(
        "http.request",
        otel.name = %format!("HTTP {method}"),
        otel.kind = "client",
        http.request.method = %method,
        url.full = %format!("{}{}", url.origin().ascii_serialization(), url.path()),
        http.response.status_code = tracing::field::Empty,
    );
    let resp = tracing::Instrument::instrument(rb.send(), span.clone()).await;
    let resp = resp.map_err(|e| send_error(what, url, &e))?;
    span.record("http.response.status_code", resp.status().as_u16());
    Ok(resp)
}

/// One call to a service's API (`what`: "Jenkins", "ServiceNow"…), sent
/// as [`send`] sends it: the answer's status and body, whatever the status;
/// an answer over `limit` bytes is an error naming the service, the call and
/// the bound.
pub async fn call(
    rb: RequestBuilder,
    method: &Method,
    what: &str,
    url: &Url,
    limit: u64,
) -> Result<(reqwest::StatusCode, Vec<u8>), TaskError> {
    let mut resp = send(rb, method, &format!("call {what} at"), url).await?;
    let status = resp.status();
    let (bytes, over) = read_limited(&mut resp, url, limit).await?;
    if over {
        return Err(TaskError::failed(format!("{what} answered {method} {} with over {limit} bytes", url.path())));
    }
    Ok((status, bytes))
}

/// An unsuccessful answer in the words of Kestra's HTTP client: `Request
/// failed '{status}' and body '{body}'` (its first 500 characters), with the
/// call it answered.
pub fn status_error(status: reqwest::StatusCode, body: &[u8], method: &Method, url: &Url) -> TaskError {
    let text: String = String::from_utf8_lossy(body).chars().take(500).collect();
    TaskError::failed(format!(
        "Request failed '{}' and body '{}' ({method} {})",
        status.as_u16(),
        text.trim(),
        url.path()
    ))
}

/// Reads `resp`'s body, at most `limit` bytes: the bytes, and whether more
/// were left unread (the answer is over the limit).
pub async fn read_limited(resp: &mut reqwest::Response, url: &Url, limit: u64) -> Result<(Vec<u8>, bool), TaskError> {
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| send_error("read the answer of", url, &e))? {
        let room = usize::try_from(limit).unwrap_or(usize::MAX).saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// Response headers as Kestra outputs them: name → list of values.
pub fn headers_output(headers: &HeaderMap) -> Value {
    let mut out: Map<String, Value> = Map::new();
    for (k, v) in headers {
        let v = Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned());
        match out.get_mut(k.as_str()) {
            Some(Value::Array(list)) => list.push(v),
            _ => {
                out.insert(k.as_str().to_string(), Value::Array(vec![v]));
            }
        }
    }
    Value::Object(out)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Decodes `%XX` escapes (invalid ones are kept as is).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `application/x-www-form-urlencoded` encoding of one component.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A safe file name: the last path component, without control characters;
/// `None` when nothing usable is left.
pub fn sanitize_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim().to_string();
    if clean.is_empty() || clean == "." || clean == ".." { None } else { Some(clean) }
}

/// The file name in a `Content-Disposition` header (`filename*` preferred).
pub fn content_disposition_filename(header: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for part in header.split(';').skip(1) {
        let Some((k, v)) = part.split_once('=') else { continue };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        if k == "filename*" {
            // RFC 5987: charset'lang'percent-encoded
            let enc = v.splitn(3, '\'').nth(2).unwrap_or(v);
            extended = sanitize_file_name(&percent_decode(enc.trim_matches('"')));
        } else if k == "filename" {
            plain = sanitize_file_name(v.trim_matches('"'));
        }
    }
    extended.or(plain)
}

/// The last non-empty path segment of a URL, decoded.
pub fn url_file_name(url: &Url) -> Option<String> {
    url.path_segments()?.rev().find(|s| !s.is_empty()).and_then(|s| sanitize_file_name(&percent_decode(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_base_url_setting_is_blamed_on_the_setting() {
        let url = api_url("BATON_X_BASE_URL", None, "https://api.x.com/", "/v1/a").unwrap();
        assert_eq!(url.as_str(), "https://api.x.com/v1/a");
        assert_eq!(
            api_url("S", Some("http://127.0.0.1:9/"), "https://d", "/p").unwrap().as_str(),
            "http://127.0.0.1:9/p"
        );
        let e = api_url("BATON_X_BASE_URL", Some("ftp://x"), "https://d", "/p").unwrap_err().to_string();
        assert!(e.contains("BATON_X_BASE_URL") && e.contains("ftp"), "{e}");
        let e = api_url("BATON_X_BASE_URL", Some("not a url"), "https://d", "/p").unwrap_err().to_string();
        assert!(e.contains("BATON_X_BASE_URL"), "{e}");
    }

    #[test]
    fn file_names() {
        assert_eq!(content_disposition_filename(r#"attachment; filename="data.csv""#).as_deref(), Some("data.csv"));
        assert_eq!(
            content_disposition_filename("attachment; filename=a.txt; filename*=UTF-8''na%C3%AFve%20file.txt")
                .as_deref(),
            Some("naïve file.txt")
        );
        assert_eq!(
            content_disposition_filename(r#"attachment; filename="../../etc/passwd""#).as_deref(),
            Some("passwd")
        );
        assert_eq!(content_disposition_filename("inline"), None);
        let u = Url::parse("https://x.io/trip/yellow_tripdata_2019-01.csv.gz?x=1").unwrap();
        assert_eq!(url_file_name(&u).as_deref(), Some("yellow_tripdata_2019-01.csv.gz"));
        assert_eq!(url_file_name(&Url::parse("https://x.io/").unwrap()), None);
        assert_eq!(url_file_name(&Url::parse("https://x.io/a/b%20c/").unwrap()).as_deref(), Some("b c"));
    }

    #[test]
    fn encodings() {
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%é%4"), "%é%4");
    }

    #[test]
    fn uris_and_methods() {
        assert!(parse_uri("uri", "ftp://x").is_err());
        assert!(parse_uri("uri", "not a url").is_err());
        assert!(parse_uri("uri", "https://x.io/a").is_ok());
        assert_eq!(parse_method(None).unwrap(), Method::GET);
        assert_eq!(parse_method(Some("post")).unwrap(), Method::POST);
        assert!(parse_method(Some("BAD METHOD")).is_err());
    }

    #[test]
    fn timeouts_come_from_the_task_the_flat_options_or_options_timeout() {
        let timeout_of = |task: Option<i64>, options: serde_json::Value| {
            let options: HttpOptions = serde_json::from_value(options).unwrap();
            let rb = reqwest::Client::new().get("http://127.0.0.1:1/");
            let rb = with_timeout(rb, task.map(chrono::Duration::seconds), &options).unwrap();
            rb.build().unwrap().timeout().map(|d| d.as_secs())
        };
        assert_eq!(timeout_of(None, serde_json::json!({})), None);
        assert_eq!(timeout_of(None, serde_json::json!({"timeout": {"readIdleTimeout": "PT7S"}})), Some(7));
        assert_eq!(
            timeout_of(None, serde_json::json!({"readTimeout": "PT5S", "timeout": {"readIdleTimeout": "PT7S"}})),
            Some(5)
        );
        assert_eq!(timeout_of(Some(3), serde_json::json!({"timeout": {"readIdleTimeout": "PT7S"}})), Some(3));
    }
}
