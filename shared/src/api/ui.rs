//! The web UI: static files (one HTML page, a few vanilla-JS ES modules and
//! one stylesheet under `api/ui/`) embedded in the binary and served at `/`
//! and `/ui/{file}` by the API's router, so `baton server local` and the GCP
//! `api` function serve the same UI. The page is a single-page app built
//! only on the `/api/v1` routes: at `/` it routes on the hash (`/#/flows/…`);
//! under `/ui/` on Kestra's own paths (history mode), so a Kestra user's
//! links open the page they name: `/ui/main/flows/edit/{namespace}/{id}`,
//! `/ui/main/executions/{namespace}/{flowId}/{id}` and the lists. Every
//! `/ui/…` path that is not a file (two segments or more, or one without a
//! dot) is answered with the page, which reads the path (see [`page_path`]). The one built part, the flow
//! editor (`editor.js`/`editor.css`: CodeMirror 6 bundled by
//! `scripts/build-editor.sh` from `ui/editor/`), is committed with a stamp
//! of its sources' hash, so the build stays one `cargo build`, the UI works
//! offline, and a test fails when the bundle is older than its sources.
//!
//! Each file is answered with its content type and a strong `ETag` (a hash
//! of its bytes, computed once); `If-None-Match` gets a 304, and
//! `Cache-Control: no-cache` makes browsers revalidate, so a new binary's
//! UI is never hidden by a cached old one.
//!
//! Every file also carries [`SECURITY_HEADERS`]: the page cannot be framed
//! (clickjacking), loads scripts only from itself (a Content Security
//! Policy with no inline script), and types are not sniffed.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;

/// `(name, content type, bytes)` of every embedded file.
const FILES: &[(&str, &str, &[u8])] = &[
    ("index.html", "text/html; charset=utf-8", include_bytes!("ui/index.html")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("ui/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("ui/app.js")),
    ("paths.js", "text/javascript; charset=utf-8", include_bytes!("ui/paths.js")),
    ("flows.js", "text/javascript; charset=utf-8", include_bytes!("ui/flows.js")),
    ("executions.js", "text/javascript; charset=utf-8", include_bytes!("ui/executions.js")),
    ("execution.js", "text/javascript; charset=utf-8", include_bytes!("ui/execution.js")),
    ("execution_actions.js", "text/javascript; charset=utf-8", include_bytes!("ui/execution_actions.js")),
    ("plugins.js", "text/javascript; charset=utf-8", include_bytes!("ui/plugins.js")),
    ("gantt.js", "text/javascript; charset=utf-8", include_bytes!("ui/gantt.js")),
    ("topology.js", "text/javascript; charset=utf-8", include_bytes!("ui/topology.js")),
    ("inputs.js", "text/javascript; charset=utf-8", include_bytes!("ui/inputs.js")),
    ("triggers.js", "text/javascript; charset=utf-8", include_bytes!("ui/triggers.js")),
    ("kv.js", "text/javascript; charset=utf-8", include_bytes!("ui/kv.js")),
    ("logs.js", "text/javascript; charset=utf-8", include_bytes!("ui/logs.js")),
    ("flow-editor.js", "text/javascript; charset=utf-8", include_bytes!("ui/flow-editor.js")),
    ("editor.js", "text/javascript; charset=utf-8", include_bytes!("ui/editor.js")),
    ("editor.css", "text/css; charset=utf-8", include_bytes!("ui/editor.css")),
    ("flow_tabs.js", "text/javascript; charset=utf-8", include_bytes!("ui/flow_tabs.js")),
    ("revisions.js", "text/javascript; charset=utf-8", include_bytes!("ui/revisions.js")),
    ("dependencies.js", "text/javascript; charset=utf-8", include_bytes!("ui/dependencies.js")),
    ("metrics.js", "text/javascript; charset=utf-8", include_bytes!("ui/metrics.js")),
    ("home.js", "text/javascript; charset=utf-8", include_bytes!("ui/home.js")),
    ("namespaces.js", "text/javascript; charset=utf-8", include_bytes!("ui/namespaces.js")),
    ("blueprints.js", "text/javascript; charset=utf-8", include_bytes!("ui/blueprints.js")),
    ("tests.js", "text/javascript; charset=utf-8", include_bytes!("ui/tests.js")),
    ("login.js", "text/javascript; charset=utf-8", include_bytes!("ui/login.js")),
    ("live_topology.js", "text/javascript; charset=utf-8", include_bytes!("ui/live_topology.js")),
    ("favicon.svg", "image/svg+xml", include_bytes!("ui/favicon.svg")),
];

/// Sent with every UI file.
pub const SECURITY_HEADERS: [(header::HeaderName, &str); 4] = [
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
];

/// The ETag of each file, in [`FILES`] order (FNV-1a of its bytes).
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(_, _, bytes)| {
            let hash =
                bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
            format!("\"{hash:016x}\"")
        })
        .collect()
});

/// `GET /` (the page), `GET /ui/{file}` (its scripts and styles), and the
/// page again for `/ui`, `/ui/` and every page path under `/ui/`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index)).route("/ui", get(index)).route("/ui/", get(index)).route(
        "/ui/{*path}",
        get(|Path(path): Path<String>, headers: HeaderMap| async move { serve_ui(&path, &headers) }),
    )
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// Whether `path` (below `/ui/`) names a page rather than a file: files
/// sit at the top and have an extension; a namespace in a deeper path may
/// have dots (`main/namespaces/edit/company.team`).
fn page_path(path: &str) -> bool {
    path.contains('/') || !path.contains('.')
}

fn serve_ui(path: &str, headers: &HeaderMap) -> Response {
    if FILES.iter().any(|(n, _, _)| *n == path) || !page_path(path) {
        return serve(path, headers);
    }
    serve("index.html", headers)
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|(n, _, _)| *n == name) else {
        return ApiError::not_found(format!("the web UI has no file '{name}'")).into_response();
    };
    let mut r = file(i, headers);
    for (name, value) in SECURITY_HEADERS {
        r.headers_mut().insert(name, HeaderValue::from_static(value));
    }
    r
}

fn file(i: usize, headers: &HeaderMap) -> Response {
    let (_, content_type, bytes) = FILES[i];
    let etag = &ETAGS[i];
    let cache = [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    let tag = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\""));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, cache, [(header::ETAG, tag)]).into_response();
    }
    (cache, [(header::ETAG, tag), (header::CONTENT_TYPE, HeaderValue::from_static(content_type))], bytes)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_served_with_its_type_and_a_304_for_its_etag() {
        for (name, content_type, bytes) in FILES {
            let r = serve(name, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::OK, "{name}");
            assert_eq!(r.headers()[header::CONTENT_TYPE], *content_type, "{name}");
            assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY", "{name}");
            assert!(
                r.headers()[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .is_ok_and(|v| v.contains("frame-ancestors 'none'"))
            );
            assert!(!bytes.is_empty(), "{name}");
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, r.headers()[header::ETAG].clone());
            assert_eq!(serve(name, &h).status(), StatusCode::NOT_MODIFIED, "{name}");
        }
        assert_eq!(serve("nope.js", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn kestra_page_paths_get_the_page_and_missing_files_a_404() {
        let page = |p: &str| {
            let r = serve_ui(p, &HeaderMap::new());
            (r.status(), r.headers().get(header::CONTENT_TYPE).cloned())
        };
        let html = Some(HeaderValue::from_static("text/html; charset=utf-8"));
        for p in [
            "main",
            "main/flows",
            "main/flows/edit/company.team/hello",
            "main/flows/edit/company.team/hello/topology",
            "main/executions/company.team/hello/4Yh2K",
            "main/namespaces/edit/company.team",
            "flows",
            "main/admin/triggers",
        ] {
            assert_eq!(page(p), (StatusCode::OK, html.clone()), "{p}");
        }
        assert_eq!(page("app.js").0, StatusCode::OK);
        assert_eq!(page("app.js").1, Some(HeaderValue::from_static("text/javascript; charset=utf-8")));
        assert_eq!(page("nope.js").0, StatusCode::NOT_FOUND);
    }

    /// The `sources`, `editor.js` and `editor.css` hashes recorded by
    /// `ui/editor/stamp.mjs` when the bundle was last built.
    fn stamp() -> std::collections::HashMap<String, String> {
        include_str!("ui/editor.stamp")
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn hex(digest: impl AsRef<[u8]>) -> String {
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_editor_bundle_is_built_from_its_sources() {
        use sha2::{Digest, Sha256};
        let stamp = stamp();
        let bundle = |name: &str| FILES.iter().find(|(n, _, _)| *n == name).map(|(_, _, b)| hex(Sha256::digest(b)));
        for name in ["editor.js", "editor.css"] {
            assert_eq!(
                bundle(name).as_ref(),
                stamp.get(name),
                "{name} differs from the one scripts/build-editor.sh built: do not edit it by hand, run the script"
            );
        }
        // the same hash as stamp.mjs: "path\0bytes\0" for each input, in path order
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let Ok(dir) = std::fs::read_dir(root.join("ui/editor/src")) else {
            return; // a packaged crate without the editor's sources: nothing to compare
        };
        let mut inputs: Vec<String> =
            ["scripts/build-editor.sh", "ui/editor/package.json", "ui/editor/package-lock.json"]
                .into_iter()
                .map(String::from)
                .chain(dir.filter_map(|e| e.ok()).map(|e| format!("ui/editor/src/{}", e.file_name().to_string_lossy())))
                .collect();
        inputs.sort();
        let mut h = Sha256::new();
        for f in &inputs {
            let bytes = std::fs::read(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            h.update(f.as_bytes());
            h.update([0]);
            h.update(&bytes);
            h.update([0]);
        }
        assert_eq!(
            Some(&hex(h.finalize())),
            stamp.get("sources"),
            "the editor bundle is stale: its sources under ui/editor/ changed; run scripts/build-editor.sh and commit editor.js, editor.css and editor.stamp"
        );
    }

    #[test]
    fn the_page_loads_every_module_it_imports_from_the_embedded_set() {
        // every `./x.js` a module imports must be embedded, or the page breaks
        for (name, _, bytes) in FILES {
            let text = String::from_utf8_lossy(bytes);
            for part in text.split("from \"./").skip(1).chain(text.split("import(\"./").skip(1)) {
                let file = part.split('"').next().unwrap_or("");
                assert!(FILES.iter().any(|(n, _, _)| *n == file), "{name} imports ./{file}, which is not embedded");
            }
        }
    }
}
