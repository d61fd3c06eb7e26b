//! The root module's variables and locals evaluated by terraform
//! (`terraform::evaluate_root_locals`): least-privilege wiring, the
//! variables' validations; and the Firestore indexes and TTL against the
//! store's queries.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::terraform::{evaluate_root_locals, hcl_json, repo, variable_default};
use crate::terraform_schedules::baton_flows;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn root_locals_evaluate_to_least_privilege_wiring() {
    let flows = repo().join("tests/fixtures/flows/scheduled");
    let l = evaluate_root_locals(&[
        "project_id=demo-project",
        "image_tag=abc1234",
        r#"secrets=["GCP_CREDS","PG_PASSWORD","HOOK_KEY"]"#,
        r#"webhook_key_secrets=["HOOK_KEY"]"#,
        &format!("flows_dir={}", flows.display()),
    ])
    .unwrap_or_else(|e| panic!("the root module's locals do not evaluate:\n{e}"));

    let groups = ["core", "scripts", "jdbc", "gcp", "dbt"];
    let workers: Vec<String> = groups.iter().map(|g| format!("worker-{g}")).collect();
    let mut push: BTreeSet<String> = ["executor", "scheduler"].iter().map(|s| s.to_string()).collect();
    push.extend(workers.iter().cloned());
    assert_eq!(keys(&l["push_services"]), push);

    // topic names are the code's (Topic::name), and each service is fed by one
    use shared::backend::Topic;
    assert_eq!(l["topics"]["executions"], json!(Topic::Executions.name()));
    assert_eq!(l["topics"]["scheduler"], json!("baton-scheduler"));
    assert_eq!(l["dead_letter_topic"], json!("baton-dead-letter"));
    for g in groups {
        assert_eq!(l["topics"][format!("tasks-{g}")], json!(Topic::Tasks(g.to_string()).name()));
        let w = &l["push_services"][format!("worker-{g}")];
        assert_eq!(w["topic"], json!(format!("tasks-{g}")));
        assert_eq!(w["timeout"], json!("3600s"), "workers may run an hour");
        assert_eq!(w["env"]["BATON_WORKER_GROUP"], json!(g));
        assert_eq!(w["image"], json!(format!("worker-{g}")));
    }
    assert_eq!(l["push_services"]["executor"]["topic"], json!("executions"));
    assert_eq!(l["push_services"]["scheduler"]["topic"], json!("scheduler"));
    assert_eq!(l["push_services"]["worker-scripts"]["concurrency"], json!(1));
    assert_eq!(l["push_services"]["worker-dbt"]["concurrency"], json!(1), "a dbt build per instance");
    assert_eq!(l["push_services"]["worker-gcp"]["env"]["ENV_GCP_BUCKET_NAME"], json!("demo-project-baton-data"));
    assert!(l["push_services"]["worker-core"]["env"].get("ENV_GCP_BUCKET_NAME").is_none());
    let audiences: BTreeSet<String> =
        l["push_audiences"].as_object().expect("audiences").values().map(|v| v.to_string()).collect();
    assert_eq!(audiences.len(), push.len(), "one audience per push service");
    assert_eq!(l["registry"], json!("europe-west1-docker.pkg.dev/demo-project/baton"));
    assert_eq!(l["common_env"]["BATON_INTERNAL_BUCKET"], json!("demo-project-baton-internal"));
    assert_eq!(l["pubsub_agent"], json!("serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"));

    // a dead worker's task is seen within about a minute: a 60 s lease on the
    // workers and the scheduler (which sweeps expired leases)
    for f in workers.iter().map(String::as_str).chain(["scheduler"]) {
        assert_eq!(l["push_services"][f]["env"]["BATON_LEASE_SECONDS"], json!("30"), "{f}");
    }
    assert!(l["push_services"]["executor"]["env"].get("BATON_LEASE_SECONDS").is_none());
    // the engine pauses and resumes the sweep job itself: its full name goes
    // to the scheduler and the executor, and they alone may pause/resume it
    let sweep_job = "projects/demo-project/locations/europe-west1/jobs/baton-sweep";
    assert_eq!(l["sweep_job"], json!(sweep_job));
    for f in ["scheduler", "executor"] {
        assert_eq!(l["push_services"][f]["env"]["BATON_SWEEP_JOB"], json!(sweep_job), "{f}");
    }
    for w in &workers {
        assert!(l["push_services"][w]["env"].get("BATON_SWEEP_JOB").is_none(), "{w}");
    }
    assert_eq!(l["sweep_controllers"], json!(["scheduler", "executor"]));
    // Docker-runner tasks as Cloud Run Jobs: the scripts worker starts them,
    // the scheduler's sweep reads and cancels them, nobody else
    assert_eq!(l["container_workers"], json!(["worker-scripts", "worker-dbt"]));
    let cloud_run_env = json!({"BATON_CLOUD_RUN_REGION": "europe-west1",
        "BATON_CLOUD_RUN_SERVICE_ACCOUNT": "baton-tasks@demo-project.iam.gserviceaccount.com"});
    for f in ["worker-scripts", "worker-dbt", "scheduler"] {
        for (k, v) in cloud_run_env.as_object().expect("env") {
            assert_eq!(&l["push_services"][f]["env"][k], v, "{f} {k}");
        }
    }
    for f in ["worker-core", "worker-gcp", "executor"] {
        assert!(l["push_services"][f]["env"].get("BATON_CLOUD_RUN_REGION").is_none(), "{f}");
    }
    assert_eq!(l["cloud_run_watch_permissions"], json!(["run.executions.get", "run.executions.cancel"]));
    let job_permissions: BTreeSet<&str> =
        l["cloud_run_job_permissions"].as_array().expect("permissions").iter().filter_map(Value::as_str).collect();
    assert_eq!(
        job_permissions,
        BTreeSet::from([
            "run.jobs.get",
            "run.jobs.create",
            "run.jobs.update",
            "run.jobs.run",
            "run.jobs.runWithOverrides",
            "run.operations.get",
            "run.executions.get",
            "run.executions.cancel",
        ])
    );
    // get, pause, and what jobs.resume requires (cloudscheduler.jobs.enable):
    // nothing that creates, changes, deletes or runs a job
    let perms: BTreeSet<&str> =
        l["sweep_control_permissions"].as_array().expect("permissions").iter().filter_map(Value::as_str).collect();
    assert_eq!(
        perms,
        BTreeSet::from(["cloudscheduler.jobs.get", "cloudscheduler.jobs.pause", "cloudscheduler.jobs.enable"])
    );

    // the single-field index exemptions are exactly the store's UNINDEXED_FIELDS
    let exempt: BTreeSet<(String, String)> = l["firestore_unindexed_fields"]
        .as_object()
        .expect("firestore_unindexed_fields")
        .values()
        .map(|f| (f["collection"].as_str().expect("collection").into(), f["field"].as_str().expect("field").into()))
        .collect();
    let want: BTreeSet<(String, String)> =
        shared::backend::gcp::UNINDEXED_FIELDS.iter().map(|(c, f)| (c.to_string(), f.to_string())).collect();
    assert_eq!(exempt, want, "firestore.tf exemptions vs UNINDEXED_FIELDS");

    // who publishes where: exactly what each function's code does
    let publishers = keys(&l["publishers"]);
    // (the scheduler: backfill continuations on its own topic, and the end of
    // Cloud Run Job executions its sweep polls, to the container groups)
    let mut want: BTreeSet<String> = [
        "api/executions",
        "api/scheduler",
        "scheduler/executions",
        "scheduler/scheduler",
        "scheduler/tasks-scripts",
        "scheduler/tasks-dbt",
        "executor/executions",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.extend(groups.iter().map(|g| format!("executor/tasks-{g}")));
    want.extend(workers.iter().map(|w| format!("{w}/executions")));
    assert_eq!(publishers, want);

    // Firestore for every function; BigQuery and the data bucket only for gcp
    let roles = keys(&l["project_roles"]);
    for f in push.iter().chain(std::iter::once(&"api".to_string())) {
        assert!(roles.contains(&format!("{f}/datastore.user")), "{f} lacks datastore.user");
    }
    assert_eq!(
        roles.iter().filter(|r| r.ends_with("bigquery.jobUser")).collect::<Vec<_>>(),
        ["worker-gcp/bigquery.jobUser"]
    );
    assert_eq!(keys(&l["dataset_editors"]), BTreeSet::from(["worker-gcp/baton".to_string()]));
    assert_eq!(l["gcp_workers"], json!(["worker-gcp"]));
    assert_eq!(l["internal_bucket_roles"]["scheduler"], json!("roles/storage.objectViewer"));

    // secrets reach the executor and the workers, not the scheduler; the API
    // only the webhook keys (webhook_key_secrets)
    let grants = keys(&l["secret_grants"]);
    let mut want = BTreeSet::new();
    for f in std::iter::once("executor".to_string()).chain(workers.iter().cloned()) {
        for s in ["GCP_CREDS", "PG_PASSWORD", "HOOK_KEY"] {
            want.insert(format!("{f}/{s}"));
        }
    }
    want.insert("api/HOOK_KEY".to_string());
    assert_eq!(grants, want);

    // execution files expire under exactly the deployed flows' prefixes
    let mut prefixes: Vec<String> = baton_flows(&flows)
        .iter()
        .map(|(_, f)| format!("{}/{}/executions/", f.namespace.replace('.', "/"), shared::model::ids::slugify(&f.id)))
        .collect();
    prefixes.sort();
    prefixes.dedup();
    assert_eq!(l["execution_prefixes"], json!(prefixes));
}

/// The variables' validations run too: a bad worker group name is refused.
#[test]
fn root_variable_validations_refuse_bad_values() {
    let err = evaluate_root_locals(&["project_id=demo-project", "image_tag=abc1234", r#"worker_groups=["Bad_Group"]"#])
        .expect_err("an invalid worker group must be refused");
    assert!(err.contains("A worker group is 1-13 lower-case letters"), "{err}");
    let err = evaluate_root_locals(&["project_id=demo-project", "image_tag=abc1234", "max_delivery_attempts=3"])
        .expect_err("3 delivery attempts must be refused");
    assert!(err.contains("Pub/Sub allows 5 to 100 delivery attempts"), "{err}");
    for lease in ["5", "60.5", "7200"] {
        let err =
            evaluate_root_locals(&["project_id=demo-project", "image_tag=abc1234", &format!("lease_seconds={lease}")])
                .expect_err("a lease out of range must be refused");
        assert!(err.contains("lease_seconds must be a whole number of seconds from 10"), "{lease}: {err}");
    }
    // the seal keys are pinned versions: `latest` would move under a rotation
    for (var, says) in [
        ("seal_key_version=latest", "seal_key_version must be the number"),
        ("seal_key_previous_version=0", "seal_key_previous_version must be the number"),
    ] {
        let err = evaluate_root_locals(&["project_id=demo-project", "image_tag=abc1234", var])
            .expect_err("a seal key version that is not a version number must be refused");
        assert!(err.contains(says), "{var}: {err}");
    }
    evaluate_root_locals(&[
        "project_id=demo-project",
        "image_tag=abc1234",
        "seal_key_version=3",
        "seal_key_previous_version=1",
    ])
    .unwrap_or_else(|e| panic!("a rotated key's versions are refused:\n{e}"));
}

// ---------------------------------------------------------------------------
// Firestore: the indexes the store's queries need
// ---------------------------------------------------------------------------

#[test]
fn firestore_indexes_and_ttl_match_the_store() {
    let path = repo().join("terraform/firestore.tf");
    let parsed = hcl_json(std::slice::from_ref(&path));
    let file = parsed.values().next().expect("firestore.tf");
    let indexes = file["locals"]
        .as_array()
        .and_then(|l| l.iter().find_map(|b| b.get("firestore_indexes")))
        .and_then(Value::as_object)
        .expect("local.firestore_indexes");
    let declared: BTreeSet<(String, Vec<(String, String)>)> = indexes
        .values()
        .map(|ix| {
            let fields = ix["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| (f[0].as_str().expect("field").to_string(), f[1].as_str().expect("order").to_string()))
                .collect();
            (ix["collection"].as_str().expect("collection").to_string(), fields)
        })
        .collect();
    for (collection, fields) in shared::backend::gcp::REQUIRED_INDEXES {
        let want = (collection.to_string(), fields.iter().map(|(f, o)| (f.to_string(), o.to_string())).collect());
        assert!(declared.contains(&want), "firestore.tf lacks the index {want:?} the store's queries need");
    }
    // the resource creates exactly those
    let resources = file["resource"].as_array().expect("resources");
    let index = resources.iter().find_map(|r| r.get("google_firestore_index")).expect("google_firestore_index");
    assert_eq!(index["index"]["for_each"], json!("${local.firestore_indexes}"));
    // the collection-group single-field indexes (the purge of logs)
    let fields: Vec<&Value> = resources
        .iter()
        .filter_map(|r| r.get("google_firestore_field"))
        .flat_map(|f| f.as_object().into_iter().flat_map(|m| m.values()))
        .collect();
    for (collection, field) in shared::backend::gcp::COLLECTION_GROUP_FIELDS {
        let found = fields.iter().any(|f| {
            let f = f.as_array().and_then(|a| a.first()).unwrap_or(f);
            f["collection"] == json!(collection)
                && f["field"] == json!(field)
                && f.to_string().contains("COLLECTION_GROUP")
        });
        assert!(found, "firestore.tf lacks the collection-group index on {collection}.{field}");
    }

    // KV's TTL policy is on the store's KV collection group
    assert_eq!(variable_default("firestore_kv_collection"), json!(shared::backend::gcp::KEYS));
    assert_eq!(variable_default("firestore_kv_ttl_field"), json!("expires"));
}
