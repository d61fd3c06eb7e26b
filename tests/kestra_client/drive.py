"""Drives a Baton API (baton server local, or the GCP api function) with
Kestra's published Python client (kestra-api-client 1.0.0 from PyPI), so
request paths, parameters, content types and basic auth are built by code
nobody on Baton wrote. Where the client's generated models are stricter than
what Kestra's own server returns (e.g. `Execution.parentId` required, a
trigger's `date` required, `create_execution` typed as a list), the call
goes through the same client method's `_without_preload_content` variant and
the JSON is checked here against Kestra's documented shape.

Usage: drive.py BASE_URL [USER:PASSWORD]
Prints one line per checked operation; exits 1 at the first failure.
"""

import http.server
import json
import sys
import threading
import time

import kestra_api_client as k
from kestra_api_client.exceptions import ApiException

NS = "test.client"
T = "main"

FLOWS = """
id: hello
namespace: test.client
labels:
  team: data
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: hello from the client
  - id: csv
    type: io.kestra.plugin.core.http.Download
    uri: "DATA_URL"
---
id: scheduled
namespace: test.client
tasks:
  - id: tick
    type: io.kestra.plugin.core.log.Log
    message: "tick {{ trigger.date }}"
triggers:
  - id: monthly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 1 * *"
"""

SLOW = """id: slow
namespace: test.client
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
"""

BROKEN = """id: broken
namespace: test.client
tasks:
  - id: x
    type: io.kestra.plugin.core.log.Nope
"""


def ok(what):
    print("ok", what, flush=True)


def fail(what, detail):
    print("FAILED", what, ":", detail, flush=True)
    sys.exit(1)


def check(cond, what, detail=""):
    if not cond:
        fail(what, detail)


def raw(resp, status=200):
    """Status-checked JSON of a `_without_preload_content` response."""
    data = resp.data.decode() if resp.data else ""
    if resp.status != status:
        fail("status", f"expected {status}, got {resp.status}: {data}")
    return json.loads(data) if data else None


def get_json(conf, path):
    """GET `path` with the client's basic auth, outside the generated client
    (whose `filters` parameter is serialized as one CSV string, which no
    Kestra server reads)."""
    import base64
    import urllib.request
    req = urllib.request.Request(conf.host + path)
    if conf.username:
        token = base64.b64encode(f"{conf.username}:{conf.password}".encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


class Data(http.server.BaseHTTPRequestHandler):
    """Serves the CSV the flow downloads (no test reaches the internet)."""

    def do_GET(self):
        body = b"a,b\n1,2\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    global FLOWS
    data = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Data)
    threading.Thread(target=data.serve_forever, daemon=True).start()
    FLOWS = FLOWS.replace("DATA_URL", f"http://127.0.0.1:{data.server_address[1]}/out.csv")
    url = sys.argv[1].rstrip("/")
    conf = k.Configuration(host=url)
    if len(sys.argv) > 2:
        conf.username, conf.password = sys.argv[2].split(":", 1)
    c = k.KestraClient(conf)

    # flows: import (multi-document YAML), create, get, update, search, validate
    failed = c.flows.import_flows(tenant=T, file_upload=("flows.yml", FLOWS.encode()))
    check(failed == [], "import_flows", failed)
    ok("flows.import_flows (2 flows)")
    created = c.flows.create_flow(tenant=T, body=SLOW)
    check(created.id == "slow" and created.namespace == NS and created.tasks[0].id == "wait", "create_flow", created)
    ok("flows.create_flow -> FlowWithSource")
    try:
        c.flows.create_flow(tenant=T, body=SLOW)
        fail("create_flow twice", "no error")
    except ApiException as e:
        check(e.status == 409, "create_flow twice", e)
    ok("flows.create_flow of an existing flow -> 409")
    got = c.flows.get_flow(namespace=NS, id="hello", source=True, allow_deleted=False, tenant=T)
    check(got["id"] == "hello" and "hello from the client" in got["source"], "get_flow source", got)
    check(got["labels"] == [{"key": "team", "value": "data"}], "get_flow labels", got)
    got = c.flows.get_flow(namespace=NS, id="hello", source=False, allow_deleted=False, tenant=T)
    check("source" not in got, "get_flow without source", got)
    ok("flows.get_flow with and without source")
    # typed as oneOf(Flow, FlowWithSource), which both match any flow: read raw
    updated = raw(c.flows.update_flow_without_preload_content(
        id="slow", namespace=NS, tenant=T, body=SLOW.replace("PT60S", "PT30S")))
    check(updated["id"] == "slow" and "PT30S" in updated["source"], "update_flow", updated)
    ok("flows.update_flow")
    # Flow.labels is typed oneOf(List[str], Map), Kestra writes [{key, value}]: read raw
    page = raw(c.flows.search_flows_without_preload_content(page=1, size=2, tenant=T, namespace=NS))
    check(page["total"] == 3 and len(page["results"]) == 2, "search_flows paging", page)
    ok("flows.search_flows (total 3, page of 2)")
    violations = c.flows.validate_flows(tenant=T, body=BROKEN)
    check(len(violations) == 1 and "Nope" in violations[0].constraints, "validate_flows", violations)
    ok("flows.validate_flows names the bad type")

    # executions: start with labels and wait, search, get, labels, replay, kill
    ex = raw(c.executions.create_execution_without_preload_content(
        namespace=NS, id="hello", wait=True, tenant=T, labels=["env:test"]))
    check(ex["state"]["current"] == "SUCCESS", "create_execution wait", ex)
    check({"key": "env", "value": "test"} in ex["labels"], "create_execution labels", ex)
    eid = ex["id"]
    check(ex.get("url", "").endswith(f"/ui/main/executions/{NS}/hello/{eid}"), "create_execution url (Kestra's ExecutionResponse: the UI page at Kestra's path)", ex.get("url"))
    ok("executions.create_execution wait=true labels -> SUCCESS")
    found = raw(c.executions.search_executions_without_preload_content(
        page=1, size=10, tenant=T, namespace=NS, flow_id="hello", labels=["env:test"]))
    check(found["total"] == 1 and found["results"][0]["id"] == eid, "search_executions", found)
    check(found["results"][0]["state"]["current"] == "SUCCESS", "search_executions full execution", found)
    check(len(found["results"][0]["taskRunList"]) == 2, "search_executions task runs", found)
    ok("executions.search_executions (full executions, real total, labels)")
    none = raw(c.executions.search_executions_without_preload_content(
        page=1, size=10, tenant=T, namespace=NS, state=[k.StateType.FAILED]))
    check(none["total"] == 0, "search_executions by state", none)
    ok("executions.search_executions by state")
    c.executions.set_labels_on_terminated_execution(execution_id=eid, tenant=T, label=[k.Label(key="reviewed", value="yes")])
    again = raw(c.executions.get_execution_without_preload_content(execution_id=eid, tenant=T))
    check({"key": "reviewed", "value": "yes"} in again["labels"], "set_labels", again)
    ok("executions.set_labels_on_terminated_execution")
    replay = raw(c.executions.replay_execution_without_preload_content(execution_id=eid, tenant=T))
    check(replay["id"] != eid and replay["flowId"] == "hello", "replay_execution", replay)
    ok("executions.replay_execution -> a new execution")
    # flow graphs: of a stored flow, of a source, of an execution. The
    # generated FlowGraph model requires `flowables` and every relation's
    # type and value, which Kestra itself leaves out: read raw
    g = raw(c.flows.generate_flow_graph_without_preload_content(namespace=NS, id="hello", tenant=T))
    uids = [n["uid"] for n in g["nodes"]]
    check("root.greet" in uids and "root.csv" in uids, "generate_flow_graph", g)
    check(any(e["source"] == "root.greet" and e["target"] == "root.csv"
              and e["relation"].get("relationType") == "SEQUENTIAL" for e in g["edges"]), "generate_flow_graph edges", g)
    ok("flows.generate_flow_graph")
    g = raw(c.flows.generate_flow_graph_from_source_without_preload_content(tenant=T, body=SLOW))
    check(any(n["uid"] == "root.wait" for n in g["nodes"]), "generate_flow_graph_from_source", g)
    ok("flows.generate_flow_graph_from_source")
    g = raw(c.executions.get_execution_flow_graph_without_preload_content(execution_id=eid, tenant=T))
    greet = next((n for n in g["nodes"] if n["uid"] == "root.greet"), None)
    check(greet is not None and greet["taskRun"]["state"]["current"] == "SUCCESS", "get_execution_flow_graph", g)
    ok("executions.get_execution_flow_graph (task runs on the nodes)")
    # a namespace update through the client's only binding, Kestra's older
    # JSON form (a list of flows), keeping the namespace's other flows
    task = k.Task.from_dict({"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "from json"})
    upd = raw(c.flows.update_flows_in_namespace_from_json_without_preload_content(
        delete=False, namespace=NS, tenant=T,
        flow=[k.Flow(id="fromjson", namespace=NS, disabled=False, deleted=False, tasks=[task])]))
    check([f["id"] for f in upd] == ["fromjson"], "update_flows_in_namespace_from_json", upd)
    got = c.flows.get_flow(namespace=NS, id="fromjson", source=True, allow_deleted=False, tenant=T)
    check("from json" in got["source"] and got["tasks"][0]["id"] == "t", "update_flows_in_namespace_from_json source", got)
    c.flows.delete_flow(namespace=NS, id="fromjson", tenant=T)
    ok("flows.update_flows_in_namespace_from_json (delete=false)")
    csv = [t for t in again["taskRunList"] if t["taskId"] == "csv"][0]
    uri = csv["outputs"]["uri"]
    content = c.executions.download_file_from_execution_without_preload_content(execution_id=eid, path=uri, tenant=T)
    check(content.status == 200 and content.data == b"a,b\n1,2\n", "download_file", content.data)
    ok("executions.download_file_from_execution")
    metas = c.executions.get_file_metadatas_from_execution(execution_id=eid, path=uri, tenant=T)
    check(metas.size == 8, "get_file_metadatas_from_execution", metas)
    preview = c.executions.preview_file_from_execution(execution_id=eid, path=uri, max_rows=1, encoding="UTF-8", tenant=T)
    check(preview["content"] == "a,b\n" and preview["truncated"] is True, "preview_file_from_execution", preview)
    ok("executions file metas and preview (maxRows)")
    text = bytes(c.logs.download_logs_from_execution(execution_id=eid, tenant=T, min_level=k.Level.INFO)).decode()
    check("hello from the client" in text, "download_logs_from_execution", text)
    ok("logs.download_logs_from_execution")
    slow = raw(c.executions.create_execution_without_preload_content(namespace=NS, id="slow", wait=False, tenant=T))
    time.sleep(1)
    c.executions.kill_execution(execution_id=slow["id"], is_on_kill_cascade=True, tenant=T)
    for _ in range(100):
        st = raw(c.executions.get_execution_without_preload_content(execution_id=slow["id"], tenant=T))
        if st["state"]["current"] == "KILLED":
            break
        time.sleep(0.2)
    check(st["state"]["current"] == "KILLED", "kill_execution", st["state"])
    ok("executions.kill_execution -> KILLED")

    # logs
    logs = c.logs.list_logs_from_execution(execution_id=eid, tenant=T, min_level=k.Level.INFO, task_id="greet")
    check(any(l.message == "hello from the client" for l in logs), "list_logs_from_execution", logs)
    ok("logs.list_logs_from_execution minLevel taskId -> LogEntry list")
    searched = raw(c.logs.search_logs_without_preload_content(page=1, size=5, tenant=T, namespace=NS, q="hello from"))
    check(searched["total"] >= 1, "search_logs", searched)
    ok("logs.search_logs")
    # Kestra's filters[field][OPERATION] form, as its UI and the 2.0 SDK send it
    searched = get_json(conf, f"/api/v1/{T}/logs/search?filters[namespace][EQUALS]={NS}"
                        "&filters[level][EQUALS]=INFO&filters[q][EQUALS]=hello+from")
    check(searched["total"] >= 1 and all(r["namespace"] == NS for r in searched["results"]), "search_logs filters", searched)
    ok("logs.search_logs with filters[namespace][EQUALS]")

    # the other execution listings: a flow's executions, the latest of some flows, the namespaces
    byflow = raw(c.executions.search_executions_by_flow_id_without_preload_content(
        namespace=NS, flow_id="hello", page=1, size=50, tenant=T))
    check(any(r["id"] == eid for r in byflow["results"]) and byflow["total"] >= 1, "search_executions_by_flow_id", byflow)
    ok("executions.search_executions_by_flow_id (GET /executions)")
    latest = c.executions.get_latest_executions(tenant=T, execution_repository_interface_flow_filter=[
        k.ExecutionRepositoryInterfaceFlowFilter(namespace=NS, id="hello"),
        k.ExecutionRepositoryInterfaceFlowFilter(namespace=NS, id="never_ran")])
    check(len(latest) == 1 and latest[0].flow_id == "hello" and latest[0].namespace == NS, "get_latest_executions", latest)
    ok("executions.get_latest_executions (POST /executions/latest)")
    spaces = c.executions.list_executable_distinct_namespaces(tenant=T)
    check(NS in spaces, "list_executable_distinct_namespaces", spaces)
    ok("executions.list_executable_distinct_namespaces")
    # an expression rendered in a task run's context; an unknown variable is an error in the answer
    greet_id = [t for t in again["taskRunList"] if t["taskId"] == "greet"][0]["id"]
    r = c.executions.eval_task_run_expression(execution_id=eid, task_run_id=greet_id, tenant=T,
                                              body="{{ task.id }}:{{ taskrun.id }}:{{ flow.namespace }}")
    check(r.result == f"greet:{greet_id}:{NS}" and not r.error, "eval_task_run_expression", r)
    r = c.executions.eval_task_run_expression(execution_id=eid, task_run_id=greet_id, tenant=T, body="{{ nope }}")
    check(r.result is None and r.error, "eval_task_run_expression error", r)
    ok("executions.eval_task_run_expression (result, error)")
    runs = raw(c.executions.search_task_run_without_preload_content(page=1, size=50, tenant=T, namespace=NS, flow_id="hello"))
    check(any(t["id"] == greet_id for t in runs["results"]), "search_task_run", runs)
    ok("executions.search_task_run (GET /taskruns/search)")
    # flows exported as a ZIP, by query and by ids
    import io
    import zipfile
    z = zipfile.ZipFile(io.BytesIO(bytes(c.flows.export_flows_by_query(tenant=T, namespace=NS))))
    check("test.client.hello.yml" in z.namelist(), "export_flows_by_query", z.namelist())
    check(b"hello from the client" in z.read("test.client.hello.yml"), "export_flows_by_query source")
    z = zipfile.ZipFile(io.BytesIO(bytes(c.flows.export_flows_by_ids(
        tenant=T, id_with_namespace=[k.IdWithNamespace(namespace=NS, id="slow")]))))
    check(z.namelist() == ["test.client.slow.yml"], "export_flows_by_ids", z.namelist())
    ok("flows.export_flows_by_query and export_flows_by_ids (ZIP)")

    # KV: type inference, list, delete
    # as `curl -d @creds.json`: the body itself (the client would JSON-quote a str sent as application/json)
    c.kv.set_key_value(namespace=NS, key="creds", tenant=T, body='{"project": "p1"}', _content_type="text/plain")
    typed = c.kv.get_key_value(namespace=NS, key="creds", tenant=T)
    check(typed.type == k.KVType.JSON and typed.value == {"project": "p1"}, "kv JSON", typed)
    c.kv.set_key_value(namespace=NS, key="count", tenant=T, body="42", _content_type="text/plain")
    # KVControllerTypedValue.value is typed as an object: a number is read raw
    count = raw(c.kv.get_key_value_without_preload_content(namespace=NS, key="count", tenant=T))
    # 1.x's {type, value}; 2.0's revision and updated beside them
    check(count["type"] == "NUMBER" and count["value"] == 42 and count.get("revision") == 1, "kv NUMBER", count)
    keys = sorted(e.key for e in c.kv.list_keys(namespace=NS, tenant=T))
    check(keys == ["count", "creds"], "list_keys", keys)
    check(c.kv.delete_key_value(namespace=NS, key="count", tenant=T) is True, "delete_key_value")
    ok("kv set/get (JSON, NUMBER)/list/delete")
    c.kv.set_key_value(namespace="test", key="parent_key", tenant=T, body="1", _content_type="text/plain")
    inherited = c.kv.list_keys_with_inheritence(namespace=NS, tenant=T)
    check([e.key for e in inherited] == ["parent_key"], "list_keys_with_inheritence", inherited)
    ok("kv.list_keys_with_inheritence (the keys of the parent namespaces)")
    gone = c.kv.delete_key_values(namespace=NS, tenant=T, kv_controller_api_delete_bulk_request=k.KVControllerApiDeleteBulkRequest(keys=["creds", "absent"]))
    check(gone.keys == ["creds"] and c.kv.list_keys(namespace=NS, tenant=T) == [], "delete_key_values", gone)
    ok("kv.delete_key_values (bulk)")

    # triggers: search, backfill through PUT /triggers, pause, unpause, delete
    trig = raw(c.triggers.search_triggers_without_preload_content(page=1, size=10, tenant=T, namespace=NS))
    check(trig["total"] == 1 and trig["results"][0]["triggerContext"]["triggerId"] == "monthly", "search_triggers", trig)
    check(trig["results"][0]["abstractTrigger"]["cron"] == "0 9 1 * *", "search_triggers abstractTrigger", trig)
    ok("triggers.search_triggers")
    body = k.Trigger(namespace=NS, flow_id="scheduled", trigger_id="monthly", var_date="2019-01-01T00:00:00Z",
                     backfill=k.Backfill(start="2019-01-01T00:00:00Z", end="2019-03-31T23:59:00Z",
                                         labels=[k.Label(key="backfill", value="true")]))
    resp = c.triggers.update_trigger_without_preload_content(tenant=T, trigger=body)
    check(resp.status in (200, 202), "update_trigger backfill", resp.data)
    ok("triggers.update_trigger with a backfill")
    for _ in range(150):
        done = raw(c.executions.search_executions_without_preload_content(
            page=1, size=10, tenant=T, namespace=NS, flow_id="scheduled", labels=["backfill:true"]))
        if done["total"] == 3 and all(e["state"]["current"] == "SUCCESS" for e in done["results"]):
            break
        time.sleep(0.2)
    check(done["total"] == 3, "backfill executions", done["total"])
    ok("backfill ran 3 monthly ticks")

    # namespace files
    c.files.create_namespace_file(namespace=NS, path="/sql/q.sql", tenant=T, file_content=("q.sql", b"select 1"))
    listing = c.files.list_namespace_directory_files(namespace=NS, tenant=T, path="/")
    check([(f.file_name, f.type.value) for f in listing] == [("sql", "Directory")], "list_namespace_directory_files", listing)
    check(bytes(c.files.get_file_content(namespace=NS, path="/sql/q.sql", tenant=T)) == b"select 1", "get_file_content")
    meta = c.files.get_file_metadatas(namespace=NS, path="/sql/q.sql", tenant=T)
    check(meta.size == 8, "get_file_metadatas", meta)
    c.files.delete_file_directory(namespace=NS, path="/sql", tenant=T)
    check(c.files.list_namespace_directory_files(namespace=NS, tenant=T, path="/") == [], "delete_file_directory")
    ok("files: namespace file create/list/get/stats/delete")

    # executions: delete one, by ids, by query (Kestra's body filters); bulk kill and restart
    made = [raw(c.executions.create_execution_without_preload_content(
        namespace=NS, id="hello", wait=True, tenant=T, labels=["cleanup:" + x]))["id"] for x in ("one", "two", "three")]
    c.executions.delete_execution(
        execution_id=made[0], delete_logs=True, delete_metrics=True, delete_storage=True, tenant=T)
    try:
        c.executions.get_execution(execution_id=made[0], tenant=T)
        fail("delete_execution", "still there")
    except ApiException as e:
        check(e.status == 404, "get deleted execution", e)
    ok("executions.delete_execution")
    r = c.executions.delete_executions_by_ids(
        delete_logs=True, delete_metrics=True, delete_storage=True, tenant=T, request_body=[made[1]])
    check(r.count == 1, "delete_executions_by_ids", r)
    ok("executions.delete_executions_by_ids -> BulkResponse")
    by_label = k.QueryFilter(var_field=k.QueryFilterField.LABELS, operation=k.QueryFilterOp.EQUALS, value={"cleanup": "three"})
    r = c.executions.delete_executions_by_query(
        delete_logs=True, delete_metrics=True, delete_storage=True, tenant=T,
        delete_executions_by_query_request=k.DeleteExecutionsByQueryRequest(filters=[by_label]))
    check(r == {"count": 1}, "delete_executions_by_query", r)
    left = raw(c.executions.search_executions_without_preload_content(page=1, size=10, tenant=T, labels=["cleanup:three"]))
    check(left["total"] == 0, "delete_executions_by_query deleted", left)
    ok("executions.delete_executions_by_query (body filters on labels)")
    slow2 = raw(c.executions.create_execution_without_preload_content(namespace=NS, id="slow", wait=False, tenant=T))
    time.sleep(1)
    r = c.executions.kill_executions_by_ids(tenant=T, request_body=[slow2["id"]])
    check(r.count == 1, "kill_executions_by_ids", r)
    ok("executions.kill_executions_by_ids -> BulkResponse")
    try:
        c.executions.restart_executions_by_ids(tenant=T, request_body=[eid])
        fail("restart_executions_by_ids", "a SUCCESS execution was accepted")
    except ApiException as e:
        check(e.status == 400 and "invalid bulk restart" in e.body, "restart_executions_by_ids refusal", e)
    ok("executions.restart_executions_by_ids refuses a SUCCESS execution (BulkErrorResponse)")

    # plugins: the groups, one type's documentation, the flow schema
    plugins = c.plugins.list_plugins()
    core = [p for p in plugins if p.group == "io.kestra.plugin.core"]
    check(core and any(t.cls == "io.kestra.plugin.core.log.Log" for t in core[0].tasks), "list_plugins", plugins)
    ok("plugins.list_plugins -> [Plugin]")
    doc = c.plugins.get_plugin_documentation(cls="io.kestra.plugin.core.log.Log", all=True)
    check("message" in doc.var_schema.properties and doc.markdown.startswith("# "), "get_plugin_documentation", doc)
    ok("plugins.get_plugin_documentation -> DocumentationWithSchema")
    schema = c.plugins.get_schemas_from_type(type=k.SchemaType.FLOW, array_of=False)
    check("io.kestra.plugin.core.flow.If" in schema["definitions"], "get_schemas_from_type", list(schema))
    ok("plugins.get_schemas_from_type(FLOW)")

    # namespaces, delete
    nss = raw(c.namespaces.search_namespaces_without_preload_content(page=1, size=10, existing=False, tenant=T))
    ids = [n["id"] for n in nss["results"]]
    check("test.client" in ids and "test" in ids, "search_namespaces", ids)
    ok("namespaces.search_namespaces")
    c.flows.delete_flow(namespace=NS, id="slow", tenant=T)
    try:
        c.flows.get_flow(namespace=NS, id="slow", source=False, allow_deleted=False, tenant=T)
        fail("delete_flow", "still there")
    except ApiException as e:
        check(e.status == 404, "get deleted flow", e)
    ok("flows.delete_flow")
    print("all operations passed")


if __name__ == "__main__":
    main()
