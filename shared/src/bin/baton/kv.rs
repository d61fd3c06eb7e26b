//! `baton kv set|get|list|delete --namespace NS`: the embedded KV store.
//! `set`'s value may be `@FILE` (the file's content) or `-` (stdin).

use std::path::Path;

use anyhow::{Context, bail};
use chrono::Utc;
use serde_json::Value;
use shared::backend::local::SqliteStore;
use shared::backend::{KvLookup, KvStore, KvType, KvValue};
use shared::model::duration::parse_iso;

use super::args::KvCommand;

pub async fn kv(home: &Path, cmd: KvCommand) -> anyhow::Result<i32> {
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    let store = SqliteStore::open(&home.join("baton.db"))?;
    let now = Utc::now();
    match cmd {
        KvCommand::Set { namespace, key, value, kind, ttl } => {
            let value = read_value(&value)?;
            let v = typed(&value, kind.as_deref())?;
            let expires = match ttl {
                Some(t) => Some(now + parse_iso(&t).map_err(anyhow::Error::msg)?),
                None => None,
            };
            store.set(&namespace, &key, &v, expires, true, now).await?;
            eprintln!("set {namespace}/{key} ({:?})", v.kind);
        }
        KvCommand::Get { namespace, key } => match store.get(&namespace, &key, now).await? {
            KvLookup::Found(v) => match v.value {
                Value::String(s) => println!("{s}"),
                other => println!("{other}"),
            },
            KvLookup::Missing => {
                eprintln!("key '{key}' not found in namespace '{namespace}'");
                return Ok(1);
            }
            KvLookup::Expired => {
                eprintln!("key '{key}' in namespace '{namespace}' has expired");
                return Ok(1);
            }
        },
        KvCommand::List { namespace, json } => {
            let list = store.list(&namespace, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in list {
                    println!(
                        "{} {:?} {}",
                        e.key,
                        e.kind,
                        e.expiration_date.map(|d| d.to_rfc3339()).unwrap_or_default()
                    );
                }
            }
        }
        KvCommand::Delete { namespace, key } => {
            let existed = store.delete(&namespace, &key).await?;
            println!("{existed}");
        }
    }
    Ok(0)
}

/// The value as given, or, as `curl -d` reads it, the content of the file
/// `@PATH` or of stdin (`-`), one trailing newline dropped; `@@…` is a
/// literal value starting with `@`.
fn read_value(value: &str) -> anyhow::Result<String> {
    let text = if let Some(rest) = value.strip_prefix("@@") {
        return Ok(format!("@{rest}"));
    } else if let Some(path) = value.strip_prefix('@') {
        std::fs::read_to_string(path).with_context(|| format!("cannot read the value from '{path}'"))?
    } else if value == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("cannot read the value from stdin")?;
        s
    } else {
        return Ok(value.to_string());
    };
    let trimmed = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t));
    Ok(trimmed.unwrap_or(&text).to_string())
}

/// Parses a CLI value with an optional Kestra KV type. Without one, the
/// value is read as the API reads a `PUT /kv` body ([`kv_value`]): JSON
/// when it parses (`'"yes"'` is the string `yes`, `42` a number), else a
/// date, date-time, duration or plain text.
fn typed(value: &str, kind: Option<&str>) -> anyhow::Result<KvValue> {
    let kind = match kind {
        Some(k) => serde_json::from_value::<KvType>(Value::String(k.to_ascii_uppercase())).map_err(|_| {
            anyhow::anyhow!("unknown KV type '{k}' (STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON)")
        })?,
        None => return Ok(shared::api::kv::kv_value(value.as_bytes())),
    };
    let v = match kind {
        KvType::String | KvType::Datetime | KvType::Date | KvType::Duration => Value::String(value.to_string()),
        KvType::Number | KvType::Boolean | KvType::Json => match serde_json::from_str(value) {
            Ok(v) => v,
            Err(e) => bail!("'{value}' is not a valid {kind:?} value: {e}"),
        },
    };
    Ok(KvValue { kind, value: v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untyped_value_is_read_as_the_api_reads_a_body() {
        let v = typed("\"yes\"", None).expect("typed");
        assert_eq!((v.kind, v.value), (KvType::String, Value::String("yes".into())), "the quotes are JSON's");
        assert_eq!(typed("yes", None).expect("typed").value, Value::String("yes".into()));
        assert_eq!(typed("42", None).expect("typed").kind, KvType::Number);
        assert_eq!(typed("[1, 2]", None).expect("typed").kind, KvType::Json);
        assert_eq!(typed("2024-05-06", None).expect("typed").kind, KvType::Date);
        assert_eq!(typed("\"yes\"", Some("string")).expect("typed").value, Value::String("\"yes\"".into()));
    }
}
