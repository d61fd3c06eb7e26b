"""Drives a Baton API (baton server local, or the GCP api function) with
Kestra 2.0's published Python SDK (kestrapy 2.0.3 from PyPI): every call
goes to `/api/v1/{tenant}/...` as Kestra 2.0 requires, with the 2.0 shapes
(`PUT /triggers/backfill/create`, KV read as `KvDetail`, `GET /{tenant}/kv`).
The SDK's pydantic models parse the answers, so a field Baton names or types
differently from Kestra fails here. drive.py does the same with the 1.0 client.

Usage: drive2.py BASE_URL [USER:PASSWORD]
Prints one line per checked operation; exits 1 at the first failure.
"""

import sys
import time

from kestrapy import KestraClient
from kestrapy.exceptions import ApiException
from kestrapy.models.id_with_namespace import IdWithNamespace
from kestrapy.models.kv_controller_api_delete_bulk_request import KVControllerApiDeleteBulkRequest
from kestrapy.models.query_filter import QueryFilter

import drive  # the 1.0 client's driver, next to this file
from drive import fail, ok

NS = "test.sdk2"
T = "main"

HELLO = """id: hello
namespace: test.sdk2
labels:
  team: data
inputs:
  - id: name
    type: STRING
    defaults: world
  - id: data
    type: FILE
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.name }}"
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name }}: {{ read(inputs.data) }}"
"""


def _in_ns(doc):
    return doc.replace("namespace: test.client", f"namespace: {NS}")


APPROVAL = """id: approval
namespace: test.sdk2approval
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: answer
        type: STRING
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.wait.onResume.answer }}"
"""

# the 1.0 driver's scheduled and slow flows, in this driver's namespace
SCHEDULED = _in_ns(drive.FLOWS.split("---\n")[1])
SLOW = _in_ns(drive.SLOW)


def check(cond, what, detail=""):
    if not cond:
        fail(what, detail)
    ok(what)


def wait_state(client, eid, states, what, limit=60):
    deadline = time.time() + limit
    while time.time() < deadline:
        e = client.executions.execution(eid, T)
        state = str(e.state.current.value if hasattr(e.state.current, "value") else e.state.current)
        if state in states:
            return e
        time.sleep(0.2)
    fail(what, f"execution {eid} still {state}")


def main():
    base = sys.argv[1].rstrip("/")
    user = password = None
    if len(sys.argv) > 2:
        user, password = sys.argv[2].split(":", 1)
    client = KestraClient(host=base, username=user, password=password, timeout=60)

    # flows: import (multi-document YAML), create, get with source, update, search, validate, graph
    imported = client.flows.import_flows(T, file_content=(SCHEDULED + "---\n" + SLOW).encode())
    check(imported == [], "flows import (2.0 path)", imported)
    created = client.flows.create_flow(T, HELLO)
    check(created.id == "hello" and created.namespace == NS and created.revision == 1, "flow create", created)
    got = client.flows.flow(NS, "hello", T, source=True)
    check(got.source and "hello {{ inputs.name }}" in got.source, "flow get with source", got)
    updated = client.flows.update_flow(NS, "hello", T, HELLO.replace("hello {{", "hi {{"))
    check(updated.revision == 2, "flow update makes revision 2", updated.revision)
    found = client.flows.search_flows(T, size=50, filters=[QueryFilter(field="namespace", operation="EQUALS", value=NS)])
    ids = sorted(f.id for f in found.results)
    check(ids == ["hello", "scheduled", "slow"] and found.total == 3, "flows search with a namespace filter", ids)
    violations = client.flows.validate_flows(T, "id: bad\nnamespace: test.sdk2\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Nope\n")
    check(len(violations) == 1 and violations[0].constraints, "flows validate names the bad task", violations)
    graph = client.flows.generate_flow_graph(NS, "hello", T)
    check(graph.nodes and graph.edges, "flow graph", graph)

    # executions: multipart start with a FILE input, wait, outputs, logs
    started = client.executions.create_execution(
        T, NS, "hello", labels=["env:sdk"], wait=True,
        inputs={"name": "SDK", "data": ("data.txt", b"file body")},
    )
    eid = started.id
    state = started.state.current.value if hasattr(started.state.current, "value") else started.state.current
    check(str(state) == "SUCCESS", "execution start (multipart, FILE part, wait=true)", state)
    e = client.executions.execution(eid, T)
    labels = {l.key: l.value for l in (e.labels or [])}
    check(labels.get("env") == "sdk" and labels.get("team") == "data", "execution labels", labels)
    echo = [t for t in e.task_run_list if t.task_id == "echo"][0]
    outputs = client.outputs.task_run_outputs(eid, echo.id, T)
    check(outputs.get("value") == "SDK: file body", "task run outputs (GET /outputs/tasks/{id}/{taskRunId})", outputs)
    infos = client.outputs.task_outputs_information(eid, T)
    check([i.task_id for i in infos] == ["echo"], "which task runs have outputs", infos)
    check(client.outputs.execution_outputs(eid, T) == {}, "flow outputs of a flow without any")
    logs = client.logs.list_logs_from_execution(eid, T, min_level="INFO")
    check(any("hi SDK" in (l.message or "") for l in logs), "logs of an execution", [l.message for l in logs])
    text = client.logs.download_logs_from_execution(eid, T)
    check("hi SDK" in text, "logs download", text[:200])
    page = client.executions.search_executions(
        T, size=10, filters=[QueryFilter(field="flowId", operation="EQUALS", value="hello")]
    )
    check(page["total"] >= 1 and page["results"][0]["id"] == eid, "executions search with a flowId filter", page)
    by_label = client.executions.search_executions(
        T, size=10, filters=[QueryFilter(field="labels", operation="EQUALS", value={"env": "sdk"})]
    )
    check([r["id"] for r in by_label["results"]] == [eid], "executions search by label", by_label)
    fgraph = client.executions.execution_flow_graph(eid, T)
    check(fgraph.nodes, "execution flow graph", fgraph)

    # the other execution routes: a flow's executions, the latest, what can be executed, eval
    byflow = client.executions.search_executions_by_flow_id(T, NS, "hello", size=50)
    check(any(r["id"] == eid for r in byflow["results"]), "executions of a flow (GET /executions)", byflow)
    latest = client.executions.latest_executions(T, [{"namespace": NS, "id": "hello"}, {"namespace": NS, "id": "slow"}])
    check([l.flow_id for l in latest] == ["hello"], "latest execution of each flow (POST /executions/latest)", latest)
    spaces = client.executions.list_executable_namespaces(T)
    check(NS in spaces, "executable namespaces (GET /executions/namespaces)", spaces)
    r = client.executions.eval_expression(eid, T, "{{ execution.id }} {{ inputs.name }}")
    check(r.get("result") == f"{eid} SDK", "eval an expression (POST /executions/{id}/actions/eval)", r)
    greet = [t for t in e.task_run_list if t.task_id == "greet"][0]
    r = client.executions.eval_task_run_expression(eid, greet.id, T, "{{ task.id }} {{ taskrun.id }}")
    check(r.result == f"greet {greet.id}" and not r.error, "eval in a task run (…/actions/eval/{taskRunId})", r)
    r = client.executions.eval_task_run_expression(eid, greet.id, T, "{{ undefined_thing }}")
    check(r.error and not r.result, "eval of an undefined variable answers the error", r)
    found = client.logs.search_logs(T, size=5, filters=[QueryFilter(field="namespace", operation="EQUALS", value=NS)])
    check(found.total >= 1 and all(l.namespace == NS for l in found.results), "logs search with filters[namespace]", found)

    # kill a running execution, then restart and replay it
    slow = client.executions.create_execution(T, NS, "slow")
    wait_state(client, slow.id, {"RUNNING"}, "slow execution running")
    client.executions.kill_execution(slow.id, T)
    wait_state(client, slow.id, {"KILLED"}, "kill")
    ok("kill")
    replay = client.executions.replay_execution(eid, T)
    check(replay.id != eid and replay.original_id == eid, "replay makes a new execution", replay)
    wait_state(client, replay.id, {"SUCCESS"}, "replay runs")
    ok("replay runs to SUCCESS")
    again = client.executions.replay_execution_with_inputs(
        eid, T, inputs={"name": "Again", "data": ("data.txt", b"new body")},
    )
    check(again.id != eid and again.inputs.get("name") == "Again",
          "replay with inputs (POST /executions/{id}/actions/replay-with-inputs)", again)
    wait_state(client, again.id, {"SUCCESS"}, "replay with inputs runs")
    echo = [t for t in client.executions.execution(again.id, T).task_run_list if t.task_id == "echo"][0]
    out = client.outputs.task_run_outputs(again.id, echo.id, T)
    check(out.get("value") == "Again: new body", "the replay read its new inputs, file included", out)
    changed = client.executions.update_execution_status(again.id, "FAILED", T)
    state = changed.state.current.value if hasattr(changed.state.current, "value") else changed.state.current
    check(str(state) == "FAILED", "change status (POST /executions/{id}/actions/change-status)", state)

    # an approval flow driven from Python: paused, then resumed with its input
    client.flows.create_flow(T, APPROVAL)
    paused = client.executions.create_execution(T, "test.sdk2approval", "approval")
    wait_state(client, paused.id, {"PAUSED"}, "approval paused")
    resumed = client.executions.resume_execution(paused.id, T, inputs={"answer": "approved"})
    check(resumed.id == paused.id, "resume (POST /executions/{id}/actions/resume) answers the execution", resumed)
    done = wait_state(client, paused.id, {"SUCCESS"}, "resumed approval runs to its end")
    after = [t for t in done.task_run_list if t.task_id == "after"][0]
    out = client.outputs.task_run_outputs(paused.id, after.id, T)
    check(out.get("value") == "approved", "the onResume input reached the next task", out)

    # KV in 2.0's shapes
    client.kv.set_key_value(NS, "answer", T, "42")
    kv = client.kv.key_value(NS, "answer", T)
    kind = kv.type.value if hasattr(kv.type, "value") else kv.type
    check(str(kind) == "NUMBER" and kv.value == 42, "KV set and read (KvDetail)", kv)
    keys = client.kv.list_all_keys(T, filters=[QueryFilter(field="namespace", operation="EQUALS", value=NS)])
    check(any(k.key == "answer" for k in keys.results), "KV list all keys (GET /{tenant}/kv)", keys)
    check(client.kv.delete_key_value(NS, "answer", T) is True, "KV delete")
    for key in ("a", "b"):
        client.kv.set_key_value(NS, key, T, "1")
    client.kv.set_key_value("test", "from_parent", T, "2")
    inherited = client.kv.list_keys_with_inheritance(NS, T)
    check([k.key for k in inherited] == ["from_parent"], "KV keys inherited from the parent namespaces", inherited)
    gone = client.kv.delete_key_values(NS, T, KVControllerApiDeleteBulkRequest(keys=["a", "b", "absent"]))
    check(sorted(gone.keys) == ["a", "b"], "KV bulk delete (DELETE /namespaces/{ns}/kv)", gone)

    # flows exported as a ZIP
    import io
    import zipfile
    z = zipfile.ZipFile(io.BytesIO(client.flows.export_flows_by_ids(T, [IdWithNamespace(namespace=NS, id="hello")])))
    check(z.namelist() == [f"{NS}.hello.yml"], "flows export by ids (ZIP)", z.namelist())
    z = zipfile.ZipFile(io.BytesIO(client.flows.export_flows_by_query(
        T, filters=[QueryFilter(field="namespace", operation="EQUALS", value=NS)])))
    check(sorted(z.namelist()) == [f"{NS}.hello.yml", f"{NS}.scheduled.yml", f"{NS}.slow.yml"],
          "flows export by query (ZIP)", z.namelist())

    # triggers: search, then a backfill through 2.0's route
    triggers = client.triggers.search_triggers(
        T, size=10, filters=[QueryFilter(field="namespace", operation="EQUALS", value=NS)]
    )
    check(any(t.get("triggerId") == "monthly" or (t.get("triggerContext") or {}).get("triggerId") == "monthly"
              for t in triggers["results"]), "triggers search", triggers)
    backfill = client.triggers.create_backfill(T, {
        "namespace": NS, "flowId": "scheduled", "triggerId": "monthly",
        "backfill": {"start": "2021-01-01T00:00:00Z", "end": "2021-03-01T00:00:00Z", "labels": [{"key": "bf", "value": "sdk"}]},
    })
    check(backfill.get("backfill") is not None, "backfill create (PUT /triggers/backfill/create)", backfill)
    deadline = time.time() + 60
    ticks = []
    while time.time() < deadline:
        page = client.executions.search_executions(
            T, size=20, filters=[QueryFilter(field="flowId", operation="EQUALS", value="scheduled")]
        )
        ticks = [r for r in page["results"] if r["state"]["current"] == "SUCCESS"]
        if len(ticks) >= 2:
            break
        time.sleep(0.3)
    check(len(ticks) == 2, "the backfill ran January and February 2021", page)

    # namespaces and namespace files
    spaces = client.namespaces.search_namespaces(T, size=50)
    check(any(n.id == NS for n in spaces.results), "namespaces search", spaces)
    client.files.create_namespace_file(NS, "/scripts/hello.sh", T, file_content=b"echo hi\n")
    body = client.files.file_content(NS, "/scripts/hello.sh", T)
    check(body == b"echo hi\n", "namespace file write and read", body)

    # an execution deleted, then not found
    client.executions.delete_execution(slow.id, T)
    try:
        client.executions.execution(slow.id, T)
        fail("deleted execution is gone", "still there")
    except ApiException as err:
        check(err.status == 404, "deleted execution answers 404", err.status)

    print("all operations passed", flush=True)


if __name__ == "__main__":
    main()
