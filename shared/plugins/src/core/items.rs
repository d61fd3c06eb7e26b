//! Kestra's item tasks over an Ion file of internal storage (one item a
//! line), each streaming its result to a new `.ion` file:
//!
//! - `io.kestra.plugin.core.storage.DeduplicateItems` (`from`, `expr`):
//!   keeps, for each key `expr` renders, the item seen last, in file
//!   order. Two passes: the first maps each key to its last line, the
//!   second writes the lines that are a key's last. Outputs `uri`,
//!   `numKeys`, `processedItemsTotal`, `droppedItemsTotal`. The key map is
//!   the task's memory: bounded by [`MAX_KEY_BYTES`].
//! - `io.kestra.plugin.core.storage.FilterItems` (`from`,
//!   `filterCondition`, `filterType` INCLUDE|EXCLUDE,
//!   `errorOrNullBehavior` FAIL|INCLUDE|EXCLUDE): an item is truthy unless
//!   the rendering, trimmed, is `false`, `0`, `-0` or empty; an error or a
//!   null result follows `errorOrNullBehavior`. Outputs `uri`,
//!   `processedItemsTotal`, `droppedItemsTotal`.
//!
//! `expr` and `filterCondition` are not rendered before the task runs
//! (Kestra's non-dynamic properties, see
//! `#[prop(unrendered)]`): each is rendered once
//! per item, with the item's fields as variables over the task's context.
//! Lines are read as Ion text ([`super::ion_text`]), each bounded by
//! [`MAX_ITEM_BYTES`].

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::ion_text;
use crate::Declare;
use crate::jdbc::fetch::StoreSink;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::ByteStream;

/// The longest item (line) read, in bytes.
pub const MAX_ITEM_BYTES: u64 = 16 * 1024 * 1024;
/// The most memory DeduplicateItems' key map may take (key bytes plus a
/// fixed 64 bytes a key).
pub const MAX_KEY_BYTES: usize = 512 * 1024 * 1024;

/// The task's expression as written (the raw property; the rendered one
/// when the raw one is missing, as in unit tests building directly).
fn raw_expression(cx: &RunContext, name: &str, built: &str) -> String {
    cx.raw_props.get(name).and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| built.to_string())
}

/// Reads `from`'s items one line at a time.
struct Items {
    reader: BufReader<ByteStream>,
    uri: String,
    buf: Vec<u8>,
    /// The line last read, without its `\n` or `\r\n`.
    text: String,
    /// 1-based number of the line last read.
    number: u64,
}

impl Items {
    async fn open(cx: &RunContext, uri: &str) -> Result<Items, TaskError> {
        let path = cx.readable_path("from", uri)?;
        let stream = cx
            .services
            .storage
            .get(&path)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", uri.trim())))?;
        Ok(Items {
            reader: BufReader::new(stream),
            uri: uri.trim().to_string(),
            buf: Vec::new(),
            text: String::new(),
            number: 0,
        })
    }

    /// Reads the next line into `text`; false at the end.
    async fn next(&mut self) -> Result<bool, TaskError> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let n = (&mut self.reader)
            .take(MAX_ITEM_BYTES + 1)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", self.uri)))?;
        if n == 0 {
            return Ok(false);
        }
        self.number += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        } else if n as u64 > MAX_ITEM_BYTES {
            return Err(TaskError::failed(format!(
                "line {} of {} is longer than {MAX_ITEM_BYTES} bytes, the longest item Baton reads",
                self.number, self.uri
            )));
        }
        self.text.clear();
        match std::str::from_utf8(&buf) {
            Ok(t) => self.text.push_str(t),
            Err(_) => return Err(TaskError::failed(format!("line {} of {} is not UTF-8", self.number, self.uri))),
        }
        self.buf = buf;
        Ok(true)
    }
}

/// Renders `expression` with an item's fields as variables over `cx`'s
/// context. `base` is the context as a map, reused from item to item.
struct ItemRenderer<'a> {
    cx: &'a RunContext,
    expression: String,
    base: Map<String, Value>,
}

impl<'a> ItemRenderer<'a> {
    fn new(cx: &'a RunContext, expression: String) -> ItemRenderer<'a> {
        let base = cx.context().as_object().cloned().unwrap_or_default();
        ItemRenderer { cx, expression, base }
    }

    /// The rendering for the item on `line` (line `number` of `uri`).
    fn render(&mut self, line: &str, number: u64, uri: &str) -> Result<String, TaskError> {
        let item = match ion_text::parse_line(line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(TaskError::failed(format!("line {number} of {uri} is not an Ion struct (a map)"))),
            Err(e) => return Err(TaskError::failed(format!("line {number} of {uri} is not Ion: {e}"))),
        };
        // the item's fields shadow the context's; put the context back after
        let mut shadowed: Vec<(String, Option<Value>)> = Vec::with_capacity(item.len());
        for (k, v) in item {
            let old = self.base.insert(k.clone(), v);
            shadowed.push((k, old));
        }
        let ctx = Value::Object(std::mem::take(&mut self.base));
        let out = self.cx.services.renderer.render_str(&self.expression, &ctx, self.cx.host.as_ref());
        if let Value::Object(base) = ctx {
            self.base = base;
        }
        for (k, old) in shadowed.into_iter().rev() {
            match old {
                Some(v) => self.base.insert(k, v),
                None => self.base.remove(&k),
            };
        }
        out.map_err(|e| TaskError::Template(format!("item on line {number} of {uri}: {e}")))
    }
}

fn counts(uri: String, processed: u64, dropped: u64) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("uri".into(), uri.into());
    out.insert("processedItemsTotal".into(), processed.into());
    out.insert("droppedItemsTotal".into(), dropped.into());
    out
}

// ------------------------------------------------------ DeduplicateItems ---

/// Keep one item per key of an Ion file.
///
/// Renders `expr` for each item (its fields are variables) and keeps, for each key, the last item with it, in file order.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.storage.DeduplicateItems",
    group = "core",
    example = "id: dedup\ntype: io.kestra.plugin.core.storage.DeduplicateItems\nfrom: \"{{ outputs.query.uri }}\"\nexpr: \"{{ id }}-{{ country }}\"\n",
    outputs(
        uri(String, "The new Ion file."),
        numKeys(Integer, "Distinct keys seen."),
        processedItemsTotal(Integer, "Items read."),
        droppedItemsTotal(Integer, "Items left out of the new file.")
    )
)]
struct DedupProps {
    /// The Ion file of items, one a line (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The key of an item: a template rendered per item, not before the task.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(fixed, unrendered)]
    expr: String,
}

/// `storage.DeduplicateItems`.
#[derive(Debug)]
pub struct DeduplicateItems {
    from: String,
    expr: String,
}

fn build_dedup(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DedupProps = parse_props(props)?;
    Ok(Box::new(DeduplicateItems { from: p.from, expr: p.expr }))
}

#[async_trait]
impl RunnableTask for DeduplicateItems {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut keys = ItemRenderer::new(cx, raw_expression(cx, "expr", &self.expr));
        // pass 1: each key → the line where it is seen last
        let mut last: HashMap<String, u64> = HashMap::new();
        let mut memory = 0usize;
        let mut items = Items::open(cx, &self.from).await?;
        while items.next().await? {
            let key = keys.render(&items.text, items.number, &items.uri)?;
            let n = items.number;
            if let Some(at) = last.get_mut(&key) {
                *at = n;
                continue;
            }
            memory += key.len() + 64;
            if memory > MAX_KEY_BYTES {
                return Err(TaskError::failed(format!(
                    "the keys of {} take more than {MAX_KEY_BYTES} bytes, the most DeduplicateItems holds \
                     ({} distinct keys so far)",
                    items.uri,
                    last.len()
                )));
            }
            last.insert(key, n);
        }
        let num_keys = last.len() as u64;
        // pass 2: keep the lines that are their key's last
        let mut sink = StoreSink::open(cx, "deduplicated.ion");
        let (mut processed, mut dropped) = (0u64, 0u64);
        let mut items = Items::open(cx, &self.from).await?;
        while items.next().await? {
            let key = keys.render(&items.text, items.number, &items.uri)?;
            if last.get(&key) == Some(&items.number) {
                sink.write(items.text.as_bytes()).await?;
                sink.write(b"\n").await?;
            } else {
                dropped += 1;
            }
            processed += 1;
        }
        let uri = sink.finish().await?;
        let mut out = counts(uri, processed, dropped);
        out.insert("numKeys".into(), num_keys.into());
        Ok(TaskOutput::with(out))
    }
}

pub static DEDUPLICATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DedupProps>(build_dedup));

// ----------------------------------------------------------- FilterItems ---

/// What to do with an item (`filterType`, and `errorOrNullBehavior`'s
/// INCLUDE/EXCLUDE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Include,
    Exclude,
}

fn parse_action(prop: &str, s: Option<&str>, allow_fail: bool) -> Result<Option<Action>, TaskError> {
    let expected = if allow_fail { "FAIL, INCLUDE or EXCLUDE" } else { "INCLUDE or EXCLUDE" };
    match s.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
        None | Some("") => Ok(Some(Action::Include).filter(|_| !allow_fail)),
        Some("INCLUDE") => Ok(Some(Action::Include)),
        Some("EXCLUDE") => Ok(Some(Action::Exclude)),
        Some("FAIL") if allow_fail => Ok(None),
        Some(other) => Err(TaskError::property(prop, format!("'{other}' is not one of {expected}"))),
    }
}

/// Kestra's truthiness of a rendered condition (trimmed): anything but
/// `false`, `0`, `-0` and the empty string.
pub fn is_truthy(rendered: &str) -> bool {
    !matches!(rendered.trim(), "false" | "0" | "-0" | "")
}

/// Keep or drop the items of an Ion file by a condition.
///
/// Renders `filterCondition` for each item (its fields are variables); `false`, `0`, `-0` or an empty result is false, anything else true.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.storage.FilterItems",
    group = "core",
    example = "id: big\ntype: io.kestra.plugin.core.storage.FilterItems\nfrom: \"{{ outputs.query.uri }}\"\nfilterCondition: \"{{ amount > 100 }}\"\n",
    outputs(
        uri(String, "The new Ion file."),
        processedItemsTotal(Integer, "Items read."),
        droppedItemsTotal(Integer, "Items left out of the new file.")
    )
)]
struct FilterProps {
    /// The Ion file of items, one a line (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The condition: a template rendered per item, not before the task.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(fixed, unrendered)]
    filter_condition: String,
    /// Keep (INCLUDE) or drop (EXCLUDE) the items that match.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"INCLUDE\"", values = ["INCLUDE", "EXCLUDE"])]
    filter_type: Option<String>,
    /// What to do with an item the condition fails on.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"FAIL\"", values = ["FAIL", "INCLUDE", "EXCLUDE"])]
    error_or_null_behavior: Option<String>,
}

/// `storage.FilterItems`.
#[derive(Debug)]
pub struct FilterItems {
    from: String,
    condition: String,
    filter_type: Action,
    /// None: FAIL.
    on_error_or_null: Option<Action>,
}

fn build_filter(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: FilterProps = parse_props(props)?;
    let filter_type = parse_action("filterType", p.filter_type.as_deref(), false)?.unwrap_or(Action::Include);
    let on_error_or_null = parse_action("errorOrNullBehavior", p.error_or_null_behavior.as_deref(), true)?;
    Ok(Box::new(FilterItems { from: p.from, condition: p.filter_condition, filter_type, on_error_or_null }))
}

// Kestra's `null` rendering is an error in Baton (strict undefined), so an
// error or a missing value both follow `errorOrNullBehavior`.
#[async_trait]
impl RunnableTask for FilterItems {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut renderer = ItemRenderer::new(cx, raw_expression(cx, "filterCondition", &self.condition));
        let mut sink = StoreSink::open(cx, "filtered.ion");
        let (mut processed, mut dropped) = (0u64, 0u64);
        let mut items = Items::open(cx, &self.from).await?;
        while items.next().await? {
            let action = match renderer.render(&items.text, items.number, &items.uri) {
                Ok(r) if is_truthy(&r) => self.filter_type,
                Ok(_) if self.filter_type == Action::Include => Action::Exclude,
                Ok(_) => Action::Include,
                Err(e) => match self.on_error_or_null {
                    None => return Err(e),
                    Some(a) => a,
                },
            };
            match action {
                Action::Include => {
                    sink.write(items.text.as_bytes()).await?;
                    sink.write(b"\n").await?;
                }
                Action::Exclude => dropped += 1,
            }
            processed += 1;
        }
        let uri = sink.finish().await?;
        Ok(TaskOutput::with(counts(uri, processed, dropped)))
    }
}

pub static FILTER: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<FilterProps>(build_filter));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    const SRC: &str = "/company/team/my-flow/executions/exec1/inputs/file/items.ion";

    fn env_with(lines: &[&str]) -> Env {
        let env = Env::new();
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        env.storage.insert(SRC, body).unwrap();
        env
    }

    fn read(env: &Env, out: &TaskOutput) -> Vec<String> {
        let uri = out.outputs["uri"].as_str().unwrap();
        assert!(uri.ends_with(".ion"), "{uri}");
        let bytes = env.storage.bytes(uri.strip_prefix("kestra://").unwrap()).unwrap();
        String::from_utf8(bytes).unwrap().lines().map(str::to_string).collect()
    }

    fn n(out: &TaskOutput, k: &str) -> u64 {
        out.outputs[k].as_u64().unwrap_or_else(|| panic!("{k}: {:?}", out.outputs))
    }

    /// Kestra's DeduplicateItemsTest: the last item of each key, in file order.
    #[tokio::test]
    async fn deduplicate_keeps_each_keys_last_item() {
        let env = env_with(&[
            r#"{"key":"k1","value":"v1"}"#,
            r#"{"key":"k2","value":"v1"}"#,
            "{key:\"k3\",value:\"v1\"}",
            r#"{"key":"k1","value":"v2"}"#,
            r#"{"key":"k2","value":"v2"}"#,
            r#"{"key":"k2","value":null}"#,
            r#"{"key":"k3","value":"v2"}"#,
            r#"{"key":"k1","value":"v3"}"#,
        ]);
        let from = format!("kestra://{SRC}");
        let out = env.run(&DEDUPLICATE, json!({"from": from, "expr": " {{ key }} "})).await.unwrap();
        assert_eq!((n(&out, "numKeys"), n(&out, "droppedItemsTotal"), n(&out, "processedItemsTotal")), (3, 5, 8));
        assert_eq!(
            read(&env, &out),
            [r#"{"key":"k2","value":null}"#, r#"{"key":"k3","value":"v2"}"#, r#"{"key":"k1","value":"v3"}"#]
        );
        // a composite key, and the flow's context next to the item's fields
        let out = env.run(&DEDUPLICATE, json!({"from": from, "expr": "{{ flow.id }}-{{ value }}"})).await.unwrap();
        assert_eq!(n(&out, "numKeys"), 4, "v1, v2, v3 and null: {:?}", read(&env, &out));
    }

    #[tokio::test]
    async fn deduplicate_errors_name_the_line() {
        let env = env_with(&[r#"{"key":"k1"}"#, "not ion {"]);
        let from = format!("kestra://{SRC}");
        let e = env.run(&DEDUPLICATE, json!({"from": from, "expr": "{{ key }}"})).await.unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("not Ion"), "{e}");
        let env = env_with(&[r#"{"other":"k1"}"#]);
        let e = env.run(&DEDUPLICATE, json!({"from": from, "expr": "{{ key }}"})).await.unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        let e = env.run(&DEDUPLICATE, json!({"from": "kestra:///other/ns/x.ion", "expr": "{{ a }}"})).await;
        assert!(e.unwrap_err().to_string().contains("from"), "another namespace's file is not readable");
    }

    const KV_VALID: [&str; 4] = [
        r#"{"key":"k1","value":1}"#,
        r#"{"key":"k2","value":2}"#,
        r#"{"key":"k3","value":3}"#,
        r#"{"key":"k4","value":4}"#,
    ];
    const KV_INVALID: [&str; 4] = [
        r#"{"key":"k1","value":1}"#,
        r#"{"key":"k2","value":"dummy"}"#,
        r#"{"key":"k3","value":3}"#,
        r#"{"key":"k4","value":4}"#,
    ];

    /// Kestra's FilterItemsTest cases.
    #[tokio::test]
    async fn filter_include_exclude_and_error_behaviors() {
        let from = format!("kestra://{SRC}");
        let cond = " {{ value % 2 == 0 }} ";
        let env = env_with(&KV_VALID);
        let out = env.run(&FILTER, json!({"from": from, "filterCondition": cond})).await.unwrap();
        assert_eq!((n(&out, "droppedItemsTotal"), n(&out, "processedItemsTotal")), (2, 4));
        assert_eq!(read(&env, &out), [KV_VALID[1], KV_VALID[3]]);
        let out = env.run(&FILTER, json!({"from": from, "filterCondition": cond, "filterType": "EXCLUDE"})).await;
        assert_eq!(read(&env, &out.unwrap()), [KV_VALID[0], KV_VALID[2]]);
        // a non-boolean: 0, -0, false and "" are false, anything else true
        let out = env.run(&FILTER, json!({"from": from, "filterCondition": "{{ value }}"})).await.unwrap();
        assert_eq!(n(&out, "droppedItemsTotal"), 0);

        let env = env_with(&KV_INVALID);
        let e = env.run(&FILTER, json!({"from": from, "filterCondition": cond, "errorOrNullBehavior": "FAIL"})).await;
        assert!(e.unwrap_err().to_string().contains("line 2"), "FAIL fails on the item");
        let out =
            env.run(&FILTER, json!({"from": from, "filterCondition": cond, "errorOrNullBehavior": "INCLUDE"})).await;
        let out = out.unwrap();
        assert_eq!((n(&out, "droppedItemsTotal"), n(&out, "processedItemsTotal")), (2, 4));
        assert_eq!(read(&env, &out), [KV_INVALID[1], KV_INVALID[3]]);
        let out =
            env.run(&FILTER, json!({"from": from, "filterCondition": cond, "errorOrNullBehavior": "exclude"})).await;
        let out = out.unwrap();
        assert_eq!(n(&out, "droppedItemsTotal"), 3);
        assert_eq!(read(&env, &out), [KV_INVALID[3]]);
        let e = env.run(&FILTER, json!({"from": from, "filterCondition": cond, "filterType": "MAYBE"})).await;
        assert!(e.unwrap_err().to_string().contains("filterType"));
    }

    #[test]
    fn truthiness_is_kestras() {
        for f in ["false", "0", "-0", "", "  false "] {
            assert!(!is_truthy(f), "{f:?}");
        }
        for t in ["true", "1", "False", "no", "0.0"] {
            assert!(is_truthy(t), "{t:?}");
        }
    }
}
