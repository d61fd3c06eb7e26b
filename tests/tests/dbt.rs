//! dbt end to end, the zoomcamp's `03_postgres_dbt` shape: a small dbt
//! project of the same form (staging views over green and yellow trips, a
//! zone lookup seed, a core fact table, schema and singular tests) is
//! served from a Git repository over smart HTTP on loopback, pulled into
//! the namespace with `SyncNamespaceFiles`, and built by `DbtCLI` against
//! the real PostgreSQL harness. The flow asks for Kestra's dbt image and the
//! Docker runner; with no engine reachable, dbt runs from the cached
//! virtualenv (scripts/setup/dbt.sh builds it once). The rows dbt built are
//! counted in PostgreSQL; a failing dbt test fails the task naming the node.

use std::path::PathBuf;

use e2e::git_http::{make_repo, serve_git};
use e2e::pg;
use serde_json::json;
use shared::backend::KvLookup;
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::scripts::ScriptsConfig;

use crate::support::{harness_with_plugins, runs};

const PROJECT: &[(&str, &str)] = &[
    (
        "taxi_rides/dbt_project.yml",
        "name: taxi_rides\nversion: '1.0'\nconfig-version: 2\nprofile: default\nmodel-paths: [models]\nseed-paths: [seeds]\n\
         test-paths: [tests]\nmodels:\n  taxi_rides:\n    staging:\n      +materialized: view\n    core:\n      +materialized: table\n",
    ),
    (
        "taxi_rides/seeds/taxi_zone_lookup.csv",
        "locationid,borough,zone,service_zone\n1,EWR,Newark Airport,EWR\n4,Manhattan,Alphabet City,Yellow Zone\n\
         7,Queens,Astoria,Boro Zone\n13,Manhattan,Battery Park City,Yellow Zone\n",
    ),
    (
        "taxi_rides/models/staging/sources.yml",
        "version: 2\nsources:\n  - name: staging\n    schema: public\n    tables:\n      - name: green_tripdata\n      - name: yellow_tripdata\n",
    ),
    (
        "taxi_rides/models/staging/stg_green_tripdata.sql",
        "select vendorid, lpep_pickup_datetime as pickup_datetime, pulocationid as pickup_locationid,\n  \
         dolocationid as dropoff_locationid, total_amount, 'Green' as service_type\nfrom {{ source('staging', 'green_tripdata') }}\n",
    ),
    (
        "taxi_rides/models/staging/stg_yellow_tripdata.sql",
        "select vendorid, tpep_pickup_datetime as pickup_datetime, pulocationid as pickup_locationid,\n  \
         dolocationid as dropoff_locationid, total_amount, 'Yellow' as service_type\nfrom {{ source('staging', 'yellow_tripdata') }}\n",
    ),
    (
        "taxi_rides/models/core/fact_trips.sql",
        "with trips as (\n  select * from {{ ref('stg_green_tripdata') }}\n  union all\n  select * from {{ ref('stg_yellow_tripdata') }}\n),\n\
         zones as (select * from {{ ref('taxi_zone_lookup') }})\n\
         select t.*, pz.borough as pickup_borough, dz.borough as dropoff_borough\nfrom trips t\n\
         join zones pz on t.pickup_locationid = pz.locationid\njoin zones dz on t.dropoff_locationid = dz.locationid\n",
    ),
    (
        "taxi_rides/models/core/schema.yml",
        "version: 2\nmodels:\n  - name: fact_trips\n    columns:\n      - name: service_type\n        data_tests:\n          - not_null\n\
         \x20         - accepted_values:\n              arguments:\n                values: ['Green', 'Yellow']\n",
    ),
    (
        "taxi_rides/tests/assert_fares_below_limit.sql",
        "select * from {{ ref('fact_trips') }} where total_amount > {{ var('max_amount', 1000) }}\n",
    ),
];

fn flow(url: &str, db: &str, commands: &str) -> String {
    let c = pg::shared();
    format!(
        r#"
id: dbt_taxi
namespace: zoomcamp.dbt
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncNamespaceFiles
    url: {url}
    branch: main
    namespace: "{{{{ flow.namespace }}}}"
    gitDirectory: taxi_rides
    dryRun: false
  - id: dbt-build
    type: io.kestra.plugin.dbt.cli.DbtCLI
    env:
      DBT_DATABASE: {db}
      DBT_SCHEMA: dbt_prod
    namespaceFiles:
      enabled: true
    containerImage: ghcr.io/kestra-io/dbt-postgres:latest
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
    parseRunResults: true
    commands: {commands}
    storeManifest:
      key: manifest.json
      namespace: "{{{{ flow.namespace }}}}"
    profiles: |
      default:
        outputs:
          dev:
            type: postgres
            host: 127.0.0.1
            port: {port}
            user: {user}
            password: {password}
            dbname: {db}
            schema: dbt_prod
            threads: 2
        target: dev
"#,
        port = c.port(),
        user = pg::USER,
        password = pg::PASSWORD,
    )
}

fn trips(db: &str) {
    let sql = "create table green_tripdata (vendorid int, lpep_pickup_datetime timestamp, pulocationid int, dolocationid int, total_amount numeric);
insert into green_tripdata values (2, '2019-01-01 00:10', 4, 7, 12.5), (2, '2019-01-01 01:00', 13, 4, 30), (1, '2019-01-02 08:00', 999, 4, 9);
create table yellow_tripdata (vendorid int, tpep_pickup_datetime timestamp, pulocationid int, dolocationid int, total_amount numeric);
insert into yellow_tripdata values (1, '2019-01-01 00:20', 1, 13, 80), (2, '2019-01-01 02:00', 4, 4, 7.3), (1, '2019-01-03 09:00', 7, 1, 55), (2, '2019-01-03 10:00', 13, 13, 11);";
    pg::shared().psql(db, sql).unwrap_or_else(|e| panic!("load trips: {e}"));
}

fn plugins() -> PluginConfig {
    let cache = std::env::var_os("BATON_DBT_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("baton-dbt-cache"));
    PluginConfig {
        // no container engine: DbtCLI falls back to the cached virtualenv
        scripts: ScriptsConfig { docker_bin: PathBuf::from("/nonexistent/docker"), ..ScriptsConfig::default() },
        cache_dir: Some(cache),
        ..PluginConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbt_builds_the_taxi_project_synced_from_git_into_postgres() {
    let root = std::env::temp_dir().join(format!("baton-dbt-repo-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&root).expect("repo root");
    make_repo(&root, "taxi", "main", PROJECT);
    let server = serve_git(&root, None);
    let url = format!("{}/taxi.git", server.base);
    let c = pg::shared();
    let db = c.create_database("dbt");
    trips(&db);
    let h = harness_with_plugins(plugins());

    let e = h.run(&flow(&url, &db, "[dbt deps, dbt build]"), json!({})).await;
    let logs = h.logs(&e.id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{}", e.error, logs.join("\n"));
    assert!(
        logs.iter().any(|l| l.contains("No container engine is reachable") && l.contains("virtualenv")),
        "{logs:?}"
    );
    assert!(logs.iter().any(|l| l.starts_with("model.taxi_rides.fact_trips => success in ")), "{logs:?}");
    assert!(logs.iter().any(|l| l.starts_with("seed.taxi_rides.taxi_zone_lookup => success")), "{logs:?}");
    // dbt ran with Kestra's `--log-format json`: its events are logged as Kestra's DbtCLI writes them
    assert!(
        logs.iter().any(|l| l.starts_with("[Date: ") && l.contains("[Type: MainReportVersion] Running with dbt=")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|l| l.contains("accepted_values_fact_trips_service_type") && l.contains("=> pass")),
        "{logs:?}"
    );
    // 7 trips, one with an unknown zone: 6 rows in the fact table, 4 zones seeded
    assert_eq!(c.count(&db, "select count(*) from dbt_prod.fact_trips"), 6);
    assert_eq!(c.count(&db, "select count(*) from dbt_prod.taxi_zone_lookup"), 4);
    assert_eq!(c.count(&db, "select count(*) from dbt_prod.stg_yellow_tripdata"), 4);
    let out = runs(&e, "dbt-build")[0].outputs.as_ref().expect("outputs");
    assert_eq!(out["exitCode"], json!(0));
    assert!(out["outputFiles"]["run_results.json"].as_str().is_some_and(|u| u.starts_with("kestra://")), "{out:?}");
    match h.embedded.engine.kv.get("zoomcamp.dbt", "manifest.json", chrono::Utc::now()).await.expect("kv") {
        KvLookup::Found(v) => assert!(v.value["nodes"]["model.taxi_rides.fact_trips"].is_object()),
        other => panic!("the manifest must be in KV, found {other:?}"),
    }

    // a failing dbt test fails the task and names the node
    // (on the Process runner: dbt is not on PATH, so the same virtualenv serves)
    let failing = flow(&url, &db, r#"["dbt test --select assert_fares_below_limit --vars '{max_amount: 50}'"]"#)
        .replace("io.kestra.plugin.scripts.runner.docker.Docker", "io.kestra.plugin.core.runner.Process");
    let e = h.run(&failing, json!({})).await;
    let logs = h.logs(&e.id).await;
    assert_eq!(e.state.current, StateType::Failed, "{logs:?}");
    let err = format!("{:?}", e.error);
    assert!(err.contains("test.taxi_rides.assert_fares_below_limit (fail"), "{err}\n{}", logs.join("\n"));
    assert!(logs.iter().any(|l| l.starts_with("test.taxi_rides.assert_fares_below_limit => fail")), "{logs:?}");
    let dbt_on_path =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|d| d.join("dbt").is_file());
    assert!(dbt_on_path || logs.iter().any(|l| l.starts_with("There is no dbt on PATH")), "{logs:?}");

    // a warning dbt logs ends the task in WARNING; the closing stats are counters
    let warned = format!(
        r#"
id: dbt_warns
namespace: zoomcamp.dbt
tasks:
  - id: dbt
    type: io.kestra.plugin.dbt.cli.DbtCLI
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    parseRunResults: false
    profiles: |
      default:
        outputs:
          dev: {{type: postgres, host: 127.0.0.1, port: {port}, user: u, password: p, dbname: d, schema: s}}
        target: dev
    commands:
      - |
        echo '{{"info": {{"level": "warn", "msg": "Deprecated", "name": "Dep", "thread": "T", "ts": "t"}}}}'
      - |
        echo '{{"data": {{"stats": {{"pass": 2, "warn": 1}}}}, "info": {{"level": "info", "msg": "Done."}}}}'
"#,
        port = c.port()
    );
    let e = h.run(&warned, json!({})).await;
    let logs = h.logs(&e.id).await;
    assert_eq!(e.state.current, StateType::Warning, "{:?}\n{logs:?}", e.error);
    assert!(logs.iter().any(|l| l == "[Date: t] [Thread: T] [Type: Dep] Deprecated "), "{logs:?}");
    let kept = h.embedded.engine.state.metrics().execution_metrics(&e.id).await.expect("metrics").entries;
    let pass: Vec<f64> = kept.iter().filter(|m| m.name == "pass").map(|m| m.value).collect();
    assert_eq!(pass, vec![2.0], "{kept:?}");
    let _ = std::fs::remove_dir_all(&root);
}

/// Kestra's one-command tasks (`dbt.cli.Seed`, `Build`, `Deps`), as the
/// blueprints write them: `dbtPath` naming the image's dbt, the profile as
/// an input file in `.profile/`, `dockerOptions`; dbt runs from the cached
/// virtualenv (no engine) with the command line Kestra writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_s_one_command_dbt_tasks_seed_and_build() {
    let root = std::env::temp_dir().join(format!("baton-dbt-repo-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&root).expect("repo root");
    make_repo(&root, "taxi", "main", PROJECT);
    let server = serve_git(&root, None);
    let c = pg::shared();
    let db = c.create_database("dbtone");
    trips(&db);
    let h = harness_with_plugins(plugins());
    let flow = format!(
        r#"
id: dbt_one
namespace: zoomcamp.dbtone
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncNamespaceFiles
    url: {url}/taxi.git
    branch: main
    namespace: "{{{{ flow.namespace }}}}"
    gitDirectory: taxi_rides
    dryRun: false
  - id: deps
    type: io.kestra.plugin.dbt.cli.Deps
  - id: seed
    type: io.kestra.plugin.dbt.cli.Seed
  - id: build
    type: io.kestra.plugin.dbt.cli.Build
    select: [+fact_trips]
    exclude: [assert_fares_below_limit]
    fullRefresh: true
    thread: 2
pluginDefaults:
  - type: io.kestra.plugin.dbt.cli
    values:
      dbtPath: /usr/local/bin/dbt
      namespaceFiles:
        enabled: true
      taskRunner:
        type: io.kestra.plugin.scripts.runner.docker.Docker
      dockerOptions:
        image: ghcr.io/kestra-io/dbt-postgres:latest
      inputFiles:
        .profile/profiles.yml: |
          default:
            outputs:
              dev:
                type: postgres
                host: 127.0.0.1
                port: {port}
                user: {user}
                password: {password}
                dbname: {db}
                schema: dbt_one
                threads: 1
            target: dev
"#,
        url = server.base,
        port = c.port(),
        user = pg::USER,
        password = pg::PASSWORD,
    );
    let e = h.run(&flow, json!({})).await;
    let logs = h.logs(&e.id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{}", e.error, logs.join("\n"));
    assert!(logs.iter().any(|l| l.starts_with("seed.taxi_rides.taxi_zone_lookup => success")), "{logs:?}");
    assert!(logs.iter().any(|l| l.starts_with("model.taxi_rides.fact_trips => success in ")), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains("assert_fares_below_limit =>")), "excluded: {logs:?}");
    assert_eq!(c.count(&db, "select count(*) from dbt_one.fact_trips"), 6);
    let seed = runs(&e, "seed")[0].outputs.as_ref().expect("outputs");
    assert!(seed["outputFiles"]["run_results.json"].as_str().is_some_and(|u| u.starts_with("kestra://")), "{seed:?}");
    let deps = runs(&e, "deps")[0].outputs.as_ref().expect("outputs");
    assert_eq!(deps["exitCode"], json!(0));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn the_real_dbt_flow_shapes_validate() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/flows/dbt");
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let src = std::fs::read_to_string(&path).expect("read");
        let (flow, diags) = shared::validate::validate_source(&path.display().to_string(), &src, &registry, &renderer);
        assert!(diags.is_empty() && flow.is_some(), "{}: {diags:?}", path.display());
        seen += 1;
    }
    assert_eq!(seen, 3);
    let typo = "id: f\nnamespace: n\ntasks:\n  - id: d\n    type: io.kestra.plugin.dbt.cli.DbtCLI\n    commands: [dbt build]\n    profile: x\n";
    let (_, diags) = shared::validate::validate_source("typo.yaml", typo, &registry, &renderer);
    assert!(format!("{diags:?}").contains("profile"), "a misspelt property is reported: {diags:?}");
}
