//! Odoo (`io.kestra.plugin.odoo.Query`) in flows, against Python's own
//! XML-RPC server playing Odoo's external API (fixtures/odoo/fake_odoo.py:
//! `common.authenticate` and `object.execute_kw` over in-memory models):
//! Kestra's `odoo-create-leads-from-webhook` blueprint started by its
//! webhook twice (a new lead created, then the same email updated, not
//! duplicated), every operation and fetch type, and a refused login and a
//! fault named.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use shared::model::StateType;
use shared::runtime::secrets::Secrets;

use crate::support::{harness_with, outputs, runs, secret};

/// The fake server; killed when dropped.
struct FakeOdoo {
    child: Child,
    url: String,
}

impl Drop for FakeOdoo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fake_odoo() -> FakeOdoo {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/odoo/fake_odoo.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start python3 {}: {e}", script.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the fake's port");
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("the fake printed '{line}', not a port"));
    FakeOdoo { child, url: format!("http://127.0.0.1:{port}") }
}

/// Kestra's blueprint odoo-create-leads-from-webhook, its retry intervals
/// shortened.
const LEADS: &str = r#"
id: odoo-create-leads-from-webhook
namespace: company.sales
pluginDefaults:
  - type: io.kestra.plugin.odoo.Query
    values:
      url: "{{ secret('ODOO_URL') }}"
      db: "{{ secret('ODOO_DB') }}"
      username: "{{ secret('ODOO_USERNAME') }}"
      password: "{{ secret('ODOO_PASSWORD') }}"
tasks:
  - id: validate_payload
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ (trigger.body.email is null) or (trigger.body.email | length < 5) or (trigger.body.email | length > 254) or (not (trigger.body.email contains '@')) or (not (trigger.body.email contains '.')) or (trigger.body.name is null) or (trigger.body.name | length == 0) }}"
    errorMessage: "Rejected lead webhook: email or name missing or malformed for payload {{ trigger.body | toJson }}."
  - id: find_existing
    type: io.kestra.plugin.odoo.Query
    model: crm.lead
    operation: SEARCH_READ
    filters:
      - ["email_from", "=", "{{ trigger.body.email }}"]
      - ["type", "=", "lead"]
    fields:
      - id
      - email_from
    limit: 1
    fetchType: FETCH
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 3
  - id: upsert_lead
    type: io.kestra.plugin.core.flow.If
    condition: "{{ (outputs.find_existing.size ?? 0) > 0 }}"
    then:
      - id: update_lead
        type: io.kestra.plugin.odoo.Query
        model: crm.lead
        operation: WRITE
        ids:
          - "{{ outputs.find_existing.rows[0].id }}"
        values:
          contact_name: "{{ trigger.body.name }}"
          phone: "{{ trigger.body.phone ?? '' }}"
          description: "Updated from webhook submission. utm_source={{ trigger.body.utm_source ?? 'unknown' }} utm_campaign={{ trigger.body.utm_campaign ?? 'unknown' }}. {{ trigger.body.message ?? '' }}"
      - id: log_updated
        type: io.kestra.plugin.core.log.Log
        message: "Updated existing CRM lead id {{ outputs.find_existing.rows[0].id }} from webhook submission."
    else:
      - id: create_lead
        type: io.kestra.plugin.odoo.Query
        model: crm.lead
        operation: CREATE
        values:
          name: "{{ trigger.body.company ?? 'Website enquiry' }}"
          contact_name: "{{ trigger.body.name }}"
          email_from: "{{ trigger.body.email }}"
          phone: "{{ trigger.body.phone ?? '' }}"
          description: "Captured from webhook. utm_source={{ trigger.body.utm_source ?? 'unknown' }} utm_campaign={{ trigger.body.utm_campaign ?? 'unknown' }}. {{ trigger.body.message ?? '' }}"
          type: lead
      - id: log_created
        type: io.kestra.plugin.core.log.Log
        message: "Created new CRM lead id {{ outputs.create_lead.ids[0] }} from webhook submission."
triggers:
  - id: form_submission
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('ODOO_WEBHOOK_KEY') }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_lead_blueprint_creates_then_updates_the_same_lead() {
    let odoo = fake_odoo();
    let h = harness_with(Secrets::from_vars([
        secret("ODOO_URL", &odoo.url),
        secret("ODOO_DB", "sales"),
        secret("ODOO_USERNAME", "bot"),
        secret("ODOO_PASSWORD", "secret"),
        secret("ODOO_WEBHOOK_KEY", "k"),
    ]));
    let webhook = "io.kestra.plugin.core.trigger.Webhook";
    let body =
        json!({"body": {"email": "ada@example.com", "name": "Ada", "company": "Analytical", "utm_source": "ads"}});
    let e = h.run_triggered(LEADS, "form_submission", webhook, body).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    assert_eq!(outputs(&e, "find_existing")["size"], 0);
    let id = outputs(&e, "create_lead")["ids"][0].clone();
    assert!(id.as_i64().is_some_and(|i| i > 100), "{id}");
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains(&format!("Created new CRM lead id {id} from webhook submission.")), "{logs}");

    // the same email again: found, updated, not duplicated
    let body = json!({"body": {"email": "ada@example.com", "name": "Ada L.", "phone": "+44 1"}});
    let e = h.run_triggered(LEADS, "form_submission", webhook, body).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    assert_eq!(outputs(&e, "find_existing")["rows"], json!([{"id": id, "email_from": "ada@example.com"}]));
    assert_eq!(outputs(&e, "update_lead")["ids"], json!([id]));
    assert!(runs(&e, "create_lead").is_empty());

    // a malformed payload is refused before Odoo is called
    let e = h.run_triggered(LEADS, "form_submission", webhook, json!({"body": {"email": "x"}})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(runs(&e, "find_existing").is_empty());

    // what the two runs left in Odoo, read back by the task itself
    let check = format!(
        "id: check\nnamespace: company.sales\ntasks:\n  - id: read\n    type: io.kestra.plugin.odoo.Query\n    \
         url: {}\n    db: sales\n    username: bot\n    password: secret\n    model: crm.lead\n    operation: READ\n    \
         ids: [{id}]\n    fields: [contact_name, phone, name]\n    fetchType: FETCH_ONE\n",
        odoo.url
    );
    let e = h.run_ok(&check).await;
    assert_eq!(
        outputs(&e, "read")["row"],
        json!({"id": id, "contact_name": "Ada L.", "phone": "+44 1", "name": "Analytical"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_operation_and_fetch_type() {
    let odoo = fake_odoo();
    let h = crate::support::harness();
    let flow = format!(
        r#"
id: ops
namespace: company.sales
pluginDefaults:
  - type: io.kestra.plugin.odoo.Query
    values:
      url: {url}
      db: sales
      username: bot
      password: secret
      model: res.partner
tasks:
  - id: companies
    type: io.kestra.plugin.odoo.Query
    operation: SEARCH_READ
    filters: [["is_company", "=", true]]
    fields: [name]
    fetchType: FETCH
  - id: stored
    type: io.kestra.plugin.odoo.Query
    operation: SEARCH_READ
    filters: [["customer_rank", ">", 0]]
    fetchType: STORE
  - id: none
    type: io.kestra.plugin.odoo.Query
    operation: SEARCH_READ
  - id: ids
    type: io.kestra.plugin.odoo.Query
    operation: SEARCH
    filters: [["is_company", "=", true]]
    offset: 1
    limit: 5
    fetchType: FETCH
  - id: count
    type: io.kestra.plugin.odoo.Query
    operation: SEARCH_COUNT
    filters: [["is_company", "=", true]]
  - id: create
    type: io.kestra.plugin.odoo.Query
    operation: CREATE
    values:
      name: Initech
      is_company: true
      customer_rank: 1
      note: null
  - id: unlink
    type: io.kestra.plugin.odoo.Query
    operation: UNLINK
    ids: ["{{{{ outputs.create.ids[0] }}}}"]
  - id: after
    type: io.kestra.plugin.odoo.Query
    operation: SEARCH_COUNT
"#,
        url = odoo.url
    );
    let e = h.run_ok(&flow).await;
    assert_eq!(outputs(&e, "companies")["rows"], json!([{"id": 7, "name": "Acme"}, {"id": 9, "name": "Globex"}]));
    assert_eq!(outputs(&e, "companies")["size"], 2);
    let stored = outputs(&e, "stored");
    assert_eq!(stored["size"], 1);
    let ion = String::from_utf8(h.read_storage(stored["uri"].as_str().unwrap()).await).unwrap();
    assert!(ion.contains("Acme") && ion.contains("customer_rank") && !ion.contains("Globex"), "{ion}");
    assert_eq!(Value::Object(outputs(&e, "none").clone()), json!({"size": 0}), "NONE outputs only size 0, as Kestra");
    assert_eq!(outputs(&e, "ids")["rows"], json!([{"id": 9}]));
    assert_eq!(outputs(&e, "count")["size"], 2);
    assert_eq!(outputs(&e, "unlink")["ids"], outputs(&e, "create")["ids"]);
    assert_eq!(outputs(&e, "after")["size"], 3, "the created partner is gone again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_login_and_a_fault_are_named() {
    let odoo = fake_odoo();
    let h = crate::support::harness();
    let task = |password: &str, model: &str| {
        format!(
            "id: refused\nnamespace: company.sales\ntasks:\n  - id: q\n    type: io.kestra.plugin.odoo.Query\n    \
             url: {}\n    db: sales\n    username: bot\n    password: {password}\n    model: {model}\n    operation: SEARCH_COUNT\n",
            odoo.url
        )
    };
    let e = h.run(&task("wrong", "res.partner"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Failed to authenticate with Odoo") && logs.contains("'bot'"), "{logs}");
    let e = h.run(&task("secret", "no.such"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Failed to execute no.such.search_count: Object no.such doesn't exist"), "{logs}");
}
