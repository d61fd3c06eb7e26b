//! `io.kestra.plugin.core.storage.Reverse` (`from`, `separator` written
//! after each line, `\n` by default; `charset` UTF-8 only) → output `uri`:
//! the file's lines last first, with the source's extension. The source
//! is copied to the working directory and read backwards block by block,
//! so memory stays bounded whatever its size.
//!
//! `io.kestra.plugin.core.kv.GetKeys` (`prefix`, `namespace` — the flow's
//! by default) → output `keys`: the live keys of the namespace's KV store
//! starting with the prefix, sorted.

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use super::split::extension_of;
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Bytes read backwards at a time.
const BLOCK: u64 = 64 * 1024;

/// Reverse the lines of a stored file.
///
/// Writes a new file of internal storage with the lines of `from` in reverse order.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.storage.Reverse",
    aliases = ["io.kestra.core.tasks.storages.Reverse"],
    group = "core",
    example = "id: reversed\ntype: io.kestra.plugin.core.storage.Reverse\nfrom: \"{{ outputs.report.uri }}\"\n",
    outputs(
        uri(String, "The reversed file.")
    ),
)]
struct ReverseProps {
    /// The file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The line separator.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"\\n\"")]
    separator: Option<String>,
    /// The file's character set.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"UTF-8\"")]
    charset: Option<String>,
}

/// `storage.Reverse`.
#[derive(Debug)]
pub struct Reverse {
    from: String,
    separator: String,
}

fn build_reverse(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ReverseProps = parse_props(props)?;
    if let Some(c) = p.charset.as_deref().map(str::trim)
        && !matches!(c.to_ascii_uppercase().as_str(), "UTF-8" | "UTF8")
    {
        return Err(TaskError::property("charset", format!("'{c}' is not supported: Baton reads UTF-8 only")));
    }
    Ok(Box::new(Reverse { from: p.from, separator: p.separator.unwrap_or_else(|| "\n".into()) }))
}

/// Writes the lines of `src` (split on `\n`, a `\r` before it dropped) to
/// `dst` last first, each followed by `sep`.
fn reverse_lines(src: &mut std::fs::File, dst: &mut impl Write, sep: &[u8]) -> std::io::Result<()> {
    let mut pos = src.seek(SeekFrom::End(0))?;
    // the bytes of the line being assembled, reversed
    let mut tail: Vec<u8> = Vec::new();
    let mut first = true;
    let emit = |line_rev: &mut Vec<u8>, dst: &mut dyn Write| -> std::io::Result<()> {
        line_rev.reverse();
        if line_rev.last() == Some(&b'\r') {
            line_rev.pop();
        }
        dst.write_all(line_rev)?;
        dst.write_all(sep)?;
        line_rev.clear();
        Ok(())
    };
    let mut block = vec![0u8; BLOCK as usize];
    while pos > 0 {
        let n = BLOCK.min(pos);
        pos -= n;
        src.seek(SeekFrom::Start(pos))?;
        let buf = &mut block[..n as usize];
        src.read_exact(buf)?;
        for &b in buf.iter().rev() {
            if b == b'\n' {
                // the file's final newline ends the last line, it starts none
                if !(first && tail.is_empty()) {
                    emit(&mut tail, dst)?;
                }
            } else {
                tail.push(b);
            }
            first = false;
        }
    }
    if !tail.is_empty() {
        emit(&mut tail, dst)?;
    }
    Ok(())
}

#[async_trait]
impl RunnableTask for Reverse {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let path = cx.readable_path("from", &self.from)?;
        let io = |e: std::io::Error| TaskError::failed(format!("cannot reverse {}: {e}", self.from.trim()));
        let dir = cx.working_dir()?;
        let (src_path, dst_path) = (dir.join("reverse-source"), dir.join("reverse-result"));
        let mut stream = cx
            .services
            .storage
            .get(&path)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", self.from.trim())))?;
        let mut local = tokio::fs::File::create(&src_path).await.map_err(io)?;
        tokio::io::copy(&mut stream, &mut local).await.map_err(io)?;
        local.flush().await.map_err(io)?;
        drop(local);
        let sep = self.separator.clone().into_bytes();
        let (s, d) = (src_path.clone(), dst_path.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut src = std::fs::File::open(&s)?;
            let mut dst = std::io::BufWriter::new(std::fs::File::create(&d)?);
            reverse_lines(&mut src, &mut dst, &sep)?;
            dst.flush()
        })
        .await
        .map_err(|e| TaskError::failed(format!("reversing {} stopped: {e}", self.from.trim())))?
        .map_err(io)?;
        let file = tokio::fs::File::open(&dst_path).await.map_err(io)?;
        let (uri, _) = cx.put_file(&format!("reverse{}", extension_of(&path)), Box::pin(file)).await?;
        let _ = tokio::fs::remove_file(&src_path).await;
        let _ = tokio::fs::remove_file(&dst_path).await;
        Ok(TaskOutput::with(Map::from_iter([("uri".into(), uri.into())])))
    }
}

pub static REVERSE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ReverseProps>(build_reverse));

// -------------------------------------------------------------- GetKeys ---

/// List the keys of the KV store.
///
/// Lists the keys of a namespace's KV store, optionally only those starting with `prefix`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.kv.GetKeys",
    group = "core",
    example = "id: keys\ntype: io.kestra.plugin.core.kv.GetKeys\nprefix: daily_\n",
    outputs(keys(List, "The keys found."))
)]
struct KeysProps {
    /// Only keys starting with this.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    prefix: Option<String>,
    /// The namespace; the flow's own when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
}

/// `kv.GetKeys`.
#[derive(Debug)]
pub struct GetKeys {
    prefix: Option<String>,
    namespace: Option<String>,
}

fn build_keys(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: KeysProps = parse_props(props)?;
    Ok(Box::new(GetKeys { prefix: p.prefix, namespace: p.namespace }))
}

#[async_trait]
impl RunnableTask for GetKeys {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let ns = self.namespace.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| cx.namespace.clone());
        let entries = cx
            .services
            .kv
            .list(&ns, chrono::Utc::now())
            .await
            .map_err(|e| TaskError::failed(format!("cannot list the keys of namespace '{ns}': {e}")))?;
        let prefix = self.prefix.as_deref().unwrap_or("");
        let mut keys: Vec<String> = entries.into_iter().map(|e| e.key).filter(|k| k.starts_with(prefix)).collect();
        keys.sort();
        let keys = keys.into_iter().map(Value::String).collect();
        Ok(TaskOutput::with(Map::from_iter([("keys".into(), Value::Array(keys))])))
    }
}

pub static GET_KEYS: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<KeysProps>(build_keys));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;
    use baton_backend::{KvStore, KvType, KvValue};

    #[test]
    fn lines_come_last_first_across_blocks() {
        let dir = std::env::temp_dir().join(format!("baton-reverse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("src");
        let body: String = (0..30_000).map(|i| format!("line{i}\r\n")).collect();
        std::fs::write(&p, &body).unwrap();
        let mut out = Vec::new();
        reverse_lines(&mut std::fs::File::open(&p).unwrap(), &mut out, b"\n").unwrap();
        let want: String = (0..30_000).rev().map(|i| format!("line{i}\n")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), want);
        std::fs::write(&p, "a\n\nb").unwrap();
        let mut out = Vec::new();
        reverse_lines(&mut std::fs::File::open(&p).unwrap(), &mut out, b";").unwrap();
        assert_eq!(out, b"b;;a;");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn reverse_task_and_get_keys() {
        let env = Env::new();
        let src = "/company/team/my-flow/executions/exec1/inputs/f/n.csv";
        env.storage.insert(src, "1\n2\n3\n").unwrap();
        let out = env.run(&REVERSE, json!({"from": format!("kestra://{src}")})).await.unwrap().outputs;
        let uri = out["uri"].as_str().unwrap();
        assert!(uri.ends_with("reverse.csv"), "{uri}");
        assert_eq!(env.storage.bytes(uri.strip_prefix("kestra://").unwrap()).unwrap(), b"3\n2\n1\n");
        let e = env.run(&REVERSE, json!({"from": format!("kestra://{src}"), "charset": "latin1"})).await;
        assert!(e.unwrap_err().to_string().contains("charset"));

        let v = |s: &str| KvValue { kind: KvType::String, value: json!(s) };
        for k in ["my_var", "my_var2", "other"] {
            env.kv.set("company.team", k, &v("x"), None, true, chrono::Utc::now()).await.unwrap();
        }
        env.kv.set("dev", "my_var3", &v("x"), None, true, chrono::Utc::now()).await.unwrap();
        let out = env.run(&GET_KEYS, json!({"prefix": "my_var"})).await.unwrap().outputs;
        assert_eq!(out["keys"], json!(["my_var", "my_var2"]));
        let out = env.run(&GET_KEYS, json!({"namespace": "dev"})).await.unwrap().outputs;
        assert_eq!(out["keys"], json!(["my_var3"]));
    }
}
