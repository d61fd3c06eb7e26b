//! The BigQuery Storage Write API over gRPC for `bigquery.StorageWrite`,
//! with the client `gcp-bigquery-client` generates from Google's protos: a
//! channel to `bigquerystorage.googleapis.com` (TLS, the task's bearer
//! token, its project as quota project, as Kestra's client sets it), or to
//! the emulator `BIGQUERY_STORAGE_EMULATOR_HOST` names (plaintext, no
//! token). [`WriteApi`] makes the unary calls (CreateWriteStream,
//! FinalizeWriteStream, BatchCommitWriteStreams), each bounded by
//! [`CALL_TIMEOUT`]; [`Appender`] sends AppendRows requests on one
//! bidirectional stream, at most [`MAX_IN_FLIGHT`] unanswered (Kestra's
//! `MAX_IN_FLIGHT_APPENDS`), the first carrying the writer schema; the
//! first error answered (or a stream failure) stops the next send and is
//! what [`Appender::finish`] returns. An answer awaited longer than
//! [`ANSWER_TIMEOUT`] while appends are outstanding fails the stream.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::SinkExt;
use futures::channel::mpsc;
use gcp_bigquery_client::google::cloud::bigquery::storage::v1 as wapi;
use tokio::sync::Semaphore;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use wapi::append_rows_request::{ProtoData, Rows};
use wapi::big_query_write_client::BigQueryWriteClient;

/// Google's Storage Write API.
const PRODUCTION: &str = "https://bigquerystorage.googleapis.com";
const DOMAIN: &str = "bigquerystorage.googleapis.com";
/// The largest message sent or received (an append is at most 10 MB).
const MAX_MESSAGE: usize = 20 * 1024 * 1024;
/// Appends sent and not answered yet, at most (Kestra's bound).
pub const MAX_IN_FLIGHT: usize = 20;
/// One unary call, at most.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The wait for the next append answer while some are outstanding.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A gRPC failure as text: its code and message.
fn status_text(s: &tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

/// A connection to the Storage Write API.
#[derive(Clone)]
pub struct WriteApi {
    client: BigQueryWriteClient<Channel>,
    token: Option<String>,
    quota_project: Option<String>,
}

impl WriteApi {
    /// Connects to `emulator` (`http://host:port`, no credentials) or to
    /// Google with `token` and `quota_project`.
    pub async fn connect(
        emulator: Option<&str>,
        token: Option<String>,
        quota_project: Option<String>,
    ) -> Result<WriteApi, String> {
        let target = emulator.unwrap_or(PRODUCTION);
        let bad = |e: tonic::transport::Error| format!("cannot connect to the Storage Write API at {target}: {e}");
        let mut endpoint = Endpoint::from_shared(target.to_string()).map_err(bad)?.connect_timeout(CONNECT_TIMEOUT);
        if emulator.is_none() {
            endpoint =
                endpoint.tls_config(ClientTlsConfig::new().domain_name(DOMAIN).with_enabled_roots()).map_err(bad)?;
        }
        let channel = endpoint.connect().await.map_err(bad)?;
        let mut client = BigQueryWriteClient::new(channel)
            .max_encoding_message_size(MAX_MESSAGE)
            .max_decoding_message_size(MAX_MESSAGE)
            .accept_compressed(CompressionEncoding::Gzip);
        if emulator.is_none() {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        Ok(WriteApi { client, token, quota_project: quota_project.filter(|_| emulator.is_none()) })
    }

    /// `message` with the call's metadata: the token, the quota project and
    /// Google's routing header (`name=value`, the value percent-encoded).
    fn request<T>(&self, message: T, param: (&str, &str)) -> Result<tonic::Request<T>, String> {
        let mut r = tonic::Request::new(message);
        let md = r.metadata_mut();
        let value =
            |v: String| v.parse().map_err(|_| "a header value for the Storage Write API is not ASCII".to_string());
        if let Some(t) = &self.token {
            md.insert("authorization", value(format!("Bearer {t}"))?);
        }
        if let Some(p) = &self.quota_project {
            md.insert("x-goog-user-project", value(p.clone())?);
        }
        let encoded: String = param
            .1
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect();
        md.insert("x-goog-request-params", value(format!("{}={encoded}", param.0))?);
        Ok(r)
    }

    /// A unary request bounded by [`CALL_TIMEOUT`].
    fn unary<T>(&self, message: T, param: (&str, &str)) -> Result<tonic::Request<T>, String> {
        let mut r = self.request(message, param)?;
        r.set_timeout(CALL_TIMEOUT);
        Ok(r)
    }

    /// CreateWriteStream: a new stream of `kind` on table `parent`; its name.
    pub async fn create_stream(&self, parent: &str, kind: wapi::write_stream::Type) -> Result<String, String> {
        let stream = wapi::WriteStream { r#type: kind as i32, ..wapi::WriteStream::default() };
        let req = wapi::CreateWriteStreamRequest { parent: parent.to_string(), write_stream: Some(stream) };
        let r = self.client.clone().create_write_stream(self.unary(req, ("parent", parent))?).await;
        Ok(r.map_err(|s| format!("cannot create a write stream on {parent}: {}", status_text(&s)))?.into_inner().name)
    }

    /// FinalizeWriteStream: the rows the stream holds.
    pub async fn finalize(&self, stream: &str) -> Result<i64, String> {
        let req = wapi::FinalizeWriteStreamRequest { name: stream.to_string() };
        let r = self.client.clone().finalize_write_stream(self.unary(req, ("name", stream))?).await;
        Ok(r.map_err(|s| format!("cannot finalize {stream}: {}", status_text(&s)))?.into_inner().row_count)
    }

    /// BatchCommitWriteStreams of `stream` on `parent`: the commit time
    /// (epoch seconds), or the stream errors' messages.
    pub async fn commit(&self, parent: &str, stream: &str) -> Result<Result<i64, Vec<String>>, String> {
        let req = wapi::BatchCommitWriteStreamsRequest {
            parent: parent.to_string(),
            write_streams: vec![stream.to_string()],
        };
        let r = self.client.clone().batch_commit_write_streams(self.unary(req, ("parent", parent))?).await;
        let r = r.map_err(|s| format!("cannot commit {stream}: {}", status_text(&s)))?.into_inner();
        Ok(match r.commit_time {
            Some(t) => Ok(t.seconds),
            None => Err(r.stream_errors.into_iter().map(|e| e.error_message).collect()),
        })
    }

    /// An appender of rows to `stream`, whose rows are of `schema`.
    pub fn appender(&self, stream: &str, schema: wapi::ProtoSchema) -> Appender {
        Appender {
            api: self.clone(),
            stream: stream.to_string(),
            schema: Some(schema),
            tx: None,
            answers: None,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            outstanding: Arc::new(AtomicUsize::new(0)),
            failure: Arc::default(),
        }
    }
}

/// Aborts the task reading the answers when the appender goes away.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), String>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Rows appended on one AppendRows stream.
pub struct Appender {
    api: WriteApi,
    stream: String,
    /// The writer schema, sent with the first request.
    schema: Option<wapi::ProtoSchema>,
    tx: Option<mpsc::Sender<wapi::AppendRowsRequest>>,
    answers: Option<AbortOnDrop>,
    permits: Arc<Semaphore>,
    outstanding: Arc<AtomicUsize>,
    failure: Arc<Mutex<Option<String>>>,
}

impl Appender {
    fn failure(&self) -> String {
        self.failure
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_else(|| "the AppendRows stream ended before every append was answered".into())
    }

    /// Sends `rows` (encoded messages) as one append, once fewer than
    /// [`MAX_IN_FLIGHT`] are unanswered; fails with an earlier append's error.
    pub async fn send(&mut self, rows: Vec<Vec<u8>>) -> Result<(), String> {
        match self.permits.acquire().await {
            Ok(p) => p.forget(),
            Err(_) => return Err(self.failure()),
        }
        let request = wapi::AppendRowsRequest {
            write_stream: self.stream.clone(),
            rows: Some(Rows::ProtoRows(ProtoData {
                writer_schema: self.schema.take(),
                rows: Some(wapi::ProtoRows { serialized_rows: rows }),
            })),
            ..wapi::AppendRowsRequest::default()
        };
        if self.tx.is_none() {
            self.start()?;
        }
        self.outstanding.fetch_add(1, Ordering::SeqCst);
        let tx = self.tx.as_mut().ok_or("the AppendRows stream is closed")?;
        if tx.send(request).await.is_err() {
            return Err(self.failure());
        }
        Ok(())
    }

    /// Opens the AppendRows stream and the task reading its answers.
    fn start(&mut self) -> Result<(), String> {
        let (tx, rx) = mpsc::channel::<wapi::AppendRowsRequest>(MAX_IN_FLIGHT);
        let request = self.api.request(rx, ("write_stream", &self.stream))?;
        let mut client = self.api.client.clone();
        let (permits, outstanding, failure) = (self.permits.clone(), self.outstanding.clone(), self.failure.clone());
        let handle = tokio::spawn(async move {
            let result = async {
                let opened = tokio::time::timeout(ANSWER_TIMEOUT, client.append_rows(request))
                    .await
                    .map_err(|_| format!("AppendRows did not answer in {} s", ANSWER_TIMEOUT.as_secs()))?;
                let mut answers = opened.map_err(|s| status_text(&s))?.into_inner();
                loop {
                    let next = match tokio::time::timeout(ANSWER_TIMEOUT, answers.message()).await {
                        Ok(n) => n.map_err(|s| status_text(&s))?,
                        Err(_) if outstanding.load(Ordering::SeqCst) == 0 => continue,
                        Err(_) => return Err(format!("an append was not answered in {} s", ANSWER_TIMEOUT.as_secs())),
                    };
                    let Some(answer) = next else { return Ok(()) };
                    answer_error(&answer)?;
                    outstanding.fetch_sub(1, Ordering::SeqCst);
                    permits.add_permits(1);
                }
            }
            .await;
            if let Err(e) = &result {
                if let Ok(mut f) = failure.lock() {
                    f.get_or_insert_with(|| e.clone());
                }
                permits.close();
            }
            result
        });
        self.tx = Some(tx);
        self.answers = Some(AbortOnDrop(handle));
        Ok(())
    }

    /// Closes the stream and waits for every answer; the first error.
    pub async fn finish(mut self) -> Result<(), String> {
        drop(self.tx.take());
        let Some(mut answers) = self.answers.take() else { return Ok(()) };
        let result = match (&mut answers.0).await {
            Ok(r) => r,
            Err(e) => Err(format!("the AppendRows stream failed: {e}")),
        };
        if result.is_ok() && self.outstanding.load(Ordering::SeqCst) > 0 {
            return Err(self.failure());
        }
        result
    }
}

/// An append's answer as an error, when it is one: its status and the
/// rows it names.
fn answer_error(a: &wapi::AppendRowsResponse) -> Result<(), String> {
    use wapi::append_rows_response::Response;
    let rows: Vec<String> = a.row_errors.iter().map(|r| format!("row {}: {}", r.index, r.message)).collect();
    match &a.response {
        Some(Response::Error(s)) => {
            let mut text = format!("{:?}: {}", tonic::Code::from_i32(s.code), s.message);
            if !rows.is_empty() {
                text.push_str(&format!(" ({})", rows.join("; ")));
            }
            Err(text)
        }
        _ if !rows.is_empty() => Err(rows.join("; ")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_errors_name_them() {
        use wapi::append_rows_response::Response;
        let ok = wapi::AppendRowsResponse {
            response: Some(Response::AppendResult(Default::default())),
            ..Default::default()
        };
        assert!(answer_error(&ok).is_ok());
        let bad = wapi::AppendRowsResponse {
            response: Some(Response::Error(gcp_bigquery_client::google::rpc::Status {
                code: 3,
                message: "bad row".into(),
                details: vec![],
            })),
            row_errors: vec![wapi::RowError { index: 2, code: 1, message: "not an int".into() }],
            ..Default::default()
        };
        assert_eq!(answer_error(&bad).unwrap_err(), "InvalidArgument: bad row (row 2: not an int)");
    }
}
