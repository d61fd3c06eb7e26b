//! Issue 50 on Google Cloud: with `metrics = true` the functions' collector
//! sidecar scrapes each function's `GET /prometheus` on localhost and
//! writes the series to Cloud Monitoring (Managed Service for Prometheus),
//! as the function's account with the metric writer role; without it no
//! sidecar, no scrape, no role. Evaluated offline by terraform, as the
//! other root locals (`terraform.rs`).

use serde_json::json;

use crate::terraform::evaluate_root_locals;

#[test]
fn metrics_on_adds_the_prometheus_scrape_to_the_collector_sidecar() {
    let base = ["project_id=demo-project", "image_tag=abc1234"];
    let off = evaluate_root_locals(&base).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(off["collector_sidecar"], json!(false));
    let config = off["otel_collector_config"].as_str().expect("the collector's YAML");
    assert!(!config.contains("googlemanagedprometheus") && !config.contains("/prometheus"), "{config}");

    let image = "otel_collector_image=us-docker.pkg.dev/cloud-ops-agents-artifacts/google-cloud-opentelemetry-collector/otelcol-google:0.121.0";
    let on = evaluate_root_locals(&[base[0], base[1], "metrics=true", image]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(on["collector_sidecar"], json!(true));
    let config = on["otel_collector_config"].as_str().expect("the collector's YAML");
    for part in [r#""metrics_path": "/prometheus""#, r#""localhost:8080""#, r#""scrape_interval": "30s""#] {
        assert!(config.contains(part), "{part}: {config}");
    }
    // the metrics pipeline (yamlencode's block style, keys sorted): the scrape to Managed Prometheus
    let pipeline = config.split("\"metrics\":").nth(1).and_then(|p| p.split("\"traces\":").next()).unwrap_or_default();
    for part in [r#"- "googlemanagedprometheus""#, r#"- "prometheus""#, r#"- "batch""#] {
        assert!(pipeline.contains(part), "{part}: {config}");
    }
    // metrics without traces: Baton sends no spans (no OTLP endpoint), no trace role
    assert!(on["common_env"].get("OTEL_EXPORTER_OTLP_ENDPOINT").is_none(), "{}", on["common_env"]);
    let roles = on["project_roles"].as_object().expect("project_roles");
    for f in ["api", "executor", "scheduler", "worker-core"] {
        assert!(roles.contains_key(&format!("{f}/monitoring.metricWriter")), "{f}: {roles:?}");
        assert!(!roles.contains_key(&format!("{f}/cloudtrace.agent")), "{f}: {roles:?}");
    }
    let off_roles = off["project_roles"].as_object().expect("project_roles");
    assert!(!off_roles.keys().any(|k| k.ends_with("/monitoring.metricWriter")), "{off_roles:?}");

    let err = evaluate_root_locals(&[base[0], base[1], "metrics=true"]).expect_err("metrics needs the collector image");
    assert!(err.contains("metrics = true needs otel_collector_image"), "{err}");
}
