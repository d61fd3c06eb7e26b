//! Blueprints: ready-to-use flows written for Baton, embedded in the binary
//! and served as Kestra's community blueprints (`GET
//! /api/v1/blueprints/community/flow…`, [`crate::api::blueprints`]) and on
//! the UI's Blueprints page, whose "Use" opens the flow editor with one.
//!
//! Each blueprint is a flow file under `blueprints/flows/` with a title, a
//! short description and tags kept here. Every one is validated by the
//! same validator as any flow (a unit test), so none can rot as Baton
//! changes. This module is pure: the list, its tags and the search the API
//! and the UI share.

use serde_json::{Value, json};

/// When the blueprints were published (Kestra's `publishedAt`): they ship
/// with the binary, so one date for all.
pub const PUBLISHED_AT: &str = "2026-11-23T00:00:00Z";

/// One blueprint: a flow and what the catalogue shows of it.
#[derive(Debug, Clone, Copy)]
pub struct Blueprint {
    /// Its id in the API (`/blueprints/community/flow/{id}`).
    pub id: &'static str,
    pub title: &'static str,
    /// One or two sentences for the catalogue's card.
    pub description: &'static str,
    /// Ids of [`TAGS`].
    pub tags: &'static [&'static str],
    /// The flow's YAML.
    pub source: &'static str,
}

/// `(id, name)` of every tag a blueprint may carry, in display order.
pub const TAGS: &[(&str, &str)] = &[
    ("getting-started", "Getting started"),
    ("zoomcamp", "Zoomcamp"),
    ("postgres", "PostgreSQL"),
    ("gcp", "Google Cloud"),
    ("bigquery", "BigQuery"),
    ("schedule", "Schedule"),
    ("backfill", "Backfill"),
    ("trigger", "Triggers"),
    ("webhook", "Webhook"),
    ("dbt", "dbt"),
    ("ai", "AI"),
    ("python", "Python"),
    ("duckdb", "DuckDB"),
    ("kestra-2", "Kestra 2.0"),
    ("core", "Core"),
];

macro_rules! flow {
    ($file:literal) => {
        include_str!(concat!("flows/", $file))
    };
}

/// Every blueprint, in catalogue order.
pub const ALL: &[Blueprint] = &[
    Blueprint {
        id: "hello-world",
        title: "Hello world",
        description: "Log a greeting built from an input and return a value: the smallest flow that runs.",
        tags: &["getting-started", "core"],
        source: flow!("hello_world.yaml"),
    },
    Blueprint {
        id: "zoomcamp-postgres-taxi",
        title: "Load NYC taxi trips into PostgreSQL",
        description: "The zoomcamp's module 2: download a month of TLC trips, COPY them into a staging table \
                      and merge new rows into the main table.",
        tags: &["zoomcamp", "postgres", "getting-started"],
        source: flow!("postgres_taxi.yaml"),
    },
    Blueprint {
        id: "zoomcamp-gcp-taxi",
        title: "NYC taxi trips to GCS and BigQuery",
        description: "Upload a month of trips to a bucket, expose it as a BigQuery external table and copy it \
                      into a monthly table; settings from the KV store.",
        tags: &["zoomcamp", "gcp", "bigquery"],
        source: flow!("gcp_taxi.yaml"),
    },
    Blueprint {
        id: "schedule-with-backfill",
        title: "Daily schedule you can backfill",
        description: "A 09:00 daily schedule that processes the day before from trigger.date, so a backfill \
                      replays missed days exactly.",
        tags: &["schedule", "backfill", "trigger"],
        source: flow!("scheduled_backfill.yaml"),
    },
    Blueprint {
        id: "flow-trigger-chain",
        title: "Chain flows with a Flow trigger",
        description: "Start when another flow ends in SUCCESS and read the upstream execution through trigger.",
        tags: &["trigger", "core"],
        source: flow!("flow_trigger_chain.yaml"),
    },
    Blueprint {
        id: "webhook",
        title: "Start a flow from a webhook",
        description: "Every POST to the flow's webhook URL starts an execution with the request body as \
                      trigger.body.",
        tags: &["webhook", "trigger"],
        source: flow!("webhook.yaml"),
    },
    Blueprint {
        id: "gcs-landing",
        title: "Load files landing in a GCS bucket",
        description: "A GCS trigger starts for new files under a prefix, loads each into BigQuery and moves \
                      them to an archive folder.",
        tags: &["gcp", "bigquery", "trigger"],
        source: flow!("gcs_landing.yaml"),
    },
    Blueprint {
        id: "dbt-build",
        title: "Run dbt build",
        description: "Clone a dbt project and run dbt deps and dbt build against DuckDB in one working directory.",
        tags: &["dbt", "duckdb", "zoomcamp"],
        source: flow!("dbt_run.yaml"),
    },
    Blueprint {
        id: "llm-summary",
        title: "Summarise a text with an LLM",
        description: "Ask Gemini for a three-bullet summary of an input, with the API key kept in a secret.",
        tags: &["ai"],
        source: flow!("llm_summary.yaml"),
    },
    Blueprint {
        id: "loop-kestra-2",
        title: "Loop over values (Kestra 2.0)",
        description: "Kestra 2.0's Loop: run tasks once per value, two at a time, with one output per iteration.",
        tags: &["kestra-2", "core"],
        source: flow!("loop_v2.yaml"),
    },
    Blueprint {
        id: "python-etl",
        title: "Extract with HTTP, transform in Python",
        description: "Download a CSV, aggregate it in a Python script and pass values back as outputs.",
        tags: &["python", "getting-started"],
        source: flow!("python_script.yaml"),
    },
    Blueprint {
        id: "duckdb-query",
        title: "Query a CSV with DuckDB",
        description: "Query a downloaded CSV with DuckDB in the working directory and store the result.",
        tags: &["duckdb"],
        source: flow!("duckdb_query.yaml"),
    },
    Blueprint {
        id: "parallel-subflow",
        title: "Parallel branches and a subflow",
        description: "Run two branches in parallel, call another flow as a subflow and handle errors.",
        tags: &["core"],
        source: flow!("subflow_parallel.yaml"),
    },
];

/// The blueprint with id `id`.
pub fn find(id: &str) -> Option<&'static Blueprint> {
    ALL.iter().find(|b| b.id == id)
}

/// The name of tag `id`.
pub fn tag_name(id: &str) -> Option<&'static str> {
    TAGS.iter().find(|(t, _)| *t == id).map(|(_, n)| *n)
}

/// The blueprints matching `q` (in the title, description, id or a task
/// type; any case) and carrying every tag of `tags`, in catalogue order.
pub fn search(q: Option<&str>, tags: &[&str]) -> Vec<&'static Blueprint> {
    let q = q.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());
    ALL.iter()
        .filter(|b| tags.iter().all(|t| b.tags.contains(t)))
        .filter(|b| {
            q.as_ref().is_none_or(|q| {
                [b.title, b.description, b.id].iter().any(|s| s.to_lowercase().contains(q))
                    || included_tasks(b).iter().any(|t| t.to_lowercase().contains(q))
            })
        })
        .collect()
}

/// The task and trigger types a blueprint's flow uses (Kestra's
/// `includedTasks`), in order of first use, read off its YAML.
pub fn included_tasks(b: &Blueprint) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in b.source.lines() {
        let t = line.trim_start().trim_start_matches("- ");
        if let Some(ty) = t.strip_prefix("type: ")
            && ty.starts_with("io.kestra.")
            && ty.rsplit('.').next().is_some_and(|last| last.starts_with(|c: char| c.is_ascii_uppercase()))
            && !out.iter().any(|o| o == ty)
        {
            out.push(ty.trim().to_string());
        }
    }
    out
}

/// Kestra's `ApiBlueprintItem`.
pub fn item_json(b: &Blueprint) -> Value {
    json!({
        "id": b.id,
        "title": b.title,
        "description": b.description,
        "includedTasks": included_tasks(b),
        "tags": b.tags,
        "publishedAt": PUBLISHED_AT,
    })
}

/// Kestra's `ApiBlueprintItemWithSource`.
pub fn item_with_source_json(b: &Blueprint) -> Value {
    let mut v = item_json(b);
    v["source"] = json!(b.source);
    v["kind"] = json!("FLOW");
    v
}

/// Kestra's `ApiBlueprintTagItem` for each tag some blueprint of `of` carries.
pub fn tags_json(of: &[&Blueprint]) -> Vec<Value> {
    TAGS.iter()
        .filter(|(id, _)| of.iter().any(|b| b.tags.contains(id)))
        .map(|(id, name)| json!({"id": id, "name": name, "publishedAt": PUBLISHED_AT}))
        .collect()
}

#[cfg(test)]
mod tests;
