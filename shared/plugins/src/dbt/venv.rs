//! dbt without a container engine: the adapter the profile names
//! (`type: postgres` → `dbt-postgres`) and a pinned `dbt-core`, installed
//! from PyPI into the cached virtualenv that Python `dependencies` use
//! (`scripts::python`), so the second run costs nothing. The pins are the
//! newest series that installs from PyPI alone (dbt-core 1.12 needs a
//! download outside the registry).

use crate::scripts::python::{self, PythonEnv};
use crate::{RunContext, TaskError};

/// The pinned `dbt-core`.
pub const DBT_CORE: &str = "dbt-core>=1.11,<1.12";

/// The pip requirement of an adapter type, or `None` for an unknown one.
pub fn adapter_requirement(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "postgres" => "dbt-postgres>=1.11,<1.12",
        "duckdb" => "dbt-duckdb>=1.11,<1.12",
        "bigquery" => "dbt-bigquery>=1.11,<1.12",
        "snowflake" => "dbt-snowflake>=1.11,<1.12",
        "redshift" => "dbt-redshift>=1.11,<1.12",
        _ => return None,
    })
}

/// The adapter type of the first output of a `profiles.yml` text.
pub fn adapter_of(profiles: &str) -> Option<String> {
    let re = regex::Regex::new(r#"(?:^|[\s{,])type:\s*['"]?([A-Za-z0-9_-]+)"#).ok()?;
    re.captures(profiles).map(|c| c[1].to_ascii_lowercase())
}

/// The requirements for a run: dbt-core and the adapter.
pub fn requirements(adapter: &str) -> Result<Vec<String>, TaskError> {
    let req = adapter_requirement(adapter).ok_or_else(|| {
        TaskError::failed(format!(
            "the dbt profile names the adapter '{adapter}', which Baton cannot install (known: postgres, duckdb, \
             bigquery, snowflake, redshift); run the task with a Docker engine and an image that has it"
        ))
    })?;
    Ok(vec![DBT_CORE.to_string(), req.to_string()])
}

/// The virtualenv with dbt and `adapter`, built on first use.
pub(crate) async fn prepare(cx: &RunContext, adapter: &str) -> Result<PythonEnv, TaskError> {
    let deps = requirements(adapter)?;
    python::prepare(cx, &deps).await.map_err(|e| {
        TaskError::failed(format!("cannot install dbt with the '{adapter}' adapter ({}): {e}", deps.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_adapter_comes_from_the_profile() {
        let block = "default:\n  outputs:\n    dev:\n      type: postgres\n      host: h\n  target: dev\n";
        assert_eq!(adapter_of(block).as_deref(), Some("postgres"));
        let flow = "default:\n  outputs:\n    dev: {type: bigquery, dataset: d, keyfile: sa.json}\n  target: dev";
        assert_eq!(adapter_of(flow).as_deref(), Some("bigquery"));
        assert_eq!(adapter_of("x: 1").as_deref(), None);
        assert!(requirements("postgres").unwrap()[1].starts_with("dbt-postgres"));
        assert!(requirements("oracle").unwrap_err().to_string().contains("'oracle'"));
    }
}
