//! XML-RPC as Odoo speaks it (its `/xmlrpc/2/common` and `/xmlrpc/2/object`
//! endpoints): a `methodCall` written from JSON values, a `methodResponse`
//! read back into one, a `fault` into an error with Odoo's message.
//!
//! Written here rather than taken from a crate: the Rust XML-RPC crates
//! either block (a synchronous HTTP client of their own) or are
//! unmaintained, and the protocol is a few element types over `quick-xml`,
//! which the workspace already has. Values: `null` is `<nil/>` (Odoo's
//! server allows it), an integer `<int>` (`<i8>` past 32 bits), a float
//! `<double>`, a string `<string>`, a list `<array>`, a map `<struct>`.
//! Read back, `dateTime.iso8601` and `base64` stay text.

use quick_xml::Reader;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use serde_json::{Map, Number, Value};

use crate::xml::entity;

/// The deepest nesting read (an answer nested deeper is refused).
const MAX_DEPTH: usize = 256;

/// A `methodCall` of `method` with `params`.
pub fn call(method: &str, params: &[Value]) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodCall><methodName>");
    out.push_str(&escape(method));
    out.push_str("</methodName><params>");
    for p in params {
        out.push_str("<param>");
        value(&mut out, p);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>");
    out
}

fn value(out: &mut String, v: &Value) {
    out.push_str("<value>");
    match v {
        Value::Null => out.push_str("<nil/>"),
        Value::Bool(b) => out.push_str(if *b { "<boolean>1</boolean>" } else { "<boolean>0</boolean>" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) if i32::try_from(i).is_ok() => out.push_str(&format!("<int>{i}</int>")),
            (Some(i), _) => out.push_str(&format!("<i8>{i}</i8>")),
            (None, Some(u)) => out.push_str(&format!("<i8>{u}</i8>")),
            _ => out.push_str(&format!("<double>{}</double>", n.as_f64().unwrap_or_default())),
        },
        Value::String(s) => {
            out.push_str("<string>");
            out.push_str(&escape(s.as_str()));
            out.push_str("</string>");
        }
        Value::Array(items) => {
            out.push_str("<array><data>");
            for i in items {
                value(out, i);
            }
            out.push_str("</data></array>");
        }
        Value::Object(m) => {
            out.push_str("<struct>");
            for (k, v) in m {
                out.push_str("<member><name>");
                out.push_str(&escape(k.as_str()));
                out.push_str("</name>");
                value(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
    }
    out.push_str("</value>");
}

/// An element of the answer: its name, child elements and text.
#[derive(Debug, Default)]
struct Node {
    name: String,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// Why an answer could not be used: Odoo's fault, or a malformed answer.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Fault(String),
    Malformed(String),
}

/// The value of a `methodResponse`.
pub fn response(xml: &[u8]) -> Result<Value, Answer> {
    let root = tree(xml).map_err(Answer::Malformed)?;
    if root.name != "methodResponse" {
        return Err(Answer::Malformed(format!("<{}> where <methodResponse> was expected", root.name)));
    }
    if let Some(fault) = root.child("fault") {
        let v = fault.child("value").map(read).transpose().map_err(Answer::Malformed)?.unwrap_or(Value::Null);
        let said = v.get("faultString").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| v.to_string());
        return Err(Answer::Fault(said.trim().to_string()));
    }
    let v = root
        .child("params")
        .and_then(|p| p.child("param"))
        .and_then(|p| p.child("value"))
        .ok_or_else(|| Answer::Malformed("a methodResponse without a value".into()))?;
    read(v).map_err(Answer::Malformed)
}

/// A `<value>`'s JSON.
fn read(v: &Node) -> Result<Value, String> {
    let Some(typed) = v.children.first() else {
        return Ok(Value::String(v.text.clone()));
    };
    let text = typed.text.trim();
    let bad = |what: &str| format!("<{}>{text}</{}> is not {what}", typed.name, typed.name);
    Ok(match typed.name.as_str() {
        "int" | "i4" | "i8" => Value::from(text.parse::<i64>().map_err(|_| bad("an integer"))?),
        "boolean" => Value::Bool(match text {
            "1" => true,
            "0" => false,
            _ => return Err(bad("0 or 1")),
        }),
        "double" => {
            let f = text.parse::<f64>().map_err(|_| bad("a number"))?;
            Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
        }
        "string" | "dateTime.iso8601" | "base64" => Value::String(typed.text.clone()),
        "nil" => Value::Null,
        "array" => Value::Array(
            typed
                .child("data")
                .map(|d| d.children.iter().filter(|c| c.name == "value").map(read).collect::<Result<Vec<_>, _>>())
                .transpose()?
                .unwrap_or_default(),
        ),
        "struct" => {
            let mut m = Map::new();
            for member in typed.children.iter().filter(|c| c.name == "member") {
                let name = member.child("name").map(|n| n.text.clone()).unwrap_or_default();
                let v = member.child("value").map(read).transpose()?.unwrap_or(Value::Null);
                m.insert(name, v);
            }
            Value::Object(m)
        }
        other => return Err(format!("<{other}> is not an XML-RPC value type")),
    })
}

/// The answer as a tree of elements.
fn tree(xml: &[u8]) -> Result<Node, String> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        let event = reader.read_event().map_err(|e| format!("not XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) => {
                if stack.len() > MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} elements"));
                }
                stack.push(Node { name: e.name().as_ref().to_string(), ..Node::default() });
            }
            Event::Empty(e) => {
                let node = Node { name: e.name().as_ref().to_string(), ..Node::default() };
                if let Some(top) = stack.last_mut() {
                    top.children.push(node);
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or("an end tag with no start")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Err("an end tag with no start".into()),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&entity(&r)?);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c.xml10_content());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut doc = stack.pop().filter(|_| stack.is_empty()).ok_or("the answer ends inside an element")?;
    doc.children.pop().ok_or_else(|| "an empty answer".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_are_written_with_xml_rpc_s_types() {
        let c = call("execute_kw", &[json!("db"), json!(2), json!([["a", "=", true]]), json!({"limit": 1, "x": null})]);
        assert!(c.contains("<methodName>execute_kw</methodName>"), "{c}");
        assert!(c.contains("<value><int>2</int></value>"), "{c}");
        assert!(c.contains("<array><data><value><array><data><value><string>a</string></value><value><string>=</string></value><value><boolean>1</boolean></value></data></array></value></data></array>"), "{c}");
        assert!(c.contains("<member><name>x</name><value><nil/></value></member>"), "{c}");
        assert!(call("m", &[json!("a<b & c")]).contains("<string>a&lt;b &amp; c</string>"));
        assert!(call("m", &[json!(5_000_000_000i64)]).contains("<i8>5000000000</i8>"));
    }

    #[test]
    fn responses_and_faults_are_read() {
        let ok = br#"<?xml version='1.0'?><methodResponse><params><param><value><array><data>
            <value><struct><member><name>id</name><value><int>7</int></value></member>
            <member><name>name</name><value><string>A &amp; B</string></value></member>
            <member><name>active</name><value><boolean>1</boolean></value></member>
            <member><name>amount</name><value><double>12.5</double></value></member>
            <member><name>partner_id</name><value><array><data><value><int>3</int></value><value>Acme</value></data></array></value></member>
            <member><name>note</name><value><nil/></value></member></struct></value>
            </data></array></value></param></params></methodResponse>"#;
        assert_eq!(
            response(ok).unwrap(),
            json!([{"id": 7, "name": "A & B", "active": true, "amount": 12.5, "partner_id": [3, "Acme"], "note": null}])
        );
        let fault = br#"<?xml version='1.0'?><methodResponse><fault><value><struct>
            <member><name>faultCode</name><value><int>1</int></value></member>
            <member><name>faultString</name><value><string>Access Denied</string></value></member>
            </struct></value></fault></methodResponse>"#;
        assert_eq!(response(fault), Err(Answer::Fault("Access Denied".into())));
        assert!(matches!(response(b"<html>nope</html>"), Err(Answer::Malformed(_))));
        assert!(matches!(response(b"<methodResponse><params>"), Err(Answer::Malformed(_))));
    }
}
