// Unit tests of the editor's pure parts (cursor context, schema walk,
// completions, validator answers as diagnostics) on a fixture schema in
// the shape of GET /api/v1/plugins/schemas/flow. Run: node --test ui/editor/test
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { contextAt, wordAt, indentAfter } from "../src/yamlpath.js";
import { expressionAt, expressionCompletions, flowFacts } from "../src/expressions.js";
import { completions, hoverAt, definitionOf } from "../src/schema.js";
import { diagnosticsOf, documentStarts } from "../src/diagnostics.js";

const schema = JSON.parse(fs.readFileSync(new URL("./fixture-schema.json", import.meta.url)));
// the cursor is the last "|" of the text
const at = (text) => {
  const i = text.lastIndexOf("|");
  return contextAt(text.slice(0, i) + text.slice(i + 1), i);
};
const labels = (text) => completions(schema, at(text)).map((c) => c.label);

test("flow-level keys at the root, required first and without those present", () => {
  const c = completions(schema, at("id: a\n|"));
  const names = c.map((x) => x.label);
  assert.ok(names.includes("namespace") && names.includes("tasks") && names.includes("triggers"));
  assert.ok(!names.includes("id"));
  const req = c.filter((x) => x.detail.startsWith("required")).map((x) => x.label);
  assert.deepEqual(req.sort(), ["namespace", "tasks"]);
  // a list of tasks opens its first item; a scalar stays on the line
  assert.equal(c.find((x) => x.label === "tasks").apply, "tasks:\n  - ");
  assert.equal(c.find((x) => x.label === "namespace").apply, "namespace: ");
});

test("a new task item offers id and type, then type values with aliases and titles", () => {
  assert.deepEqual(labels("id: a\ntasks:\n  - |"), ["id", "type"]);
  const c = completions(schema, at("id: a\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.l|"));
  const log = c.find((x) => x.label === "io.kestra.plugin.core.log.Log");
  assert.match(log.detail, /Log a message/);
  const alias = c.find((x) => x.label === "io.kestra.core.tasks.log.Log");
  assert.match(alias.detail, /alias of io.kestra.plugin.core.log.Log/);
  assert.ok(!c.some((x) => x.label.includes("Schedule")), "no trigger types among tasks");
});

test("property names of the block's type, required first, with descriptions", () => {
  const c = completions(schema, at("id: a\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    |"));
  const names = c.map((x) => x.label);
  assert.ok(names.includes("message") && names.includes("level") && !names.includes("id") && !names.includes("type"));
  assert.ok(!names.includes("cron"));
  const message = c.find((x) => x.label === "message");
  assert.match(message.detail, /^required/);
  assert.match(message.info, /message\(s\) to log/);
  // the type below the cursor counts too
  assert.ok(labels("tasks:\n  - id: x\n    |\n    type: io.kestra.plugin.core.flow.Sleep\n").includes("duration"));
});

test("enum values and booleans", () => {
  assert.deepEqual(labels("tasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    level: |"), ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]);
  assert.deepEqual(labels("tasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    disabled: |"), ["true", "false"]);
});

test("nested flowable children and trigger conditions", () => {
  const nested = "tasks:\n  - id: if\n    type: io.kestra.plugin.core.flow.If\n    condition: x\n    then:\n      - id: s\n        type: io.kestra.plugin.core.flow.Sleep\n        |";
  assert.ok(labels(nested).includes("duration"));
  assert.ok(labels("tasks: []\ntriggers:\n  - id: t\n    type: |").includes("io.kestra.plugin.core.trigger.Schedule"));
  const cond = "triggers:\n  - id: t\n    type: io.kestra.plugin.core.trigger.Schedule\n    conditions:\n      - type: |";
  assert.deepEqual(labels(cond), ["io.kestra.plugin.core.condition.ExpressionCondition"]);
  const named = "triggers:\n  - id: t\n    type: io.kestra.plugin.core.trigger.Schedule\n    conditions:\n      weekday:\n        type: io.kestra.plugin.core.condition.ExpressionCondition\n        |";
  assert.deepEqual(labels(named), ["expression"]);
  // unindented sequences (`tasks:` then `- id:` at the same column)
  assert.ok(labels("tasks:\n- id: x\n  type: io.kestra.plugin.core.log.Log\n  |").includes("message"));
});

test("a value with spaces is still inside its block", () => {
  const ctx = at("tasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    message: Hello from| the editor\n");
  assert.equal(ctx.kind, "none");
  assert.equal(ctx.keys.get("type"), "io.kestra.plugin.core.log.Log");
});

test("block scalars are not read as keys", () => {
  const text = "tasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    message: |\n      not: a key\n    |";
  assert.ok(labels(text).includes("level"));
  assert.equal(at("tasks:\n  - id: x\n    message: |\n      hel|").kind, "none");
});

test("hover on a type value and on a property", () => {
  const text = "tasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    level: INFO\n";
  const onType = wordAt(text, text.indexOf("plugin.core.log"));
  assert.equal(hoverAt(schema, [], new Map(), new Map(), onType).title, "io.kestra.plugin.core.log.Log");
  const pos = text.indexOf("level") + 2;
  const w = wordAt(text, pos);
  const ctx = contextAt(text, w.to);
  const h = hoverAt(schema, ctx.path, ctx.root, ctx.keys, w);
  assert.match(h.subtitle, /default "INFO"/);
  assert.equal(definitionOf(schema, "io.kestra.core.tasks.log.Log").name, "io.kestra.plugin.core.log.Log");
});

test("validator answers become diagnostics at their line and column, per document", () => {
  const text = "id: a\nnamespace: b\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    mesage: hi\n---\nid: c\nnope: 1\n";
  const lines = text.split("\n");
  const doc = { toString: () => text, lines: lines.length, line: (n) => { let from = 0; for (let i = 0; i < n - 1; i++) from += lines[i].length + 1; return { from, to: from + lines[n - 1].length, text: lines[n - 1] }; } };
  assert.deepEqual(documentStarts(lines), [0, 7]);
  const d = diagnosticsOf(doc, [
    { index: 0, constraints: "document 0:6:5: tasks[0].mesage (task 'x'): unknown property 'mesage'" },
    { index: 1, constraints: "document 1:2:1: nope: unknown flow key" },
  ]);
  assert.equal(text.slice(d[0].from, d[0].to), "mesage");
  assert.equal(text.slice(d[1].from, d[1].to), "nope");
  assert.match(d[0].message, /unknown property 'mesage'/);
});

test("inside flow-style collections on one line: types, properties and values", () => {
  // a task written `- {id: x, type: |}`
  const types = labels("id: a\ntasks:\n  - {id: x, type: io.kestra.plugin.core.l|}");
  assert.ok(types.includes("io.kestra.plugin.core.log.Log"), types.join());
  assert.ok(!types.some((t) => t.includes("Schedule")), "no trigger types among tasks");
  // its properties, without those written, applied on the line
  const c = completions(schema, at("tasks:\n  - {id: x, type: io.kestra.plugin.core.log.Log, |}"));
  const names = c.map((x) => x.label);
  assert.ok(names.includes("message") && !names.includes("id") && !names.includes("type"), names.join());
  assert.ok(c.every((x) => !x.apply || !x.apply.includes("\n")), "nothing breaks the line");
  // enum values
  assert.deepEqual(labels("tasks:\n  - {id: x, type: io.kestra.plugin.core.log.Log, level: |}"), ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]);
  // a list of tasks written inline under a block key
  assert.ok(labels("tasks:\n  - id: if\n    type: io.kestra.plugin.core.flow.If\n    condition: x\n    then: [{id: s, type: io.kestra.plugin.core.flow.Sleep, |}]").includes("duration"));
  // a mapping value written inline
  const ctx = at("tasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    retry: {|}");
  assert.equal(ctx.kind, "key");
  assert.equal(ctx.flow, true);
  // plain text with braces is not a collection; a template neither
  assert.notEqual(at("tasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    message: a {b|").flow, true);
  assert.notEqual(at('tasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    message: "{{ a |').flow, true);
});

test("a flow collection opened on an earlier line says completion stops there", () => {
  const ctx = at("tasks:\n  - {id: x,\n     |");
  assert.equal(ctx.kind, "none");
  assert.match(ctx.reason, /earlier line/);
});

// --- expressions: `{{ … }}` ---

const FLOW = `id: f
namespace: n
inputs:
  - id: months
    type: JSON
  - id: name
    type: STRING
variables:
  bucket: b
  region:
    eu: x
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.If
    condition: x
    then:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: x
  - id: my-task
    type: io.kestra.plugin.core.log.Log
    message: hi
`;
// the cursor is the last "|" of `tail`, appended to FLOW
const expr = (tail) => {
  const text = FLOW + tail;
  const i = text.lastIndexOf("|");
  return expressionCompletions(schema, text.slice(0, i) + text.slice(i + 1), i);
};
const exprLabels = (tail) => (expr(tail) || { items: [] }).items.map((c) => c.label);

test("the flow's names: inputs, tasks nested or not, variables", () => {
  const f = flowFacts(FLOW);
  assert.deepEqual(f.inputs, [{ id: "months", type: "JSON" }, { id: "name", type: "STRING" }]);
  assert.deepEqual(f.tasks.map((t) => t.id), ["each", "ret", "my-task"]);
  assert.deepEqual(f.vars, ["bucket", "region"]);
});

test("after `{{ ` the context's variables and the functions, from the schema", () => {
  const l = exprLabels('  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: "{{ |');
  for (const n of ["inputs", "outputs", "vars", "taskrun", "now", "kv"]) assert.ok(l.includes(n), `${n} in ${l}`);
  const now = expr("  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: '{{ n|").items.find((c) => c.label === "now");
  assert.equal(now.apply, "now(");
});

test("inputs., outputs., outputs.<task>., vars., taskrun. and filters", () => {
  const task = "  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: ";
  assert.deepEqual(exprLabels(task + "{{ inputs.|"), ["months", "name"]);
  assert.deepEqual(exprLabels(task + "{{ inputs.mo|"), ["months", "name"]);
  assert.equal(expr(task + "{{ inputs.mo|").from, (FLOW + task + "{{ inputs.mo").length - 2);
  assert.deepEqual(exprLabels(task + "{{ outputs.|"), ["each", "ret", "my-task"]);
  assert.ok(expr(task + "{{ outputs.|").items.find((c) => c.label === "my-task").dotless, "a dashed id is written ['my-task']");
  assert.deepEqual(exprLabels(task + "{{ outputs.ret.|"), ["value"]);
  assert.deepEqual(exprLabels(task + "{{ outputs.ret[taskrun.value].|"), ["value"]);
  assert.deepEqual(exprLabels(task + "{{ outputs['ret'].|"), ["value"]);
  assert.deepEqual(exprLabels(task + "{{ vars.|"), ["bucket", "region"]);
  assert.deepEqual(exprLabels(task + "{{ taskrun.|"), ["id", "value", "attemptsCount"]);
  assert.deepEqual(exprLabels(task + "{{ inputs.name | |"), ["date", "upper", "toJson"]);
  assert.deepEqual(exprLabels(task + "{{ inputs.name | up|"), ["date", "upper", "toJson"]);
  assert.deepEqual(exprLabels(task + "{{ outputs.x[taskrun.|"), ["id", "value", "attemptsCount"]);
});

test("expressions in block scalars and quoted strings, not outside them", () => {
  const script = "  - id: s\n    type: io.kestra.plugin.core.log.Log\n    message: |\n      echo {{ inputs.|";
  assert.deepEqual(exprLabels(script), ["months", "name"]);
  assert.deepEqual(exprLabels('  - id: s\n    type: io.kestra.plugin.core.log.Log\n    message: "a {{ outputs.|'), ["each", "ret", "my-task"]);
  assert.equal(expressionAt("message: {{ inputs.a }} inputs.", 31), null, "after a closed }}");
  assert.equal(expressionAt("message: {{ 'inputs.", 20), null, "inside a string literal");
  assert.equal(expressionAt("message: hello", 14), null);
  assert.equal(expressionAt("{% if inputs.", 13).kind, "member");
});

test("an input's type offers the validator's types", () => {
  assert.deepEqual(labels("id: a\ninputs:\n  - id: x\n    type: |"), ["STRING", "INT", "SELECT", "FILE"]);
  assert.deepEqual(labels("id: a\ninputs:\n  - id: x\n    type: S|"), ["STRING", "INT", "SELECT", "FILE"]);
});

test("keys read in one form only ($compat) are not offered", () => {
  assert.ok(!labels("id: a\n|").includes("tenantId"));
  const names = labels("tasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    |");
  assert.ok(names.includes("message") && !names.includes("version"), names.join());
});

test("a deprecated property is offered last and marked deprecated, not hidden", () => {
  const own = {
    type: "object",
    properties: {
      value: { type: "string", title: "The expression checked." },
      equalTo: { title: "The value equals this." },
      equalsTo: { title: "The name Kestra 0.23 gave `equalTo`.", deprecated: true },
    },
  };
  const found = completions(own, at("value: x\n|"));
  const names = found.map((c) => c.label);
  assert.deepEqual(names.slice(-1), ["equalsTo"], names.join());
  const old = found.find((c) => c.label === "equalsTo");
  assert.ok(old.deprecated && old.detail.startsWith("deprecated") && old.boost < 0, JSON.stringify(old));
  const current = found.find((c) => c.label === "equalTo");
  assert.ok(!current.deprecated && !current.detail.includes("deprecated"), JSON.stringify(current));
});

test("a line opening a block indents the next one", () => {
  assert.equal(indentAfter("tasks:"), 2);
  assert.equal(indentAfter("    retry:"), 6);
  assert.equal(indentAfter("  - id: x"), null);
  assert.equal(indentAfter("  - then:"), 6);
  assert.equal(indentAfter("    script: |"), 6);
  assert.equal(indentAfter("    script: >-  # folded"), 6);
  assert.equal(indentAfter("  message: hi"), null);
  assert.equal(indentAfter("  -"), 4);
});

test("a required property is marked, ForEach's values unless its older name value is written", () => {
  const each = "tasks:\n  - id: e\n    type: io.kestra.plugin.core.flow.ForEach\n    |";
  const c = completions(schema, at(each));
  const values = c.find((x) => x.label === "values");
  assert.ok(values.required && values.detail.startsWith("required"), JSON.stringify(values));
  assert.ok(!c.find((x) => x.label === "value").required);
  assert.ok(c.find((x) => x.label === "tasks").required);
  const older = completions(schema, at(each + "\n    value: [1]\n")).find((x) => x.label === "values");
  assert.ok(!older.required, "value written: values is no longer required");
  const log = completions(schema, at("tasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    |"));
  assert.ok(log.find((x) => x.label === "message").required);
  assert.ok(!log.find((x) => x.label === "level").required);
});

test("the task being written and the flowables holding it are not offered after outputs.", () => {
  const nested = "  - id: loop\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [1]\n    tasks:\n      - id: inner\n        type: io.kestra.plugin.core.log.Log\n        message: \"{{ outputs.|\"\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: x\n";
  assert.deepEqual(exprLabels(nested), ["each", "ret", "my-task", "after"]);
  // its id written below the cursor, and a block scalar
  assert.deepEqual(exprLabels("  - type: io.kestra.plugin.core.log.Log\n    message: |\n      {{ outputs.|\n    id: late\n"), ["each", "ret", "my-task"]);
});

test("an expression opened on an earlier line of the same scalar is read", () => {
  const task = "  - id: m\n    type: io.kestra.plugin.core.log.Log\n    message: ";
  assert.deepEqual(exprLabels(task + "|\n      {{ inputs.name\n        | up|"), ["date", "upper", "toJson"]);
  assert.deepEqual(exprLabels(task + "|\n      first line\n      {{\n        outputs.r|"), ["each", "ret", "my-task"]);
  assert.deepEqual(exprLabels(task + "|\n      {{\n\n        outputs.ret.|"), ["value"]);
  assert.deepEqual(exprLabels(task + '"{{\n      inputs.|'), ["months", "name"]);
  // not past a key line, nor after an expression closed on an earlier line
  assert.equal(expr(task + '"{{ inputs.\n    description: inputs.|'), null);
  assert.equal(expr(task + "|\n      {{ inputs.name }}\n      inputs.|"), null);
  assert.equal(expr("  - id: z\n    type: io.kestra.plugin.core.log.Log\n    message: |\n      {{ inputs.name\n    description: inputs.|"), null);
});
