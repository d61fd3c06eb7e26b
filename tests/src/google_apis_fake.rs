//! One local stand-in for the Google REST APIs that have no emulator
//! (Dataproc, Dataflow, Dataform, Vertex AI jobs, BigQuery Data Transfer,
//! Cloud Storage IAM…), served at the root the tasks are given by
//! `BATON_GOOGLE_APIS_URL`. It knows nothing of any API by itself: it
//! loads Google's discovery documents (`$BATON_DISCOVERY_DIR`, fetched by
//! scripts/setup/gcp.sh) and, for each request,
//!
//! - finds the discovery method whose HTTP method and path template
//!   (`servicePath` + `flatPath`) match — a request no method matches is a
//!   violation, answered 404;
//! - checks every query parameter against the method's `parameters` and
//!   the body against its `request` schema (every field must exist, with
//!   the right JSON type and enum value) — a mismatch is a violation,
//!   answered 400 as Google would;
//! - answers with the test's handler for that method id (e.g.
//!   `dataproc.projects.locations.batches.create`), whose answer is checked
//!   against the method's `response` schema in turn.
//!
//! Tests assert [`FakeGoogleApis::violations`] is empty, so a task sending
//! a field Google does not have, or the fake answering one, fails.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::ai_schema::{check_schema_of, load_discovery};
use crate::functions::{Served, serve};

/// One request, as a handler and the test see it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The discovery method id (`dataproc.projects.locations.batches.get`).
    pub id: String,
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub body: Value,
    /// The path's parameters, in order (`projectsId`, `locationsId`, …).
    pub params: Vec<String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
}

type Handler = Arc<dyn Fn(&Call) -> (u16, Value) + Send + Sync>;

struct Route {
    id: String,
    http_method: String,
    pattern: regex::Regex,
    doc: usize,
    method: Value,
}

#[derive(Default)]
struct Inner {
    handlers: BTreeMap<String, Handler>,
    calls: Vec<Call>,
    violations: Vec<String>,
}

struct Fake {
    docs: Vec<Value>,
    routes: Vec<Route>,
    inner: Mutex<Inner>,
}

/// The fake, served until dropped.
pub struct FakeGoogleApis {
    pub served: Served,
    state: Arc<Fake>,
}

fn collect(doc_i: usize, service_path: &str, resources: &Value, out: &mut Vec<Route>) {
    let Some(res) = resources.as_object() else { return };
    for r in res.values() {
        if let Some(methods) = r["methods"].as_object() {
            for m in methods.values() {
                let path = m["flatPath"].as_str().or_else(|| m["path"].as_str()).unwrap_or_default();
                let full = format!("/{service_path}{path}");
                let mut re = String::from("^");
                let mut rest = full.as_str();
                while let Some(open) = rest.find('{') {
                    re.push_str(&regex::escape(&rest[..open]));
                    let close = rest[open..].find('}').map(|c| open + c).unwrap_or(rest.len() - 1);
                    re.push_str(if rest[open..].starts_with("{+") { "(.+?)" } else { "([^/:]+)" });
                    rest = &rest[close + 1..];
                }
                re.push_str(&regex::escape(rest));
                re.push('$');
                out.push(Route {
                    id: m["id"].as_str().unwrap_or_default().to_string(),
                    http_method: m["httpMethod"].as_str().unwrap_or("GET").to_string(),
                    pattern: regex::Regex::new(&re).expect("a path pattern"),
                    doc: doc_i,
                    method: m.clone(),
                });
            }
        }
        collect(doc_i, service_path, &r["resources"], out);
    }
}

impl FakeGoogleApis {
    /// Serves the APIs of these discovery documents (`dataproc.v1.json`…).
    pub async fn start(docs: &[&str]) -> FakeGoogleApis {
        let docs: Vec<Value> = docs.iter().map(|d| load_discovery(d)).collect();
        let mut routes = Vec::new();
        for (i, d) in docs.iter().enumerate() {
            collect(i, d["servicePath"].as_str().unwrap_or_default(), &d["resources"], &mut routes);
        }
        // The longest literal templates first, so `…/batches/{id}` is not
        // taken for `…/{+name}`.
        routes.sort_by_key(|r| std::cmp::Reverse(r.pattern.as_str().len()));
        let state = Arc::new(Fake { docs, routes, inner: Mutex::default() });
        let router = axum::Router::new().fallback(answer).with_state(state.clone());
        FakeGoogleApis { served: serve(router).await, state }
    }

    /// The root to give `BATON_GOOGLE_APIS_URL`.
    pub fn url(&self) -> String {
        self.served.url.trim_end_matches('/').to_string()
    }

    /// Answers method `id` with `handler` (replacing an earlier one).
    pub fn on(&self, id: &str, handler: impl Fn(&Call) -> (u16, Value) + Send + Sync + 'static) {
        self.state.inner.lock().unwrap().handlers.insert(id.to_string(), Arc::new(handler));
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state.inner.lock().unwrap().calls.clone()
    }

    /// The ids of the calls received, in order.
    pub fn ids(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.id).collect()
    }

    /// Requests or answers that do not fit the discovery documents.
    pub fn violations(&self) -> Vec<String> {
        self.state.inner.lock().unwrap().violations.clone()
    }
}

fn google_error(status: u16, reason: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (code, axum::Json(json!({"error": {"code": status, "status": reason, "message": message}}))).into_response()
}

fn query_of(uri: &Uri) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://fake{uri}"))
        .map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default()
}

/// A query parameter's name as the document spells it: `a.b` of a
/// sub-message (`updateMask`, `$.xgafv`, `alt`…) are standard ones.
fn query_ok(method: &Value, doc: &Value, name: &str) -> bool {
    let standard = doc["parameters"].get(name).is_some();
    standard || method["parameters"].get(name).is_some_and(|p| p["location"] == "query")
}

async fn answer(
    State(f): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let path = percent_decode(uri.path());
    let query = query_of(&uri);
    let Some((route, caps)) = f.routes.iter().find_map(|r| {
        (r.http_method == method.as_str()).then_some(())?;
        let c = r.pattern.captures(&path)?;
        Some((r, c.iter().skip(1).map(|m| m.map(|m| m.as_str().to_string()).unwrap_or_default()).collect::<Vec<_>>()))
    }) else {
        let v = format!("{method} {path}: no method of the discovery documents has this path");
        f.inner.lock().unwrap().violations.push(v.clone());
        return google_error(404, "NOT_FOUND", &v);
    };
    let doc = &f.docs[route.doc];
    let mut problems = Vec::new();
    for k in query.keys() {
        if !query_ok(&route.method, doc, k) {
            problems.push(format!("{}: unknown query parameter '{k}'", route.id));
        }
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{}: the body is not JSON: {e}", route.id));
                Value::Null
            }
        }
    };
    match (route.method["request"]["$ref"].as_str(), &body) {
        (Some(schema), Value::Null) => problems.push(format!("{}: no body, expected a {schema}", route.id)),
        (Some(schema), b) => {
            if let Err(e) = check_schema_of(doc, b, schema) {
                problems.push(format!("{}: {e}", route.id));
            }
        }
        (None, Value::Null) => {}
        (None, _) => problems.push(format!("{}: a body where the method takes none", route.id)),
    }
    let call = Call {
        id: route.id.clone(),
        method: method.to_string(),
        path: path.clone(),
        query,
        body,
        params: caps,
        authorization: headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string),
    };
    let handler = {
        let mut inner = f.inner.lock().unwrap();
        inner.calls.push(call.clone());
        if !problems.is_empty() {
            inner.violations.extend(problems.iter().cloned());
            return google_error(400, "INVALID_ARGUMENT", &problems.join("; "));
        }
        inner.handlers.get(&route.id).cloned()
    };
    let Some(h) = handler else {
        let v = format!("{}: the test gave no answer for this method", route.id);
        f.inner.lock().unwrap().violations.push(v.clone());
        return google_error(501, "UNIMPLEMENTED", &v);
    };
    let (status, out) = h(&call);
    if (200..300).contains(&status) {
        if let Some(schema) = route.method["response"]["$ref"].as_str()
            && let Err(e) = check_schema_of(doc, &out, schema)
        {
            f.inner.lock().unwrap().violations.push(format!("{} answered: {e}", route.id));
        }
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        return (code, axum::Json(out)).into_response();
    }
    let reason = out["error"]["status"].as_str().unwrap_or("FAILED_PRECONDITION").to_string();
    let message = out["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| out.to_string());
    google_error(status, &reason, &message)
}

/// `%2F` and the like decoded (a path's `+` stays a `+`).
fn percent_decode(p: &str) -> String {
    percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned()
}
