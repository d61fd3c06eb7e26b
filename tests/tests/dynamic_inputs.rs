//! Kestra's dynamic inputs through `baton server local`: an input's
//! `dependsOn` (left out when its condition is false), a SELECT's
//! `expression` filled by Kestra 2.0's `subflow()` from another flow's
//! outputs, the execute form's `POST /executions/{namespace}/{id}/validate`,
//! and `subflow()` refused where Kestra refuses it (task properties).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use shared::server::{LocalServer, ServerOptions};

use crate::sched_support::temp_dir;

async fn start(home: &Path, flows: &Path) -> LocalServer {
    let mut opts = ServerOptions::new(home.to_path_buf());
    opts.flows_dir = flows.to_path_buf();
    opts.port = 0;
    opts.workers = 4;
    opts.tick = Duration::from_millis(200);
    LocalServer::start(opts).await.expect("server starts")
}

// the flow whose outputs fill the list (Kestra's SubflowFunctionTest child)
const REGIONS: &str = r#"
id: regions
namespace: company.team
inputs:
  - id: cloud
    type: STRING
    defaults: eu
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.cloud }}"
outputs:
  - id: regions
    type: JSON
    value: '["{{ outputs.r.value }}-east", "{{ outputs.r.value }}-west"]'
"#;

const PICK: &str = r#"
id: pick
namespace: company.team
inputs:
  - id: cloud
    type: SELECT
    values: [aws, gcp]
  - id: region
    type: SELECT
    expression: "{{ subflow(namespace='company.team', id='regions', inputs={'cloud': inputs.cloud}).outputs.regions }}"
    dependsOn:
      inputs: [cloud]
  - id: project
    type: STRING
    dependsOn:
      inputs: [cloud]
      condition: "{{ inputs.cloud == 'gcp' }}"
tasks:
  - id: log
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.region }} {{ inputs.project ?? 'none' }}"
"#;

const IN_A_TASK: &str = r#"
id: in_a_task
namespace: company.team
tasks:
  - id: call
    type: io.kestra.plugin.core.debug.Return
    format: "{{ subflow(namespace='company.team', id='regions').outputs.regions }}"
"#;

async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = http.post(url).json(&body).send().await.expect("post");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_select_filled_by_subflow_and_a_dependent_input_work_in_the_form_and_the_start() {
    let (home, flows) = (temp_dir("baton-dyn-home"), temp_dir("baton-dyn-flows"));
    for (name, text) in [("regions.yaml", REGIONS), ("pick.yaml", PICK), ("in_a_task.yaml", IN_A_TASK)] {
        std::fs::write(flows.join(name), text).expect("write flow");
    }
    let server = start(&home, &flows).await;
    let base = format!("{}/api/v1/main", server.url());
    let http = reqwest::Client::new();

    // the execute form: the list comes from the subflow's outputs; `project` is off for aws
    let (status, form) =
        post(&http, format!("{base}/executions/company.team/pick/validate"), json!({"cloud": "aws"})).await;
    assert_eq!(status, 200, "{form}");
    let inputs = form["inputs"].as_array().expect("inputs");
    assert_eq!(inputs[1]["input"]["values"], json!(["aws-east", "aws-west"]), "{form}");
    assert_eq!(inputs[1]["enabled"], json!(true));
    assert_eq!(
        inputs[1]["errors"][0]["message"].as_str().map(|m| m.contains("region")),
        Some(true),
        "required: {form}"
    );
    assert_eq!(inputs[2]["enabled"], json!(false), "project depends on cloud == gcp: {form}");

    // a start: the value is checked against the rendered list
    let (status, e) = post(
        &http,
        format!("{base}/executions/company.team/pick?wait=true"),
        json!({"cloud": "gcp", "region": "gcp-west", "project": "p1"}),
    )
    .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["state"]["current"], json!("SUCCESS"), "{e}");
    assert_eq!(e["inputs"]["region"], json!("gcp-west"));
    let (status, e) = post(
        &http,
        format!("{base}/executions/company.team/pick?wait=true"),
        json!({"cloud": "aws", "region": "aws-east"}),
    )
    .await;
    assert_eq!(status, 200, "{e}");
    assert!(e["inputs"].get("project").is_none(), "a disabled input is left out: {e}");
    let (status, refused) =
        post(&http, format!("{base}/executions/company.team/pick"), json!({"cloud": "aws", "region": "gcp-west"}))
            .await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.to_string().contains("region"), "{refused}");

    // the subflow runs were kept, labelled as Kestra labels them
    let listed: Value = http
        .get(format!("{base}/executions/search?namespace=company.team&flowId=regions&size=50"))
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    let runs = listed["results"].as_array().expect("results");
    assert!(runs.len() >= 3, "one per render: {listed}");
    assert!(
        runs.iter().all(|r| r["labels"]
            .as_array()
            .is_some_and(|l| l.contains(&json!({"key": "system.from", "value": "subflow"})))),
        "{listed}"
    );

    // in a task property: refused at run time naming the function, as Kestra
    let (_, e) = post(&http, format!("{base}/executions/company.team/in_a_task?wait=true"), json!({})).await;
    assert_eq!(e["state"]["current"], json!("FAILED"), "{e}");
    let id = e["id"].as_str().expect("id");
    let logs: Value = http.get(format!("{base}/logs/{id}")).send().await.expect("logs").json().await.expect("json");
    assert!(logs.to_string().contains("can only be used at flow-input render time"), "{logs}");
}

#[test]
fn dynamic_input_mistakes_are_refused_at_validation() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let src = "id: f\nnamespace: company.team\ninputs:\n  - id: a\n    type: STRING\n    expression: \"{{ [1] }}\"\n  - id: b\n    type: STRING\n    dependsOn:\n      inputs: [c]\n  - id: c\n    type: SELECT\n    expression: \"{{ kv('LIST') }}\"\n    dependsOn:\n      inputs: [b]\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n";
    let (_, diags) = shared::validate::validate_source("f.yaml", src, &registry, &renderer);
    let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    let all = text.join("\n");
    assert!(all.contains("'expression' applies to SELECT and MULTISELECT"), "{all}");
    assert!(all.contains("form a cycle"), "{all}");
    assert!(all.contains("f.yaml:"), "located: {all}");
    assert!(!all.contains("needs a non-empty 'values'"), "a SELECT with an expression needs no values: {all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_execute_form_redraws_a_select_from_subflow_and_hides_a_disabled_input() {
    let flows = [("regions.yaml", REGIONS), ("pick.yaml", PICK)];
    let (server, home) = crate::sched_support::api_server("dyn-ui", &flows, None).await;
    let out = crate::ui::drive(&server.url(), "dynamic", &home.join("shots")).await;
    assert!(out.contains("scenario dynamic passed"), "{out}");
    server.shutdown().await;
}
