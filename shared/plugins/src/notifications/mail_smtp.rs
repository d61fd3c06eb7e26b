//! Builds a mail task's message (addresses, the HTML and text bodies,
//! embedded images and attachments read from internal storage, at most
//! `MAX_MAIL_FILES_BYTES` in all) and sends it over SMTP with lettre (tokio,
//! rustls), as Kestra's Simple Java Mail does: the transport strategy, the
//! session timeout, the server identity check, the trusted hosts, and a
//! `Return-Receipt-To` header naming the sender.

use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::mail::Smtp;
use crate::{RunContext, TaskError};

use crate::config::MAX_MAIL_FILES_BYTES as MAX_FILES_BYTES;

/// The text body when none is given (an HTML-only message still offers one).
const NO_TEXT: &str = "This message is in HTML: open it in a mail client that shows HTML.";

/// The bodies of a message.
#[derive(Debug, Default)]
pub struct Content {
    pub html: Option<String>,
    pub text: Option<String>,
}

/// One attachment or embedded image as written.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    pub uri: String,
    pub name: String,
    pub content_type: String,
}

/// `Return-Receipt-To`, which Kestra's mailer sets to the sender.
#[derive(Debug, Clone)]
struct ReturnReceiptTo(String);

impl Header for ReturnReceiptTo {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Return-Receipt-To")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ReturnReceiptTo(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Strategy {
    Smtp,
    Smtps,
    SmtpTls,
}

fn strategy(s: &Smtp) -> Result<Strategy, TaskError> {
    match s.transport_strategy.as_deref().map(|t| t.trim().to_ascii_uppercase()).as_deref() {
        None | Some("SMTPS") => Ok(Strategy::Smtps),
        Some("SMTP") => Ok(Strategy::Smtp),
        Some("SMTP_TLS") => Ok(Strategy::SmtpTls),
        Some(other) => Err(TaskError::property(
            "transportStrategy",
            format!("'{other}' is not supported (expected SMTP, SMTPS or SMTP_TLS)"),
        )),
    }
}

/// What can be checked before the task runs.
pub fn check(s: &Smtp) -> Result<(), TaskError> {
    strategy(s)?;
    if let Some(p) = s.port
        && u16::try_from(p).is_err()
    {
        return Err(TaskError::property("port", format!("{p} is not a TCP port")));
    }
    mailbox("from", &s.from)?;
    addresses("to", &s.to)?;
    if let Some(cc) = &s.cc {
        addresses("cc", cc)?;
    }
    files("attachments", s.attachments.as_ref())?;
    files("embeddedImages", s.embedded_images.as_ref())?;
    Ok(())
}

fn mailbox(property: &str, text: &str) -> Result<Mailbox, TaskError> {
    text.trim()
        .parse()
        .map_err(|e| TaskError::property(property, format!("'{}' is not an email address: {e}", text.trim())))
}

/// Addresses separated by `;` or `,`.
pub fn addresses(property: &str, text: &str) -> Result<Vec<Mailbox>, TaskError> {
    let list: Vec<Mailbox> = text
        .split([';', ','])
        .filter(|a| !a.trim().is_empty())
        .map(|a| mailbox(property, a))
        .collect::<Result<_, _>>()?;
    if list.is_empty() && property == "to" {
        return Err(TaskError::property(property, "names no address"));
    }
    Ok(list)
}

/// `attachments` / `embeddedImages` as written: a list of maps, one map, or
/// the JSON of either (or a JSON string holding it).
pub fn files(property: &str, v: Option<&Value>) -> Result<Vec<FileRef>, TaskError> {
    let bad = |m: String| TaskError::property(property, m);
    let v = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(Vec::new());
            }
            let parsed: Value = serde_json::from_str(t).map_err(|e| bad(format!("not a list of files: {e}")))?;
            match parsed {
                Value::String(inner) => {
                    serde_json::from_str(&inner).map_err(|e| bad(format!("not a list of files: {e}")))?
                }
                other => other,
            }
        }
        Some(v) => v.clone(),
    };
    let items = match v {
        Value::Array(items) => items,
        Value::Object(_) => vec![v],
        other => return Err(bad(format!("expected a list of {{uri, name, contentType}}, found {other}"))),
    };
    items
        .iter()
        .map(|i| {
            let field = |k: &str| i.get(k).and_then(Value::as_str).map(str::to_string);
            Ok(FileRef {
                uri: field("uri").ok_or_else(|| bad(format!("a file has no 'uri': {i}")))?,
                name: field("name").ok_or_else(|| bad(format!("a file has no 'name': {i}")))?,
                content_type: field("contentType").unwrap_or_else(|| "application/octet-stream".to_string()),
            })
        })
        .collect()
}

/// Reads the files from internal storage, `total` counting every byte read.
pub async fn read_files(
    cx: &RunContext,
    property: &str,
    refs: &[FileRef],
    total: &mut u64,
) -> Result<Vec<(FileRef, Vec<u8>)>, TaskError> {
    let mut out = Vec::new();
    for f in refs {
        let path = cx.readable_path(property, &f.uri)?;
        let stream = cx
            .services
            .storage
            .get(&path)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", f.uri)))?;
        let left = MAX_FILES_BYTES.saturating_sub(*total);
        let mut data = Vec::new();
        stream
            .take(left + 1)
            .read_to_end(&mut data)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", f.uri)))?;
        *total += data.len() as u64;
        if *total > MAX_FILES_BYTES {
            return Err(TaskError::failed(format!(
                "the attachments and embedded images of one mail may hold at most {MAX_FILES_BYTES} bytes (MAX_MAIL_FILES_BYTES); {} goes past it",
                f.uri
            )));
        }
        out.push((f.clone(), data));
    }
    Ok(out)
}

fn content_type(property: &str, f: &FileRef) -> Result<ContentType, TaskError> {
    ContentType::parse(&f.content_type)
        .map_err(|e| TaskError::property(property, format!("'{}' is not a content type: {e}", f.content_type)))
}

/// The message (`images` are embedded as `cid:<name>`).
pub fn message(
    s: &Smtp,
    content: Content,
    images: Vec<(FileRef, Vec<u8>)>,
    attachments: Vec<(FileRef, Vec<u8>)>,
) -> Result<Message, TaskError> {
    let from = mailbox("from", &s.from)?;
    let mut b = Message::builder().from(from.clone()).header(ReturnReceiptTo(from.to_string()));
    for to in addresses("to", &s.to)? {
        b = b.to(to);
    }
    for cc in addresses("cc", s.cc.as_deref().unwrap_or_default())? {
        b = b.cc(cc);
    }
    if let Some(subject) = &s.subject {
        b = b.subject(subject.clone());
    }
    let text = SinglePart::plain(content.text.unwrap_or_else(|| NO_TEXT.to_string()));
    let mut inline = Vec::new();
    for (f, data) in images {
        inline.push(Attachment::new_inline(f.name.clone()).body(data, content_type("embeddedImages", &f)?));
    }
    let with_images = |first: SinglePart, inline: Vec<SinglePart>| {
        inline.into_iter().fold(MultiPart::related().singlepart(first), |m, p| m.singlepart(p))
    };
    enum Body {
        One(SinglePart),
        Many(MultiPart),
    }
    let body = match content.html {
        Some(html) if inline.is_empty() => {
            Body::Many(MultiPart::alternative().singlepart(text).singlepart(SinglePart::html(html)))
        }
        Some(html) => {
            Body::Many(MultiPart::alternative().singlepart(text).multipart(with_images(SinglePart::html(html), inline)))
        }
        None if inline.is_empty() => Body::One(text),
        None => Body::Many(with_images(text, inline)),
    };
    let built = if attachments.is_empty() {
        match body {
            Body::One(p) => b.singlepart(p),
            Body::Many(m) => b.multipart(m),
        }
    } else {
        let mut mixed = match body {
            Body::One(p) => MultiPart::mixed().singlepart(p),
            Body::Many(m) => MultiPart::mixed().multipart(m),
        };
        for (f, data) in attachments {
            mixed = mixed.singlepart(Attachment::new(f.name.clone()).body(data, content_type("attachments", &f)?));
        }
        b.multipart(mixed)
    };
    built.map_err(|e| TaskError::failed(format!("cannot build the message: {e}")))
}

/// The transport to `s.host` as configured.
fn transport(s: &Smtp) -> Result<AsyncSmtpTransport<Tokio1Executor>, TaskError> {
    let strategy = strategy(s)?;
    let host = s.host.trim().to_string();
    let trusted = s.trusted_hosts.iter().any(|h| h.trim().eq_ignore_ascii_case(&host));
    if !s.trusted_hosts.is_empty() && !trusted && strategy != Strategy::Smtp {
        return Err(TaskError::property(
            "trustedHosts",
            format!("the server '{host}' is not one of the trusted hosts {:?}", s.trusted_hosts),
        ));
    }
    let tls = TlsParameters::builder(host.clone())
        .dangerous_accept_invalid_hostnames(!s.verify_server_identity.unwrap_or(true) || trusted)
        .dangerous_accept_invalid_certs(trusted)
        .build_rustls()
        .map_err(|e| TaskError::failed(format!("cannot set up TLS for {host}: {e}")))?;
    let (tls, default_port) = match strategy {
        Strategy::Smtp => (Tls::Opportunistic(tls), 25),
        Strategy::SmtpTls => (Tls::Required(tls), 587),
        Strategy::Smtps => (Tls::Wrapper(tls), 465),
    };
    let port = s.port.and_then(|p| u16::try_from(p).ok()).unwrap_or(default_port);
    let timeout = Duration::from_millis(s.session_timeout.unwrap_or(10_000));
    let mut b =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port).tls(tls).timeout(Some(timeout));
    if let Some(user) = &s.username {
        b = b.credentials(Credentials::new(user.clone(), s.password.clone().unwrap_or_default()));
    }
    Ok(b.build())
}

/// Builds the message and sends it.
pub async fn send(cx: &RunContext, s: &Smtp, content: Content) -> Result<(), TaskError> {
    let mut total = 0;
    let images =
        read_files(cx, "embeddedImages", &files("embeddedImages", s.embedded_images.as_ref())?, &mut total).await?;
    let attachments = read_files(cx, "attachments", &files("attachments", s.attachments.as_ref())?, &mut total).await?;
    let message = message(s, content, images, attachments)?;
    let transport = transport(s)?;
    cx.log("DEBUG", &format!("Sending an email to {}", s.to));
    transport.send(message).await.map_err(|e| {
        let port = s.port.map_or_else(String::new, |p| format!(":{p}"));
        TaskError::failed(format!("cannot send the mail through {}{port}: {e}", s.host.trim()))
    })?;
    cx.info(&format!("Mail sent to {}", s.to));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_are_a_list_a_map_or_their_json() {
        let one = FileRef { uri: "kestra:///a.csv".into(), name: "a.csv".into(), content_type: "text/csv".into() };
        let list = json!([{"uri": "kestra:///a.csv", "name": "a.csv", "contentType": "text/csv"}]);
        assert_eq!(files("attachments", Some(&list)).unwrap(), vec![one.clone()]);
        assert_eq!(files("attachments", Some(&json!(list.to_string()))).unwrap(), vec![one.clone()]);
        assert_eq!(files("attachments", Some(&json!(json!(list.to_string()).to_string()))).unwrap(), vec![one]);
        let m = files("attachments", Some(&json!({"uri": "kestra:///b", "name": "b"}))).unwrap();
        assert_eq!(m[0].content_type, "application/octet-stream");
        assert!(files("attachments", Some(&json!([{"name": "b"}]))).unwrap_err().to_string().contains("uri"));
    }

    #[test]
    fn an_html_only_message_offers_a_text_part_and_asks_for_a_receipt() {
        let s: Smtp = serde_json::from_value(json!({
            "host": "127.0.0.1", "from": "Baton <b@x.io>", "to": "a@x.io;c@x.io", "subject": "S"
        }))
        .unwrap();
        check(&s).unwrap();
        let m = message(&s, Content { html: Some("<p>hi</p>".into()), text: None }, vec![], vec![]).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("Return-Receipt-To: Baton <b@x.io>"), "{raw}");
        assert!(raw.contains("To: a@x.io, c@x.io"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains(NO_TEXT) && raw.contains("<p>hi</p>"), "{raw}");
        let bad: Smtp = serde_json::from_value(json!({
            "host": "h", "from": "b@x.io", "to": "a@x.io", "transportStrategy": "SMTP_OAUTH2"
        }))
        .unwrap();
        assert!(check(&bad).unwrap_err().to_string().contains("transportStrategy"));
    }

    #[test]
    fn addresses_are_split_on_semicolons_and_commas() {
        let a = addresses("to", "a@x.io; Bob <b@x.io>,c@x.io").unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[1].email.to_string(), "b@x.io");
        assert!(addresses("to", "not an address").is_err());
        assert!(addresses("to", " ; ").is_err());
    }
}
