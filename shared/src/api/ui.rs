//! The web UI: static files (one HTML page, a few vanilla-JS ES modules and
//! one stylesheet under `api/ui/`) embedded in the binary and served at `/`
//! and `/ui/{file}` by the API's router, so `baton server local` and the GCP
//! `api` function serve the same UI. The page is a hash-routed single-page
//! app built only on the `/api/v1` routes; there is no front-end build step,
//! so the build stays one `cargo build` and the UI works offline.
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
    ("flows.js", "text/javascript; charset=utf-8", include_bytes!("ui/flows.js")),
    ("executions.js", "text/javascript; charset=utf-8", include_bytes!("ui/executions.js")),
    ("execution.js", "text/javascript; charset=utf-8", include_bytes!("ui/execution.js")),
    ("topology.js", "text/javascript; charset=utf-8", include_bytes!("ui/topology.js")),
    ("inputs.js", "text/javascript; charset=utf-8", include_bytes!("ui/inputs.js")),
    ("triggers.js", "text/javascript; charset=utf-8", include_bytes!("ui/triggers.js")),
    ("kv.js", "text/javascript; charset=utf-8", include_bytes!("ui/kv.js")),
    ("flow_tabs.js", "text/javascript; charset=utf-8", include_bytes!("ui/flow_tabs.js")),
    ("revisions.js", "text/javascript; charset=utf-8", include_bytes!("ui/revisions.js")),
    ("dependencies.js", "text/javascript; charset=utf-8", include_bytes!("ui/dependencies.js")),
    ("home.js", "text/javascript; charset=utf-8", include_bytes!("ui/home.js")),
    ("namespaces.js", "text/javascript; charset=utf-8", include_bytes!("ui/namespaces.js")),
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

/// `GET /` (the page), `GET /ui/{file}` (its scripts and styles).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route("/ui/{file}", get(|Path(file): Path<String>, headers: HeaderMap| async move { serve(&file, &headers) }))
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
