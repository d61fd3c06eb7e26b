//! The REST API routes reference, from the route table the router is
//! tested against (`api::route_table::ROUTES`).

use super::markdown::{cell, code, table};
use super::{MARK, Page};
use crate::api::route_table::{ROUTES, Scope};

/// The page.
pub fn page() -> Page {
    let mut s = format!(
        "{MARK}\n# REST API routes\n\nEvery route `baton server local` and the `api` Cloud Run function serve. \
         The API's routes are served under `/api/v1` and under Kestra's tenant form `/api/v1/main`; \
         [the REST API guide](../guides/api.md) tells what they take and answer. An unknown route or \
         method answers 404 or 405 with a JSON `{{\"message\": …}}` saying so.\n"
    );
    for (scope, heading) in [(Scope::Api, "Under `/api/v1`"), (Scope::Root, "At the root")] {
        let rows: Vec<Vec<String>> = ROUTES
            .iter()
            .filter(|r| r.scope == scope)
            .map(|r| vec![r.methods.join(", "), code(r.path), cell(r.doc)])
            .collect();
        s.push_str(&format!("\n## {heading}\n\n{}", table(&["method", "path", "what it does"], &rows)));
    }
    Page { path: "api-routes.md".into(), title: "REST API routes".into(), depth: 0, text: s }
}
