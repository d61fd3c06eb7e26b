//! Kestra's flow export: `GET /flows/export/by-query` (the flows a `GET
//! /flows/search` with the same parameters finds, [`super::flow_search`])
//! and `POST /flows/export/by-ids` (a JSON `[{namespace, id}]` body), both
//! answering a ZIP of the flows' sources as Kestra names them
//! (`{namespace}.{id}.yml`), which `POST /flows/import` takes back.
//!
//! Bound: the sources exported add up to at most the import's bound
//! ([`super::limits::MAX_IMPORT_TEXT`]), so an export can be imported
//! again; past it the export is refused, naming the bound.

use std::io::Write;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::flow_search::FlowSearch;
use super::limits::MAX_IMPORT_TEXT;
use super::query::Params;
use crate::model::Flow;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/flows/export/by-query", get(by_query)).route("/flows/export/by-ids", post(by_ids))
}

async fn by_query(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let params: Vec<&str> =
        super::flow_search::PARAMS.iter().copied().filter(|p| !matches!(*p, "page" | "size" | "sort")).collect();
    let p = Params::parse(raw.as_deref(), "GET /flows/export/by-query", &params)?;
    let search = FlowSearch::from_params(&p)?;
    let flows: Vec<Arc<Flow>> = s.host.flows().await?.into_iter().filter(|f| search.matches(f)).collect();
    zip_response(&flows)
}

/// One flow of `POST /flows/export/by-ids`'s body (Kestra's `IdWithNamespace`).
#[derive(Debug, Deserialize)]
struct IdWithNamespace {
    namespace: String,
    id: String,
}

async fn by_ids(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: Result<Json<Vec<IdWithNamespace>>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "POST /flows/export/by-ids", &[])?;
    let Json(ids) = body.map_err(|e| {
        ApiError::bad_request(format!("the body must be a JSON list of {{namespace, id}}: {}", e.body_text()))
    })?;
    let mut flows = Vec::new();
    for i in ids {
        flows.push(s.host.flow(&i.namespace, &i.id).await?);
    }
    zip_response(&flows)
}

fn zip_response(flows: &[Arc<Flow>]) -> ApiResult<Response> {
    let total: usize = flows.iter().map(|f| f.source.len()).sum();
    if total > MAX_IMPORT_TEXT {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the {} flows' sources add up to {total} bytes, over the bound of {} MiB for one export \
                 (what one import takes): export them in parts (by namespace)",
                flows.len(),
                MAX_IMPORT_TEXT >> 20
            ),
        ));
    }
    let bytes = zip_flows(flows).map_err(|e| ApiError::internal(format!("cannot write the ZIP: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"flows.zip\""),
        ],
        bytes,
    )
        .into_response())
}

/// A ZIP of the flows' sources, `{namespace}.{id}.yml` each.
pub fn zip_flows(flows: &[Arc<Flow>]) -> zip::result::ZipResult<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for f in flows {
        zip.start_file(format!("{}.{}.yml", f.namespace, f.id), options)?;
        zip.write_all(f.source.as_bytes())?;
    }
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_zip_holds_each_source_under_kestras_name() {
        let src = "id: a\nnamespace: n.s\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n";
        let registry = crate::plugins::Registry::builtin();
        let (f, d) = crate::validate::validate_source("a.yml", src, &registry, &crate::template::Renderer::new());
        assert!(d.is_empty(), "{d:?}");
        let bytes = zip_flows(&[Arc::new(f.expect("flow"))]).expect("zip");
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("read back");
        let mut text = String::new();
        z.by_name("n.s.a.yml").expect("entry").read_to_string(&mut text).expect("text");
        assert_eq!(text, src);
    }
}
