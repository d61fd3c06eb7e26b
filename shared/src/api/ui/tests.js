// Flow unit tests (Kestra's Tests): the test suites of one flow (its Tests
// tab) or of every flow (the Tests page, `#/tests?namespace=`), each with
// the last result of each of its cases — passed or failed, and for a
// failure the assertion, the expected and the actual value and the task
// run it read — and a Run button that runs the suite on the server
// (isolated: its executions are not among the executions) and shows the
// new result, and the suite's last runs (its history, newest first: when,
// state, cases passed). Built on `/tests/search`,
// `/tests/results/search/last`, `/tests/results/search` and
// `/tests/{namespace}/{id}/run`. Edit opens the suite's YAML in the flow
// editor (flow-editor.js) with the test file's schema
// (`/plugins/schemas/test`: keys and assertion operators completed), the
// tested flow's task ids offered for `fixtures.tasks[].id` and
// `assertions[].taskId`, validation by `POST /tests/validate` at the line,
// and Save by `PUT /tests/{namespace}/{id}`.

import { api, h, stateBadge, toast, errorBox, enc, fmtDate, fmtMs } from "./app.js";
import { editor } from "./flow-editor.js";

/** The Tests page: every suite (of `?namespace=` and its children when given). */
export async function render(box, parts, query) {
  const ns = query.get("namespace");
  box.append(h("h1", {}, ns ? `Tests of ${ns}` : "Tests"));
  await suites(box, ns ? { namespace: ns } : {});
}

/** A flow's Tests tab. */
export async function testsTab(box, ns, flowId) {
  await suites(box, { namespace: ns, flowId, includeChildNamespaces: "false" });
}

async function suites(box, filter) {
  const found = await api(`/tests/search?${new URLSearchParams({ size: "1000", ...filter })}`);
  if (!found.results.length) {
    const where = filter.flowId ? "This flow has no test suite" : "No test suite";
    box.append(h("p", { class: "muted", "data-testid": "no-tests" }, `${where}: add a test file (flowId, testCases) beside the flows, or push one with baton flows push.`));
    return;
  }
  const ids = found.results.map((s) => ({ namespace: s.namespace, id: s.id }));
  const last = await api("/tests/results/search/last", { method: "POST", json: { testSuiteIds: ids } });
  const byId = new Map(last.results.map((r) => [`${r.namespace}.${r.testSuiteId}`, r]));
  for (const s of found.results) box.append(suiteCard(s, byId.get(`${s.namespace}.${s.id}`)));
}

/** One suite: its name, flow, Run button and cases. */
function suiteCard(suite, last) {
  const key = `${suite.namespace}.${suite.id}`;
  const body = h("div", { class: "test-results" });
  const run = h("button", { type: "button", class: "primary", "data-testid": "run-suite" }, "Run");
  run.addEventListener("click", async () => {
    run.disabled = true;
    run.textContent = "Running…";
    try {
      const r = await api(`/tests/${enc(suite.namespace)}/${enc(suite.id)}/run`, { method: "POST", json: {} });
      fill(body, suite, r);
      loadHistory(history, suite);
      toast(`${key}: ${r.state}`, r.state !== "SUCCESS");
    } catch (e) {
      body.replaceChildren(errorBox(e));
    } finally {
      run.disabled = false;
      run.textContent = "Run";
    }
  });
  const flow = h("a", { href: `#/flows/${enc(suite.namespace)}/${enc(suite.flowId)}?tab=tests` }, `flow ${suite.namespace}.${suite.flowId}`);
  const edit = h("button", { type: "button", "data-testid": "edit-suite" }, "Edit");
  const title = h("div", { class: "test-suite-head" }, h("h2", {}, key), flow, h("span", { class: "grow" }), edit, run);
  const card = h("section", { class: "test-suite card", "data-suite": key }, title);
  if (suite.description) card.append(h("p", { class: "muted" }, suite.description));
  const editing = h("div", { class: "test-editor" });
  const history = h("details", { class: "test-history", "data-testid": "test-history" });
  card.append(editing, body, history);
  loadHistory(history, suite);
  edit.addEventListener("click", () => {
    edit.disabled = true;
    const close = () => {
      editing.replaceChildren();
      edit.disabled = false;
    };
    editSuite(editing, suite, (saved) => {
      Object.assign(suite, saved);
      close();
      fill(body, suite, null);
    }, close).catch((e) => editing.replaceChildren(errorBox(e)));
  });
  fill(body, suite, last);
  return card;
}

/** How many past runs the history shows. */
const HISTORY_SHOWN = 10;

/** The suite's last runs, newest first, into `box` (a `<details>`). */
async function loadHistory(box, suite) {
  const q = new URLSearchParams({ testSuiteId: suite.id, namespace: suite.namespace, size: String(HISTORY_SHOWN) });
  let found;
  try {
    found = await api(`/tests/results/search?${q}`);
  } catch (e) {
    box.replaceChildren(h("summary", {}, "History"), errorBox(e));
    return;
  }
  const runs = (found.results || []).filter((r) => r.namespace === suite.namespace);
  const passed = (r) => (r.results || []).filter((c) => c.state === "SUCCESS").length;
  const rows = runs.map((r) => h("tr", { "data-run": r.id, "data-state": r.state },
    h("td", {}, fmtDate(r.startDate)),
    h("td", {}, stateBadge(r.state)),
    h("td", {}, `${passed(r)}/${(r.results || []).length} passed`)));
  box.replaceChildren(
    h("summary", {}, `History (${runs.length} of ${found.total} kept runs)`),
    runs.length
      ? h("table", { class: "test-history-runs" }, h("thead", {}, h("tr", {}, ["Started", "State", "Cases"].map((t) => h("th", {}, t)))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No run yet."));
}

let testSchemaPromise = null;

/** The test file's schema, fetched once per page load (null when the server has none). */
function testSchema() {
  if (!testSchemaPromise) testSchemaPromise = api("/plugins/schemas/test").catch(() => null);
  return testSchemaPromise;
}

/** The ids of every task of a flow (as the API answers it), nested ones included. */
function taskIds(flow) {
  const ids = new Set();
  const walk = (v) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== "object") return;
    if (typeof v.id === "string" && typeof v.type === "string") ids.add(v.id);
    Object.values(v).forEach(walk);
  };
  for (const k of ["tasks", "errors", "finally", "afterExecution"]) walk(flow[k]);
  return [...ids];
}

/** The test schema with the flow's task ids offered where a task is named. */
function withTaskIds(schema, ids) {
  if (!schema || !ids.length) return schema;
  const s = JSON.parse(JSON.stringify(schema));
  const offer = (props, key) => {
    if (!props || !props[key]) return;
    const p = props[key];
    props[key] = { title: p.title, description: p.description, $required: p.$required, anyOf: [{ type: "string", enum: ids }, { ...p, title: undefined, description: undefined }] };
  };
  offer(s.definitions && s.definitions.TaskFixture && s.definitions.TaskFixture.properties, "id");
  offer(s.definitions && s.definitions.Assertion && s.definitions.Assertion.properties, "taskId");
  return s;
}

/** `POST /tests/validate`'s answer as the flow editor reads a validation (`document 1:LINE:COLUMN: message`). */
async function validateSuite(text) {
  const r = await api("/tests/validate", { method: "POST", body: text, headers: { "Content-Type": "application/x-yaml" } });
  if (!r || !r.constraints) return [{ index: 0, constraints: null }];
  // the headers ("invalid test suite:", "… does not fit flow …:") name no position
  const lines = String(r.constraints).split("\n").filter((l) => l.trim() && !(/:$/.test(l.trim()) && !/^request body:\d/.test(l)));
  return [{ index: 0, constraints: lines.map((l) => l.replace(/^request body:(?=\d)/, "document 1:")).join("\n") }];
}

/** Opens `suite`'s YAML in the editor in `box`; `saved(suite)` after a save. */
async function editSuite(box, suite, saved, cancel) {
  const path = `/tests/${enc(suite.namespace)}/${enc(suite.id)}`;
  const [current, flow] = await Promise.all([
    api(path),
    api(`/flows/${enc(suite.namespace)}/${enc(suite.flowId)}`).catch(() => ({})),
  ]);
  const schema = testSchema().then((s) => withTaskIds(s, taskIds(flow)));
  await editor(box, current.source || "", async (text) => {
    const s = await api(path, { method: "PUT", body: text, headers: { "Content-Type": "application/x-yaml" } });
    toast(`Test suite ${s.namespace}.${s.id} saved`);
    saved(s);
  }, cancel, { schema, validate: validateSuite });
}

/** The cases of `suite` with their result in `result` (a run result; none yet: "not run"). */
function fill(body, suite, result) {
  const byCase = new Map(((result && result.results) || []).map((r) => [r.testId, r]));
  const summary = result
    ? h("p", { "data-testid": "last-run" }, "Last run ", stateBadge(result.state), ` ${fmtDate(result.endDate)}`)
    : h("p", { class: "muted", "data-testid": "last-run" }, "Not run yet.");
  const rows = (suite.testCases || []).map((c) => {
    const r = byCase.get(c.id);
    const state = r ? r.state : "NOT_RUN";
    return h("tr", { "data-case": c.id, "data-state": state },
      h("td", {}, h("div", {}, c.id), c.description ? h("div", { class: "muted" }, c.description) : null),
      h("td", {}, r ? stateBadge(r.state) : h("span", { class: "muted" }, c.disabled ? "disabled" : "not run")),
      h("td", {}, r ? fmtMs(r.duration) : ""),
      h("td", {}, r ? details(r) : ""));
  });
  const head = h("thead", {}, h("tr", {}, ["Case", "State", "Duration", "Assertions"].map((t) => h("th", {}, t))));
  body.replaceChildren(summary, h("table", { class: "test-cases" }, head, h("tbody", {}, rows)));
}

/** A case's errors and failed assertions (the assertion, expected, actual, task run), else how many held. */
function details(r) {
  const out = [];
  for (const e of r.errors || []) out.push(h("div", { class: "test-error" }, `error: ${e.message}`));
  const failed = (r.assertionResults || []).filter((a) => !a.isSuccess);
  for (const a of failed) {
    const what = a.description ? ` (${a.description})` : "";
    const shown = (v) => (v === null || v === undefined ? "null" : typeof v === "string" ? v : JSON.stringify(v));
    out.push(h("div", { class: "test-failure", "data-testid": "failed-assertion" },
      h("div", {}, `✗ ${a.operator}${what}: ${a.errorMessage || "failed"}`),
      h("div", {}, h("span", { class: "muted" }, "assertion: "), h("code", {}, `${a.value} ${a.operator} ${shown(a.expected)}`)),
      h("div", {}, h("span", { class: "muted" }, "expected: "), h("code", { "data-testid": "expected" }, shown(a.expected))),
      h("div", {}, h("span", { class: "muted" }, "actual: "), h("code", { "data-testid": "actual" }, shown(a.actual))),
      a.taskRun ? h("div", { class: "muted" }, `from ${a.taskRun}`) : null));
  }
  for (const w of r.warnings || []) out.push(h("div", { class: "muted" }, `warning: ${w}`));
  const held = (r.assertionResults || []).length - failed.length;
  if (!failed.length && !(r.errors || []).length) out.push(h("span", { class: "muted" }, `${held} assertion(s) held`));
  return out;
}
