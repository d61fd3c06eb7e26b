//! Plugin routes, as Kestra's `PluginController`: `GET /plugins` (the
//! plugin groups and their types), `GET /plugins/{cls}` (one type's
//! markdown and schema; an alias is accepted), and the JSON Schemas
//! `GET /plugins/schemas/{flow|task|trigger}`. All come from
//! `crate::schema`, the catalogue the validator reads. Beyond Kestra,
//! which has no public route for it: `GET /plugins/schemas/test`, the
//! JSON Schema of a flow unit test file, from the keys `baton test`
//! checks (`crate::unittest::schema`).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use crate::schema::{self, Kind, json};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/plugins", get(list))
        .route("/plugins/schemas/test", get(test_schema))
        .route("/plugins/schemas/{kind}", get(schemas))
        .route("/plugins/{cls}", get(one))
}

async fn list(State(s): State<ApiState>) -> Json<Value> {
    Json(json::plugin_list(&schema::catalog(&s.engine.registry)))
}

async fn schemas(State(s): State<ApiState>, Path(kind): Path<String>) -> ApiResult<Json<Value>> {
    let catalog = schema::catalog(&s.engine.registry);
    // Kestra's clients send the SchemaType enum (`FLOW`), its UI `flow`
    Ok(Json(match kind.to_ascii_lowercase().as_str() {
        "flow" => json::flow_schema(&catalog),
        "task" => json::kind_schema_of(&catalog, Kind::Task),
        "trigger" => json::kind_schema_of(&catalog, Kind::Trigger),
        other => {
            return Err(ApiError::not_found(format!(
                "no plugin schema '{other}': Baton serves schemas/flow, schemas/task, schemas/trigger and schemas/test"
            )));
        }
    }))
}

async fn test_schema() -> Json<Value> {
    Json(crate::unittest::schema::test_schema())
}

async fn one(State(s): State<ApiState>, Path(cls): Path<String>) -> ApiResult<Json<Value>> {
    let catalog = schema::catalog(&s.engine.registry);
    let Some(d) = schema::find(&catalog, &cls) else {
        let names = catalog.iter().map(|d| d.type_name);
        let hint = crate::validate::suggest::closest(&cls, names).map(|s| format!(" (did you mean {s}?)"));
        return Err(ApiError::not_found(format!("no plugin type '{cls}' in Baton{}", hint.unwrap_or_default())));
    };
    Ok(Json(json::type_doc(&catalog, d)))
}
