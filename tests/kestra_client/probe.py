"""Counts which calls of Kestra's Python clients work against a Baton API,
each called the way a user calls it: the typed method, its answer parsed by
the client's own models (drive.py and drive2.py check the answers; this
script only counts). For each call it prints one line:

    works|fails <client> <call> <why>

where `why` says whether Baton answered an error (`HTTP 404: …`) or the
client's model refused Baton's answer (`model: …`), then the totals.

Usage: probe.py 1|2 BASE_URL [USER:PASSWORD]
  1: kestra-api-client 1.0.0 (the generated client); 2: kestrapy 2.0.3.
"""

import io
import sys
import time
import traceback

NS = "test.probe" + (sys.argv[1] if len(sys.argv) > 1 else "")
T = "main"
FLOW = f"""id: hello
namespace: {NS}
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "hello {{{{ inputs.name }}}}"
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.name }}}}"
triggers:
  - id: monthly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 1 * *"
"""
FAIL = f"""id: fails
namespace: {NS}
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
"""
SLOW = f"""id: slow
namespace: {NS}
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
"""

results = []


def why(e):
    name = type(e).__name__
    status = getattr(e, "status", None)
    if status is not None:
        body = (getattr(e, "body", "") or "").replace("\n", " ")
        return f"HTTP {status}: {body[:140]}"
    if name == "ValidationError":
        errs = e.errors()
        first = errs[0] if errs else {}
        loc = ".".join(str(x) for x in first.get("loc", ()))
        return f"model: {len(errs)} error(s), first {loc}: {first.get('msg', '')}"[:200]
    return f"{name}: {str(e)[:160]}".replace("\n", " ")


def call(client, name, fn):
    try:
        fn()
        results.append((True, client, name, ""))
        print("works", client, name, flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is counted and shown
        results.append((False, client, name, why(e)))
        print("fails", client, name, why(e), flush=True)
        if "-v" in sys.argv:
            traceback.print_exc()


def wait_done(get, eid, states=("SUCCESS", "FAILED", "KILLED", "WARNING")):
    for _ in range(150):
        st = get(eid)
        if st in states:
            return st
        time.sleep(0.2)
    return st


def probe1(base, auth):
    import kestra_api_client as k

    conf = k.Configuration(host=base)
    if auth:
        conf.username, conf.password = auth
    c = k.KestraClient(conf)
    raw = lambda r: __import__("json").loads(r.data)  # noqa: E731
    # fixtures, through the raw variants (not counted)
    c.flows.create_flow_without_preload_content(tenant=T, body=FLOW)
    c.flows.create_flow_without_preload_content(tenant=T, body=SLOW)
    c.flows.create_flow_without_preload_content(tenant=T, body=FAIL)
    failed = raw(c.executions.create_execution_without_preload_content(namespace=NS, id="fails", wait=True, tenant=T))["id"]
    eid = raw(c.executions.create_execution_without_preload_content(namespace=NS, id="hello", wait=True, tenant=T))["id"]
    ex = raw(c.executions.get_execution_without_preload_content(execution_id=eid, tenant=T))
    greet = [t for t in ex["taskRunList"] if t["taskId"] == "greet"][0]["id"]
    c.kv.set_key_value(namespace=NS, key="k1", tenant=T, body="42", _content_type="text/plain")
    c.kv.set_key_value(namespace="test", key="up", tenant=T, body="1", _content_type="text/plain")
    n = "1.0"
    call(n, "flows.import_flows", lambda: c.flows.import_flows(tenant=T, file_upload=("f.yml", FLOW.replace("id: hello", "id: imported").encode())))
    call(n, "flows.create_flow", lambda: c.flows.create_flow(tenant=T, body=FLOW.replace("id: hello", "id: created")))
    call(n, "flows.get_flow", lambda: c.flows.get_flow(namespace=NS, id="hello", source=True, allow_deleted=False, tenant=T))
    call(n, "flows.update_flow", lambda: c.flows.update_flow(id="created", namespace=NS, tenant=T, body=FLOW.replace("id: hello", "id: created")))
    call(n, "flows.search_flows", lambda: c.flows.search_flows(page=1, size=10, tenant=T, namespace=NS))
    call(n, "flows.list_flows_by_namespace", lambda: c.flows.list_flows_by_namespace(namespace=NS, tenant=T))
    call(n, "flows.list_distinct_namespaces", lambda: c.flows.list_distinct_namespaces(tenant=T))
    call(n, "flows.validate_flows", lambda: c.flows.validate_flows(tenant=T, body=FLOW))
    call(n, "flows.generate_flow_graph", lambda: c.flows.generate_flow_graph(namespace=NS, id="hello", tenant=T))
    call(n, "flows.generate_flow_graph_from_source", lambda: c.flows.generate_flow_graph_from_source(tenant=T, body=FLOW))
    call(n, "flows.export_flows_by_query", lambda: c.flows.export_flows_by_query(tenant=T, namespace=NS))
    call(n, "flows.export_flows_by_ids", lambda: c.flows.export_flows_by_ids(tenant=T, id_with_namespace=[k.IdWithNamespace(namespace=NS, id="hello")]))
    call(n, "flows.update_flows_in_namespace_from_json", lambda: c.flows.update_flows_in_namespace_from_json(
        delete=False, namespace=NS, tenant=T,
        flow=[k.Flow(id="fromjson", namespace=NS, disabled=False, deleted=False,
                     tasks=[k.Task.from_dict({"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "x"})])]))
    call(n, "executions.create_execution", lambda: c.executions.create_execution(namespace=NS, id="hello", wait=True, tenant=T))
    call(n, "executions.get_execution", lambda: c.executions.get_execution(execution_id=eid, tenant=T))
    call(n, "executions.search_executions", lambda: c.executions.search_executions(page=1, size=10, tenant=T, namespace=NS))
    call(n, "executions.search_executions_by_flow_id", lambda: c.executions.search_executions_by_flow_id(namespace=NS, flow_id="hello", page=1, size=10, tenant=T))
    call(n, "executions.get_latest_executions", lambda: c.executions.get_latest_executions(tenant=T, execution_repository_interface_flow_filter=[k.ExecutionRepositoryInterfaceFlowFilter(namespace=NS, id="hello")]))
    call(n, "executions.list_executable_distinct_namespaces", lambda: c.executions.list_executable_distinct_namespaces(tenant=T))
    call(n, "executions.eval_task_run_expression", lambda: c.executions.eval_task_run_expression(execution_id=eid, task_run_id=greet, tenant=T, body="{{ taskrun.id }}"))
    call(n, "executions.search_task_run", lambda: c.executions.search_task_run(page=1, size=10, tenant=T, namespace=NS))
    call(n, "executions.get_execution_flow_graph", lambda: c.executions.get_execution_flow_graph(execution_id=eid, tenant=T))
    call(n, "executions.set_labels_on_terminated_execution", lambda: c.executions.set_labels_on_terminated_execution(execution_id=eid, tenant=T, label=[k.Label(key="a", value="b")]))
    call(n, "executions.replay_execution", lambda: c.executions.replay_execution(execution_id=eid, tenant=T))
    call(n, "executions.restart_execution", lambda: c.executions.restart_execution(execution_id=failed, tenant=T))
    call(n, "logs.list_logs_from_execution", lambda: c.logs.list_logs_from_execution(execution_id=eid, tenant=T, min_level=k.Level.INFO))
    call(n, "logs.download_logs_from_execution", lambda: c.logs.download_logs_from_execution(execution_id=eid, tenant=T))
    call(n, "logs.search_logs", lambda: c.logs.search_logs(page=1, size=10, tenant=T, namespace=NS))
    call(n, "kv.get_key_value", lambda: c.kv.get_key_value(namespace=NS, key="k1", tenant=T))
    call(n, "kv.list_keys", lambda: c.kv.list_keys(namespace=NS, tenant=T))
    call(n, "kv.list_keys_with_inheritence", lambda: c.kv.list_keys_with_inheritence(namespace=NS, tenant=T))
    call(n, "kv.set_key_value", lambda: c.kv.set_key_value(namespace=NS, key="k2", tenant=T, body="x", _content_type="text/plain"))
    call(n, "kv.delete_key_value", lambda: c.kv.delete_key_value(namespace=NS, key="k2", tenant=T))
    call(n, "kv.delete_key_values", lambda: c.kv.delete_key_values(namespace=NS, tenant=T, kv_controller_api_delete_bulk_request=k.KVControllerApiDeleteBulkRequest(keys=["k1"])))
    call(n, "triggers.search_triggers", lambda: c.triggers.search_triggers(page=1, size=10, tenant=T, namespace=NS))
    call(n, "namespaces.search_namespaces", lambda: c.namespaces.search_namespaces(page=1, size=10, existing=False, tenant=T))
    call(n, "files.create_namespace_file", lambda: c.files.create_namespace_file(namespace=NS, path="/a.sql", tenant=T, file_content=("a.sql", b"select 1")))
    call(n, "files.list_namespace_directory_files", lambda: c.files.list_namespace_directory_files(namespace=NS, tenant=T, path="/"))
    call(n, "files.get_file_content", lambda: c.files.get_file_content(namespace=NS, path="/a.sql", tenant=T))
    call(n, "files.get_file_metadatas", lambda: c.files.get_file_metadatas(namespace=NS, path="/a.sql", tenant=T))
    call(n, "files.delete_file_directory", lambda: c.files.delete_file_directory(namespace=NS, path="/a.sql", tenant=T))
    slow = raw(c.executions.create_execution_without_preload_content(namespace=NS, id="slow", wait=False, tenant=T))["id"]
    time.sleep(1)
    call(n, "executions.kill_execution", lambda: c.executions.kill_execution(execution_id=slow, is_on_kill_cascade=True, tenant=T))
    slow2 = raw(c.executions.create_execution_without_preload_content(namespace=NS, id="slow", wait=False, tenant=T))["id"]
    time.sleep(1)
    call(n, "executions.kill_executions_by_ids", lambda: c.executions.kill_executions_by_ids(tenant=T, request_body=[slow2]))
    wait_done(lambda i: raw(c.executions.get_execution_without_preload_content(execution_id=i, tenant=T))["state"]["current"], slow)
    call(n, "executions.delete_executions_by_ids", lambda: c.executions.delete_executions_by_ids(delete_logs=True, delete_metrics=True, delete_storage=True, tenant=T, request_body=[slow]))
    call(n, "executions.delete_execution", lambda: c.executions.delete_execution(execution_id=eid, delete_logs=True, delete_metrics=True, delete_storage=True, tenant=T))
    call(n, "flows.delete_flow", lambda: c.flows.delete_flow(namespace=NS, id="created", tenant=T))


def probe2(base, auth):
    from kestrapy import KestraClient
    from kestrapy.models.id_with_namespace import IdWithNamespace
    from kestrapy.models.kv_controller_api_delete_bulk_request import KVControllerApiDeleteBulkRequest
    from kestrapy.models.query_filter import QueryFilter
    from kestrapy.models.label import Label
    from kestrapy.models.execution_controller_set_labels_by_ids_request import ExecutionControllerSetLabelsByIdsRequest

    user, password = auth if auth else (None, None)
    c = KestraClient(host=base, username=user, password=password, timeout=60)
    nsf = [QueryFilter(field="namespace", operation="EQUALS", value=NS)]
    c.flows.create_flow(T, FLOW)
    c.flows.create_flow(T, SLOW)
    ex = c.executions.create_execution(T, NS, "hello", wait=True)
    eid = ex.id
    full = c.executions.execution(eid, T)
    greet = [t for t in full.task_run_list if t.task_id == "greet"][0].id
    out = [t for t in full.task_run_list if t.task_id == "out"][0].id
    c.kv.set_key_value(NS, "k1", T, "42")
    n = "2.0"
    call(n, "flows.import_flows", lambda: c.flows.import_flows(T, file_content=FLOW.replace("id: hello", "id: imported").encode()))
    call(n, "flows.create_flow", lambda: c.flows.create_flow(T, FLOW.replace("id: hello", "id: created")))
    call(n, "flows.flow", lambda: c.flows.flow(NS, "hello", T, source=True))
    call(n, "flows.update_flow", lambda: c.flows.update_flow(NS, "created", T, FLOW.replace("id: hello", "id: created")))
    call(n, "flows.search_flows", lambda: c.flows.search_flows(T, size=10, filters=nsf))
    call(n, "flows.list_flows_by_namespace", lambda: c.flows.list_flows_by_namespace(NS, T))
    call(n, "flows.list_distinct_namespaces", lambda: c.flows.list_distinct_namespaces(T))
    call(n, "flows.validate_flows", lambda: c.flows.validate_flows(T, FLOW))
    call(n, "flows.generate_flow_graph", lambda: c.flows.generate_flow_graph(NS, "hello", T))
    call(n, "flows.export_flows_by_ids", lambda: c.flows.export_flows_by_ids(T, [IdWithNamespace(namespace=NS, id="hello")]))
    call(n, "flows.export_flows_by_query", lambda: c.flows.export_flows_by_query(T, filters=nsf))
    call(n, "executions.create_execution", lambda: c.executions.create_execution(T, NS, "hello", wait=True))
    call(n, "executions.execution", lambda: c.executions.execution(eid, T))
    call(n, "executions.search_executions", lambda: c.executions.search_executions(T, size=10, filters=nsf))
    call(n, "executions.search_executions_by_flow_id", lambda: c.executions.search_executions_by_flow_id(T, NS, "hello"))
    call(n, "executions.latest_executions", lambda: c.executions.latest_executions(T, [{"namespace": NS, "id": "hello"}]))
    call(n, "executions.list_executable_namespaces", lambda: c.executions.list_executable_namespaces(T))
    call(n, "executions.list_executable_flows_by_namespace", lambda: c.executions.list_executable_flows_by_namespace(NS, T))
    call(n, "executions.eval_expression", lambda: c.executions.eval_expression(eid, T, "{{ execution.id }}"))
    call(n, "executions.eval_task_run_expression", lambda: c.executions.eval_task_run_expression(eid, greet, T, "{{ taskrun.id }}"))
    call(n, "executions.execution_flow_graph", lambda: c.executions.execution_flow_graph(eid, T))
    call(n, "executions.replay_execution", lambda: c.executions.replay_execution(eid, T))
    call(n, "executions.replay_execution_with_inputs", lambda: c.executions.replay_execution_with_inputs(eid, T, inputs={"name": "again"}))
    call(n, "executions.replay_executions_by_ids", lambda: c.executions.replay_executions_by_ids(T, [eid]))
    call(n, "executions.update_execution_status", lambda: c.executions.update_execution_status(eid, "WARNING", T))
    call(n, "executions.update_executions_status_by_ids", lambda: c.executions.update_executions_status_by_ids(T, "SUCCESS", [eid]))
    call(n, "executions.set_labels_on_terminated_execution", lambda: c.executions.set_labels_on_terminated_execution(eid, T, [Label(key="probe", value="1")]))
    call(n, "executions.set_labels_on_terminated_executions_by_ids", lambda: c.executions.set_labels_on_terminated_executions_by_ids(
        T, ExecutionControllerSetLabelsByIdsRequest(executions_id=[eid], execution_labels=[Label(key="probe", value="2")])))
    call(n, "outputs.task_run_outputs", lambda: c.outputs.task_run_outputs(eid, out, T))
    call(n, "outputs.task_outputs_information", lambda: c.outputs.task_outputs_information(eid, T))
    call(n, "outputs.execution_outputs", lambda: c.outputs.execution_outputs(eid, T))
    call(n, "logs.list_logs_from_execution", lambda: c.logs.list_logs_from_execution(eid, T, min_level="INFO"))
    call(n, "logs.download_logs_from_execution", lambda: c.logs.download_logs_from_execution(eid, T))
    call(n, "logs.search_logs", lambda: c.logs.search_logs(T, size=10, filters=nsf))
    call(n, "kv.key_value", lambda: c.kv.key_value(NS, "k1", T))
    call(n, "kv.list_all_keys", lambda: c.kv.list_all_keys(T, filters=nsf))
    call(n, "kv.list_keys_with_inheritance", lambda: c.kv.list_keys_with_inheritance(NS, T))
    call(n, "kv.set_key_value", lambda: c.kv.set_key_value(NS, "k2", T, "x"))
    call(n, "kv.delete_key_value", lambda: c.kv.delete_key_value(NS, "k2", T))
    call(n, "kv.delete_key_values", lambda: c.kv.delete_key_values(NS, T, KVControllerApiDeleteBulkRequest(keys=["k1"])))
    call(n, "triggers.search_triggers", lambda: c.triggers.search_triggers(T, size=10, filters=nsf))
    call(n, "namespaces.search_namespaces", lambda: c.namespaces.search_namespaces(T, size=10))
    call(n, "files.create_namespace_file", lambda: c.files.create_namespace_file(NS, "/a.sh", T, file_content=b"echo\n"))
    call(n, "files.file_content", lambda: c.files.file_content(NS, "/a.sh", T))
    slow = c.executions.create_execution(T, NS, "slow").id
    time.sleep(1)
    call(n, "executions.kill_execution", lambda: c.executions.kill_execution(slow, T))
    wait_done(lambda i: str(getattr(c.executions.execution(i, T).state.current, "value", c.executions.execution(i, T).state.current)), slow)
    call(n, "executions.delete_execution", lambda: c.executions.delete_execution(slow, T))
    call(n, "flows.delete_flow", lambda: c.flows.delete_flow(NS, "created", T))
    # an approval: paused, its onResume inputs checked, then resumed (2.0's /actions/ routes)
    from drive2 import APPROVAL  # the SDK driver's approval flow, next to this file

    c.flows.create_flow(T, APPROVAL.replace("namespace: test.sdk2approval", f"namespace: {NS}"))
    paused = c.executions.create_execution(T, NS, "approval").id
    wait_done(lambda i: str(getattr(c.executions.execution(i, T).state.current, "value", c.executions.execution(i, T).state.current)), paused, {"PAUSED"})
    call(n, "executions.validate_resume_execution_inputs", lambda: c.executions.validate_resume_execution_inputs(paused, T, inputs={"answer": "yes"}))
    call(n, "executions.resume_execution", lambda: c.executions.resume_execution(paused, T, inputs={"answer": "yes"}))


def main():
    which, base = sys.argv[1], sys.argv[2].rstrip("/")
    args = [a for a in sys.argv[3:] if a != "-v"]
    auth = tuple(args[0].split(":", 1)) if args else None
    (probe1 if which == "1" else probe2)(base, auth)
    ok = sum(1 for r in results if r[0])
    print(f"total {ok} of {len(results)} calls work", flush=True)


if __name__ == "__main__":
    main()
