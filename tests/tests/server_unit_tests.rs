//! Kestra's flow unit test routes on `baton server local`: a suite created
//! from its YAML is kept beside the flows (`{namespace}.{id}.test.yml`),
//! searched, read, run (one passing and one failing case, the failing one
//! with its expected and actual value), run in part, updated, its last
//! results kept per case, and deleted; bad suites are refused naming the
//! problem; the test executions never appear among the server's. Bulk
//! runs (`POST /tests/run` by namespace or flow) and the history of runs
//! (`GET /tests/results/search`, newest first, bounded per suite;
//! `GET /tests/results/{id}`) on both runtimes, and suites disabled,
//! enabled and deleted by ids (`/tests/{enable,disable}/by-ids`,
//! `DELETE /tests/by-ids`).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::server::{LocalServer, ServerOptions};

use crate::sched_support::temp_dir;

async fn start(home: &Path, flows: &Path) -> LocalServer {
    let mut opts = ServerOptions::new(home.to_path_buf());
    opts.flows_dir = flows.to_path_buf();
    opts.port = 0;
    opts.workers = 2;
    opts.tick = Duration::from_millis(200);
    LocalServer::start(opts).await.expect("server starts")
}

pub const FLOW: &str = r#"id: greet
namespace: company.team
inputs:
  - id: name
    type: STRING
    defaults: World
tasks:
  - id: fetch
    type: io.kestra.plugin.core.http.Request
    uri: http://127.0.0.1:9/never-called
  - id: greeting
    type: io.kestra.plugin.core.debug.Return
    format: "Hello {{ inputs.name }} {{ outputs.fetch.body }}"
"#;

pub const SUITE: &str = r#"id: greet_tests
namespace: company.team
flowId: greet
testCases:
  - id: greets
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      inputs:
        name: Kestra
      tasks:
        - id: fetch
          outputs:
            body: mocked
    assertions:
      - value: "{{ outputs.greeting.value }}"
        equalTo: Hello Kestra mocked
  - id: expects_a_bye
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      tasks:
        - id: fetch
          outputs:
            body: mocked
    assertions:
      - value: "{{ outputs.greeting.value }}"
        description: the greeting says bye
        equalTo: Bye World mocked
"#;

async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn yaml(http: &reqwest::Client, method: reqwest::Method, url: String, body: &str) -> reqwest::RequestBuilder {
    http.request(method, url).header("content-type", "application/x-yaml").body(body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suite_is_kept_beside_its_flow_run_on_the_server_and_its_last_results_kept_per_case() {
    let (home, flows) = (temp_dir("baton-srv-tests-home"), temp_dir("baton-srv-tests-flows"));
    std::fs::write(flows.join("greet.yaml"), FLOW).expect("flow");
    let server = start(&home, &flows).await;
    let base = format!("{}/api/v1/main", server.url());
    let http = reqwest::Client::new();

    // create: kept in the flows folder, beside the flow
    let (status, created) = send(yaml(&http, reqwest::Method::POST, format!("{base}/tests"), SUITE)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["flowId"], json!("greet"));
    assert_eq!(created["source"], json!(SUITE));
    let kept = flows.join("company.team.greet_tests.test.yml");
    assert_eq!(std::fs::read_to_string(&kept).expect("kept beside the flows"), SUITE);
    let (status, again) = send(yaml(&http, reqwest::Method::POST, format!("{base}/tests"), SUITE)).await;
    assert_eq!(status, 409, "{again}");
    // the flow is still one flow: the test file beside it is not a flow
    let (status, flow) = send(http.get(format!("{base}/flows/company.team/greet"))).await;
    assert_eq!((status, &flow["id"]), (200, &json!("greet")), "{flow}");

    // refused, naming the problem
    let unknown_task = SUITE.replace("id: greet_tests", "id: bad").replacen("- id: fetch", "- id: nope", 1);
    let (status, e) = send(yaml(&http, reqwest::Method::POST, format!("{base}/tests"), &unknown_task)).await;
    assert_eq!(status, 422, "{e}");
    assert!(e["message"].as_str().is_some_and(|m| m.contains("nope")), "{e}");
    let no_flow = SUITE.replace("flowId: greet", "flowId: missing").replace("id: greet_tests", "id: bad2");
    let (status, e) = send(yaml(&http, reqwest::Method::POST, format!("{base}/tests"), &no_flow)).await;
    assert_eq!(status, 422, "{e}");
    assert!(e["message"].as_str().is_some_and(|m| m.contains("company.team.missing")), "{e}");
    let (status, v) =
        send(yaml(&http, reqwest::Method::POST, format!("{base}/tests/validate"), "id: x\nnamespace: n\n")).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["constraints"].as_str().is_some_and(|c| !c.is_empty()), "{v}");
    let (status, v) = send(yaml(&http, reqwest::Method::POST, format!("{base}/tests/validate"), SUITE)).await;
    assert_eq!((status, &v["constraints"]), (200, &Value::Null), "{v}");

    // search and get
    let (status, found) = send(http.get(format!("{base}/tests/search?namespace=company&flowId=greet"))).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["total"], json!(1), "{found}");
    assert_eq!(found["results"][0]["id"], json!("greet_tests"));
    let (status, got) = send(http.get(format!("{base}/tests/company.team/greet_tests"))).await;
    assert_eq!((status, &got["testCases"][1]["id"]), (200, &json!("expects_a_bye")), "{got}");

    // run: one case passes, one fails with its expected and actual value
    let started = Instant::now();
    let (status, run) = send(http.post(format!("{base}/tests/company.team/greet_tests/run"))).await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["state"], json!("FAILED"), "{run}");
    assert_eq!(run["testSuiteId"], json!("greet_tests"));
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{run}");
    assert_eq!((&results[0]["testId"], &results[0]["state"]), (&json!("greets"), &json!("SUCCESS")), "{run}");
    assert_eq!(results[1]["state"], json!("FAILED"), "{run}");
    let failed = &results[1]["assertionResults"][0];
    assert_eq!(failed["isSuccess"], json!(false), "{run}");
    assert_eq!(failed["operator"], json!("equalTo"));
    assert_eq!(failed["expected"], json!("Bye World mocked"));
    assert_eq!(failed["actual"], json!("Hello World mocked"));
    assert!(failed["errorMessage"].as_str().is_some_and(|m| m.contains("to equal 'Bye World mocked'")), "{run}");
    println!("a two-case suite ran through the API in {} ms", took.as_millis());

    // the test executions are not the server's
    let (_, execs) = send(http.get(format!("{base}/executions/search"))).await;
    assert_eq!(execs["total"], json!(0), "{execs}");

    // a run of one case keeps the other case's last result
    let (status, one) =
        send(http.post(format!("{base}/tests/company.team/greet_tests/run")).json(&json!({"testCases": ["greets"]})))
            .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["results"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one["state"], json!("SUCCESS"), "{one}");
    let (status, e) =
        send(http.post(format!("{base}/tests/company.team/greet_tests/run")).json(&json!({"testCases": ["nope"]})))
            .await;
    assert_eq!(status, 422, "{e}");
    let last_of = || {
        http.post(format!("{base}/tests/results/search/last"))
            .json(&json!({"testSuiteIds": [{"namespace": "company.team", "id": "greet_tests"}]}))
    };
    let (status, last) = send(last_of()).await;
    assert_eq!(status, 200, "{last}");
    let cases = &last["results"][0]["results"];
    assert_eq!(cases.as_array().map(Vec::len), Some(2), "{last}");
    assert_eq!((&cases[0]["state"], &cases[1]["state"]), (&json!("SUCCESS"), &json!("FAILED")), "{last}");
    assert_eq!(last["results"][0]["state"], json!("FAILED"), "{last}");

    // update the failing expectation: the suite passes
    let fixed = SUITE.replace("equalTo: Bye World mocked", "equalTo: Hello World mocked");
    let url = format!("{base}/tests/company.team/greet_tests");
    let (status, updated) = send(yaml(&http, reqwest::Method::PUT, url.clone(), &fixed)).await;
    assert_eq!(status, 200, "{updated}");
    let (_, run) = send(http.post(format!("{url}/run"))).await;
    assert_eq!(run["state"], json!("SUCCESS"), "{run}");

    // delete: the file and its results go
    let (status, _) = send(http.delete(url.clone())).await;
    assert_eq!(status, 204);
    assert!(!kept.exists(), "the test file is removed");
    assert!(flows.join("greet.yaml").exists(), "the flow stays");
    let (status, _) = send(http.get(url.clone())).await;
    assert_eq!(status, 404);
    let (_, last) = send(last_of()).await;
    assert_eq!(last["results"], json!([]), "{last}");

    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&flows);
}

/// Every file under `dir` whose name is `name`.
fn find(dir: &Path, name: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(find(&p, name));
        } else if p.file_name().is_some_and(|n| n == name) {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gcp_api_function_keeps_suites_in_internal_storage_and_runs_them_isolated() {
    use e2e::functions::{Cluster, ClusterOptions};
    let cluster =
        Cluster::start(ClusterOptions { flows: vec![("greet.yaml".into(), FLOW.into())], ..Default::default() }).await;
    let base = format!("{}api/v1", cluster.api.url);
    let http = reqwest::Client::new();
    let (status, created) = send(yaml(&http, reqwest::Method::POST, format!("{base}/tests"), SUITE)).await;
    assert_eq!(status, 200, "{created}");
    // internal storage under tests/{namespace}/{id}.yml, not the flows folder
    let kept = find(&cluster.home, "greet_tests.yml");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].display().to_string().contains("tests/company.team"), "{kept:?}");
    assert!(find(&cluster.home.join("flows"), "greet_tests.yml").is_empty());
    let (status, found) = send(http.get(format!("{base}/tests/search?flowId=greet"))).await;
    assert_eq!((status, &found["total"]), (200, &json!(1)), "{found}");
    let (status, run) = send(http.post(format!("{base}/tests/company.team/greet_tests/run"))).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["state"], json!("FAILED"), "{run}");
    let states: Vec<&Value> = run["results"].as_array().expect("results").iter().map(|r| &r["state"]).collect();
    assert_eq!(states, [&json!("SUCCESS"), &json!("FAILED")], "{run}");
    assert_eq!(run["results"][1]["assertionResults"][0]["actual"], json!("Hello World mocked"), "{run}");
    let (_, execs) = send(http.get(format!("{base}/executions/search"))).await;
    assert_eq!(execs["total"], json!(0), "{execs}");
    // a bulk run by namespace, then the history, newest first
    let (status, bulk) = send(http.post(format!("{base}/tests/run")).json(&json!({"namespace": "company"}))).await;
    assert_eq!(status, 200, "{bulk}");
    assert_eq!((&bulk["numberOfTestSuitesToBeRun"], &bulk["numberOfTestCasesToBeRun"]), (&json!(1), &json!(2)));
    let (status, hist) = send(http.get(format!("{base}/tests/results/search?testSuiteId=greet_tests"))).await;
    assert_eq!((status, &hist["total"]), (200, &json!(2)), "{hist}");
    assert_eq!(hist["results"][0]["id"], bulk["results"][0]["id"], "newest first: {hist}");
    assert_eq!(hist["results"][1]["id"], run["id"], "{hist}");
    let (status, one) = send(http.get(format!("{base}/tests/results/{}", run["id"].as_str().unwrap_or("")))).await;
    assert_eq!((status, &one["state"]), (200, &json!("FAILED")), "{one}");
    // disabled and enabled by ids on this runtime too
    let ids = json!({"ids": [{"namespace": "company.team", "id": "greet_tests"}]});
    let (status, off) = send(http.post(format!("{base}/tests/disable/by-ids")).json(&ids)).await;
    assert_eq!((status, &off["count"]), (200, &json!(1)), "{off}");
    let (_, got) = send(http.get(format!("{base}/tests/company.team/greet_tests"))).await;
    assert_eq!(got["disabled"], json!(true), "{got}");
    let (_, on) = send(http.post(format!("{base}/tests/enable/by-ids")).json(&ids)).await;
    assert_eq!(on["count"], json!(1), "{on}");
    let (status, del) = send(http.delete(format!("{base}/tests/by-ids")).json(&ids)).await;
    assert_eq!((status, &del["count"]), (200, &json!(1)), "{del}");
    assert!(find(&cluster.home, "greet_tests.yml").is_empty(), "deleted");
    let (_, hist) = send(http.get(format!("{base}/tests/results/search?testSuiteId=greet_tests"))).await;
    assert_eq!(hist["total"], json!(0), "the history goes with the suite: {hist}");
}

const OTHER_FLOW: &str = "id: other\nnamespace: elsewhere\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.debug.Return\n    format: hi\n";
const OTHER_SUITE: &str = "id: other_tests\nnamespace: elsewhere\nflowId: other\ntestCases:\n  - id: says_hi\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: \"{{ outputs.say.value }}\"\n        equalTo: hi\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suites_run_in_bulk_by_namespace_and_each_suite_keeps_a_bounded_history_newest_first() {
    use shared::api::test_history::MAX_RESULTS_PER_TEST;
    let (home, flows) = (temp_dir("baton-srv-tests-bulk-home"), temp_dir("baton-srv-tests-bulk-flows"));
    std::fs::write(flows.join("greet.yaml"), FLOW).expect("flow");
    std::fs::write(flows.join("other.yaml"), OTHER_FLOW).expect("flow");
    let server = start(&home, &flows).await;
    let base = format!("{}/api/v1/main", server.url());
    let http = reqwest::Client::new();
    for suite in [SUITE, OTHER_SUITE] {
        let (status, created) = send(yaml(&http, reqwest::Method::POST, format!("{base}/tests"), suite)).await;
        assert_eq!(status, 200, "{created}");
    }

    // by namespace (children included): only company.team's suite runs
    let started = Instant::now();
    let (status, bulk) = send(http.post(format!("{base}/tests/run")).json(&json!({"namespace": "company"}))).await;
    println!("a bulk run of 1 suite (2 cases) took {} ms", started.elapsed().as_millis());
    assert_eq!(status, 200, "{bulk}");
    assert_eq!(bulk["numberOfTestSuitesToBeRun"], json!(1), "{bulk}");
    assert_eq!(bulk["numberOfTestCasesToBeRun"], json!(2), "{bulk}");
    assert_eq!(bulk["requestMade"]["includeChildNamespaces"], json!(true), "{bulk}");
    assert_eq!(bulk["results"][0]["testSuiteId"], json!("greet_tests"), "{bulk}");
    assert_eq!(bulk["results"][0]["state"], json!("FAILED"), "{bulk}");
    // no namespace, exact namespace without children, by flow
    let (_, all) = send(http.post(format!("{base}/tests/run"))).await;
    assert_eq!(all["numberOfTestSuitesToBeRun"], json!(2), "{all}");
    let (_, none) = send(
        http.post(format!("{base}/tests/run")).json(&json!({"namespace": "company", "includeChildNamespaces": false})),
    )
    .await;
    assert_eq!(none["numberOfTestSuitesToBeRun"], json!(0), "{none}");
    let (_, by_flow) = send(http.post(format!("{base}/tests/run")).json(&json!({"flowId": "other"}))).await;
    assert_eq!(by_flow["results"][0]["state"], json!("SUCCESS"), "{by_flow}");
    let (status, e) = send(http.post(format!("{base}/tests/run")).json(&json!({"nope": 1}))).await;
    assert_eq!(status, 400, "{e}");

    // the history: every run kept, newest first, at most MAX_RESULTS_PER_TEST per suite
    let search = |q: &str| http.get(format!("{base}/tests/results/search?{q}"));
    let (status, hist) = send(search("testSuiteId=other_tests")).await;
    assert_eq!((status, &hist["total"]), (200, &json!(2)), "{hist}");
    assert_eq!(hist["results"][0]["id"], by_flow["results"][0]["id"], "newest first: {hist}");
    let (_, by_ns) = send(search("namespace=elsewhere&size=100")).await;
    assert_eq!(by_ns["total"], json!(2), "{by_ns}");
    let (_, by_flow_id) = send(search("flowId=greet&size=100")).await;
    assert_eq!(by_flow_id["total"], json!(2), "{by_flow_id}");
    let first = bulk["results"][0]["id"].as_str().expect("run id").to_string();
    let (status, got) = send(http.get(format!("{base}/tests/results/{first}"))).await;
    assert_eq!((status, &got["testSuiteId"]), (200, &json!("greet_tests")), "{got}");
    let started = Instant::now();
    for _ in 0..MAX_RESULTS_PER_TEST {
        let (status, _) = send(http.post(format!("{base}/tests/elsewhere/other_tests/run"))).await;
        assert_eq!(status, 200);
    }
    println!("{MAX_RESULTS_PER_TEST} runs of a one-case suite took {} ms", started.elapsed().as_millis());
    let (_, hist) = send(search("testSuiteId=other_tests&size=100")).await;
    assert_eq!(hist["total"], json!(MAX_RESULTS_PER_TEST), "bounded: {hist}");
    let starts: Vec<&str> =
        hist["results"].as_array().expect("results").iter().filter_map(|r| r["startDate"].as_str()).collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first: {starts:?}");
    let (_, page2) = send(search("testSuiteId=other_tests&size=5&page=2")).await;
    assert_eq!(page2["results"][0]["id"], hist["results"][5]["id"], "{page2}");
    let (_, asc) = send(search("testSuiteId=other_tests&size=1&sort=startDate:asc")).await;
    assert_eq!(asc["results"][0]["id"], hist["results"][MAX_RESULTS_PER_TEST - 1]["id"], "{asc}");
    let oldest = by_flow["results"][0]["id"].as_str().expect("id");
    let (status, gone) = send(http.get(format!("{base}/tests/results/{oldest}"))).await;
    assert_eq!(status, 404, "the oldest run went: {gone}");
    assert!(gone["message"].as_str().is_some_and(|m| m.contains("MAX_RESULTS_PER_TEST")), "{gone}");

    // by ids: disable (its cases are skipped), enable, delete; an unknown id is not counted
    let ids = json!({"ids": [{"namespace": "elsewhere", "id": "other_tests"}, {"namespace": "no", "id": "none"}]});
    let (status, off) = send(http.post(format!("{base}/tests/disable/by-ids")).json(&ids)).await;
    assert_eq!((status, &off["count"]), (200, &json!(1)), "{off}");
    let (_, got) = send(http.get(format!("{base}/tests/elsewhere/other_tests"))).await;
    assert_eq!(got["disabled"], json!(true), "{got}");
    let (_, run) = send(http.post(format!("{base}/tests/elsewhere/other_tests/run"))).await;
    assert_eq!(run["results"][0]["state"], json!("SKIPPED"), "{run}");
    let (_, on) = send(http.post(format!("{base}/tests/enable/by-ids")).json(&ids)).await;
    assert_eq!(on["count"], json!(1), "{on}");
    let (_, run) = send(http.post(format!("{base}/tests/elsewhere/other_tests/run"))).await;
    assert_eq!(run["results"][0]["state"], json!("SUCCESS"), "{run}");
    let (status, e) = send(http.post(format!("{base}/tests/enable/by-ids")).json(&json!([]))).await;
    assert_eq!(status, 400, "{e}");
    let both = json!({"ids": [{"namespace": "elsewhere", "id": "other_tests"}, {"namespace": "company.team", "id": "greet_tests"}]});
    let (status, del) = send(http.delete(format!("{base}/tests/by-ids")).json(&both)).await;
    assert_eq!((status, &del["count"]), (200, &json!(2)), "{del}");
    let (_, left) = send(http.get(format!("{base}/tests/search"))).await;
    assert_eq!(left["total"], json!(0), "{left}");
    let (_, hist) = send(search("testSuiteId=other_tests")).await;
    assert_eq!(hist["total"], json!(0), "the history goes with the suite: {hist}");

    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&flows);
}
