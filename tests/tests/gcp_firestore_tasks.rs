//! The `firestore.*` tasks end to end on Google's Firestore emulator
//! (`e2e::gcp_emulators`, a project of its own): one flow sets three
//! documents (a map, a JSON string, an id Firestore makes), gets one,
//! queries with a filter (FETCH, STORE, FETCH_ONE, an order, a limit and
//! an offset), deletes one and finds it gone — outputs checked; and what
//! validation refuses, naming the property.

use e2e::gcp_emulators::{fresh_project, gcp_emulators};
use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;

use crate::support::{Harness, harness_with_plugins, runs};

fn harness() -> Harness {
    let mut gcp = GcpConfig::emulators(None, None);
    gcp.endpoints = gcp.endpoints.with_firestore_emulator(&gcp_emulators().firestore_host);
    harness_with_plugins(PluginConfig { gcp, ..PluginConfig::default() })
}

fn output(e: &Execution, task: &str) -> Value {
    let r = runs(e, task);
    assert!(!r.is_empty(), "task {task} did not run: {:?}", e.error);
    Value::Object(r[0].outputs.as_deref().cloned().unwrap_or_default())
}

fn is_instant(v: &Value) -> bool {
    v.as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_sets_gets_queries_and_deletes_documents() {
    let h = harness();
    let project = fresh_project("fst");
    let flow = format!(
        r#"
id: firestore
namespace: test.firestore
inputs:
  - id: json_string
    type: STRING
    defaults: '{{"firstname": "Jane", "lastname": "Doe", "age": 41}}'
tasks:
  - id: set_john
    type: io.kestra.plugin.gcp.firestore.Set
    collection: persons
    childPath: "1"
    document:
      firstname: John
      lastname: Doe
      age: 42
      address: {{city: Paris, zip: "75001"}}
      tags: [a, b]
  - id: set_jane
    type: io.kestra.plugin.gcp.firestore.Set
    collection: persons
    childPath: "2"
    document: "{{{{ inputs.json_string }}}}"
  - id: set_generated
    type: io.kestra.plugin.gcp.firestore.Set
    collection: persons
    document:
      firstname: Max
      lastname: Mustermann
  - id: get
    type: io.kestra.plugin.gcp.firestore.Get
    collection: persons
    childPath: "1"
  - id: doe_fetch
    type: io.kestra.plugin.gcp.firestore.Query
    collection: persons
    fetchType: FETCH
    filters:
      - field: lastname
        value: Doe
    orderBy: firstname
  - id: doe_store
    type: io.kestra.plugin.gcp.firestore.Query
    collection: persons
    filters:
      - field: lastname
        value: Doe
      - field: firstname
        operator: GREATER_THAN
        value: Jb
  - id: last_one
    type: io.kestra.plugin.gcp.firestore.Query
    collection: persons
    fetchType: FETCH_ONE
    orderBy: firstname
    orderDirection: DESCENDING
    offset: 1
    limit: 5
  - id: delete
    type: io.kestra.plugin.gcp.firestore.Delete
    collection: persons
    childPath: "1"
  - id: gone
    type: io.kestra.plugin.gcp.firestore.Get
    collection: persons
    childPath: "1"
  - id: left
    type: io.kestra.plugin.gcp.firestore.Query
    collection: persons
    fetchType: FETCH
    orderBy: firstname
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: {project}
"#
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    for task in ["set_john", "set_jane", "set_generated", "delete"] {
        assert!(is_instant(&output(&e, task)["updatedTime"]), "{task}: {}", output(&e, task));
    }
    assert_eq!(
        output(&e, "get")["row"],
        json!({"address": {"city": "Paris", "zip": "75001"}, "age": 42, "firstname": "John", "lastname": "Doe",
               "tags": ["a", "b"]})
    );
    let fetched = output(&e, "doe_fetch");
    assert_eq!(fetched["size"], json!(2));
    let names: Vec<&str> =
        fetched["rows"].as_array().unwrap().iter().map(|r| r["firstname"].as_str().unwrap()).collect();
    assert_eq!(names, ["Jane", "John"]);
    assert_eq!(fetched["rows"][0]["age"], json!(41));

    let stored = output(&e, "doe_store");
    assert_eq!(stored["size"], json!(1), "{stored}");
    let text = String::from_utf8(h.read_storage(stored["uri"].as_str().unwrap()).await).unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["firstname"], json!("John"));

    // descending: Max, John, Jane; offset 1 → John
    let one = output(&e, "last_one");
    assert_eq!((one["size"].clone(), one["row"]["firstname"].clone()), (json!(1), json!("John")));

    assert!(output(&e, "gone").get("row").is_none(), "deleted: {}", output(&e, "gone"));
    let left = output(&e, "left");
    assert_eq!(left["size"], json!(2));
    let names: Vec<&str> = left["rows"].as_array().unwrap().iter().map(|r| r["firstname"].as_str().unwrap()).collect();
    assert_eq!(names, ["Jane", "Max"]);
}

#[test]
fn validation_names_the_property() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let flow = r#"
id: bad
namespace: test.firestore
tasks:
  - id: get
    type: io.kestra.plugin.gcp.firestore.Get
    collection: persons/1
    childPath: x
    where: y
  - id: delete
    type: io.kestra.plugin.gcp.firestore.Delete
    collection: persons
    childPath: a/b
  - id: query
    type: io.kestra.plugin.gcp.firestore.Query
    collection: persons
    fetchType: ALL
    filters:
      - field: a
        value: b
        operator: IN
  - id: set
    type: io.kestra.plugin.gcp.firestore.Set
    collection: persons
    document: '[1]'
"#;
    let (_, diags) = shared::validate::validate_source("f.yaml", flow, &registry, &renderer);
    let all = diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    assert!(all.contains("'persons/1' is a document path, not a collection"), "{all}");
    assert!(all.contains("unknown property 'where' for io.kestra.plugin.gcp.firestore.Get"), "{all}");
    assert!(all.contains("'a/b' names a collection, not a document"), "{all}");
    assert!(all.contains("'IN' is not an operator"), "{all}");
    assert!(all.contains("property 'fetchType' of io.kestra.plugin.gcp.firestore.Query: 'ALL' is not one of"), "{all}");
    assert!(all.contains("the document must be a JSON object"), "{all}");
}
