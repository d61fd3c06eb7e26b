// Drives Baton's web UI in headless Chromium (Debian's, through
// playwright-core from scripts/setup/chromium.sh) for tests/tests/ui.rs and
// the UI benchmark. Usage: node drive.mjs URL SCENARIO SHOTS_DIR
// Each scenario asserts on what the page shows; any failure exits 1 with
// the reason. Prints "scenario SCENARIO passed" at the end.

import { createRequire } from "node:module";
import path from "node:path";
import fs from "node:fs";

const [url, scenario, shots] = process.argv.slice(2);
const dir = process.env.BATON_PLAYWRIGHT_DIR;
const exe = process.env.BATON_CHROMIUM;
if (!dir || !exe) {
  console.error("BATON_PLAYWRIGHT_DIR and BATON_CHROMIUM must be set: source scripts/setup/chromium.sh");
  process.exit(2);
}
const { chromium } = createRequire(path.join(dir, "package.json"))("playwright-core");

const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

function check(cond, what) {
  if (!cond) throw new Error(`assertion failed: ${what}`);
}

async function shot(page, name) {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, name + ".png") });
}

async function text(locator) {
  return (await locator.innerText()).trim();
}

/** Starts flow NAMESPACE.ID from its page's execute dialog; returns the new execution's id. */
async function executeFromUi(page, namespace, id) {
  await page.goto(url + `#/flows/${namespace}/${id}`);
  await page.locator("[data-testid=source]").waitFor();
  await page.locator("h1 button.primary", { hasText: "Execute" }).click();
  await page.locator("[data-testid=execute-form] button[type=submit]").click();
  await page.waitForURL(/#\/executions\/[A-Za-z0-9]+$/);
  return page.url().split("/").pop();
}

/** Replaces the flow editor's whole text (as a paste would). */
async function setEditor(page, value) {
  const content = page.locator("[data-testid=editor] .cm-content");
  await content.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(value);
}

/** The flow editor's text. */
async function editorText(page) {
  await page.locator("[data-testid=editor] .cm-content").waitFor();
  return page.locator("[data-testid=editor]").evaluate((host) => host.batonEditor.text());
}

/** Calls the API from the page (same origin, same credentials); returns the body, throws on an error status. */
async function apiCall(page, method, path, body) {
  const [status, out] = await page.evaluate(async ([method, path, body]) => {
    const r = await fetch("/api/v1" + path, { method, body, headers: body ? { "content-type": "application/json" } : {} });
    return [r.status, await r.text()];
  }, [method, path, body]);
  check(status < 300, `${method} ${path}: ${status} ${out}`);
  return out;
}

const scenarios = {
  /** Dynamic inputs: a SELECT filled by subflow() as its dependency changes, an input hidden by dependsOn. */
  async dynamic(page) {
    await page.goto(url + "#/flows/company.team/pick");
    await page.locator("[data-testid=source]").waitFor();
    await page.locator("h1 button.primary", { hasText: "Execute" }).click();
    const form = page.locator("[data-testid=execute-form]");
    await form.locator("[data-input=cloud] select").selectOption("aws");
    await form.locator("[data-input=region] select option[value=aws-west]").waitFor({ state: "attached" });
    check(await form.locator("[data-input=project]").isHidden(), "project is hidden while cloud is aws");
    await form.locator("[data-input=cloud] select").selectOption("gcp");
    await form.locator("[data-input=region] select option[value=gcp-west]").waitFor({ state: "attached" });
    check((await form.locator("[data-input=region] select option[value=aws-west]").count()) === 0, "the aws regions are gone");
    await form.locator("[data-input=project]").waitFor({ state: "visible" });
    await form.locator("[data-input=region] select").selectOption("gcp-west");
    await form.locator("[data-input=project] input").fill("p1");
    await shot(page, "dynamic-inputs");
    await form.locator("button[type=submit]").click();
    await page.waitForURL(/#\/executions\/[A-Za-z0-9]+$/);
    await page.locator("[data-testid=execution-state]").getByText("SUCCESS").waitFor({ timeout: 30000 });
    const inputs = await text(page.locator("[data-testid=inputs]"));
    for (const want of ["gcp", "gcp-west", "p1"]) check(inputs.includes(want), `inputs show ${want}: ${inputs}`);
  },

  /** Execute dialog with typed inputs, live state, gantt, logs, topology, outputs, list. */
  async execute(page) {
    await page.goto(url + "#/flows/ui.test/typed");
    await page.locator("[data-testid=source]").getByText("io.kestra.plugin.core.flow.Sleep").waitFor();
    await shot(page, "flow");
    await page.locator("h1 button.primary", { hasText: "Execute" }).click();
    const form = page.locator("[data-testid=execute-form]");
    await form.locator("[data-input=name] input").fill("Ada");
    await form.locator("[data-input=count] input").fill("3");
    await form.locator("[data-input=color] select").selectOption("green");
    await form.locator("[data-input=items] textarea").fill("a\nb");
    await form.locator("[data-input=flag] select").selectOption("true");
    await form.locator("[data-input=day] input").fill("2026-03-04");
    await form.locator("[data-input=tags] select").selectOption(["x", "z"]);
    await form.locator("[data-input=at] input").fill("2026-03-04T05:06");
    check((await form.locator("[data-input=ratio] input").inputValue()) === "0.5", "the FLOAT default is filled in");
    await form.locator("[data-input=ratio] input").fill("2.25");
    await form.locator("[data-input=data] input").setInputFiles({ name: "hello.txt", mimeType: "text/plain", buffer: Buffer.from("file body") });
    await form.locator("textarea[name=labels]").fill("team:ui");
    await shot(page, "execute-dialog");
    await form.locator("button[type=submit]").click();
    await page.waitForURL(/#\/executions\/[A-Za-z0-9]+$/);
    const state = page.locator("[data-testid=execution-state]");
    // the 3 s Sleep keeps it running: the page shows RUNNING, then SUCCESS without a reload
    await state.getByText("RUNNING").waitFor({ timeout: 3000 });
    await state.getByText("SUCCESS").waitFor({ timeout: 30000 });
    const inputs = await text(page.locator("[data-testid=inputs]"));
    for (const want of ["Ada", "3", "green", '"a"', "true", "2026-03-04", '"x"', '"z"', "2026-03-04T", "2.25", "hello.txt"]) check(inputs.includes(want), `inputs show ${want}: ${inputs}`);
    check(!inputs.includes('"y"'), `only the chosen MULTISELECT values: ${inputs}`);
    check((await text(page.locator("[data-testid=labels]"))).includes("team:ui"), "the label is shown");
    await shot(page, "execution");
    await page.locator(".tabs a", { hasText: "Gantt" }).click();
    await page.locator("[data-testid=gantt]").waitFor();
    for (const t of ["hello", "wait", "echo"]) check((await page.locator(`[data-testid=gantt] [data-task=${t}] .bar`).count()) === 1, `a gantt bar for ${t}`);
    const wait = await page.locator("[data-testid=gantt]").innerText();
    check(/\b[34]\.\d+s/.test(wait), `the 3 s Sleep's duration is shown: ${wait}`);
    await shot(page, "gantt");
    await page.locator(".tabs a", { hasText: "Logs" }).click();
    await page.locator("[data-testid=logs]").getByText('Hello Ada x3 green ["a","b"]').waitFor();
    const hello = page.locator('[data-testid=logs] details[data-task="hello"] summary');
    check((await text(hello)).includes("SUCCESS"), `the hello task run's log group shows its state: ${await text(hello)}`);
    await page.locator("select[name=taskId]").selectOption("echo");
    await page.waitForFunction(() => !document.querySelector("[data-testid=logs]")?.innerText.includes("Hello Ada"));
    await page.locator("select[name=taskId]").selectOption("hello");
    await page.locator("[data-testid=logs]").getByText("Hello Ada").waitFor();
    await shot(page, "logs");
    await page.locator(".tabs a", { hasText: "Topology" }).click();
    await page.locator("[data-testid=topology]").waitFor();
    for (const t of ["hello", "wait", "echo"]) {
      check((await page.locator(`[data-testid=topology] g[data-task=${t}]`).getAttribute("data-state")) === "SUCCESS", `topology node ${t} is SUCCESS`);
    }
    await shot(page, "topology");
    await page.locator("[data-testid=topology] g[data-task=hello]").click();
    await page.waitForURL(/tab=logs&taskId=hello/);
    await page.locator("[data-testid=logs]").getByText("Hello Ada").waitFor();
    await page.locator(".tabs a", { hasText: "Outputs" }).click();
    check((await text(page.locator("[data-testid=outputs]"))).includes("file body"), "the echo output is shown");
    await page.locator(".tabs a", { hasText: "Overview" }).click();
    await page.locator("[data-testid=inputs] button", { hasText: "Preview" }).click();
    await page.locator("[data-testid=preview]").getByText("file body").waitFor();
    await page.goto(url + "#/executions?namespace=ui.test");
    const row = page.locator("[data-testid=executions] tbody tr[data-execution]").first();
    await row.waitFor();
    check((await text(row)).includes("SUCCESS") && (await text(row)).includes("typed"), "the list shows the execution");
    await shot(page, "executions");
    // filters: a label that matches, then a state that does not
    await page.locator("input[name=labels]").fill("team:ui");
    await page.locator("input[name=labels]").press("Enter");
    await page.waitForURL(/labels=team%3Aui/);
    await page.locator("[data-testid=executions] tbody tr[data-execution]").first().waitFor();
    await page.locator("select[name=state]").selectOption("FAILED");
    await page.waitForURL(/state=FAILED/);
    await page.locator("[data-testid=executions] tbody").getByText("No executions.").waitFor();
    check((await text(page.locator(".filters .muted"))) === "0 executions", "the total follows the filters");
    // the flow page's topology, without an execution
    await page.goto(url + "#/flows/ui.test/typed?tab=topology");
    await page.locator("[data-testid=topology] g[data-task=echo]").waitFor();
    check((await page.locator("[data-testid=topology] g[data-task]").count()) === 3, "the flow's topology has its 3 tasks");
  },

  /** The backfill dialog from the Triggers page, and its progress to the end. */
  async backfill(page) {
    await page.goto(url + "#/triggers");
    const row = page.locator('tr[data-trigger="ui.test.nightly.daily"]');
    await row.waitFor();
    check((await text(row)).includes("0 2 * * *"), "the trigger's cron is shown");
    await row.locator("button", { hasText: "Backfill executions" }).click();
    const form = page.locator("[data-testid=backfill-form]");
    await form.locator("input[name=start]").fill("2026-01-01T00:00");
    await form.locator("input[name=end]").fill("2026-01-03T12:00");
    await form.locator("[data-input=region] input").fill("us");
    await form.locator("textarea[name=labels]").fill("source:ui");
    await shot(page, "backfill-dialog");
    await form.locator("button[type=submit]").click();
    const b = row.locator("[data-testid=backfill]");
    await b.waitFor();
    await row.locator('[data-testid=backfill][data-state="SUCCESS"]').waitFor({ timeout: 30000 });
    const shown = await text(b);
    check(shown.includes("3/3 done"), `the backfill's progress: ${shown}`);
    await shot(page, "triggers");
    await page.goto(url + "#/executions?namespace=ui.test&flowId=nightly");
    await page.locator("[data-testid=executions] tbody tr[data-execution]").first().waitFor();
    const rows = page.locator("[data-testid=executions] tbody tr[data-execution]");
    check((await rows.count()) === 3, `3 backfilled executions listed, not ${await rows.count()}`);
    check((await text(rows.first())).includes("source:ui"), "the backfill's label is on its executions");
  },

  /** Set KV values with a type, see them listed, read one, delete one. */
  async kv(page) {
    page.on("dialog", (d) => d.accept());
    await page.goto(url + "#/kv/ui.test");
    const form = page.locator("[data-testid=kv-form]");
    await form.waitFor();
    const set = async (key, type, value) => {
      await form.locator("input[name=key]").fill(key);
      await form.locator("select[name=type]").selectOption(type);
      await form.locator("textarea[name=value]").fill(value);
      await form.locator("button[type=submit]").click();
      await page.locator(`[data-testid=kv] tr[data-key="${key}"]`).waitFor();
    };
    await set("GREETING", "STRING", "42");
    await set("LIMIT", "NUMBER", "7");
    await set("CONFIG", "JSON", '{"a": [1, 2]}');
    const types = async (key) => text(page.locator(`[data-testid=kv] tr[data-key="${key}"] td`).nth(1));
    check((await types("GREETING")) === "STRING", "42 set as STRING stays a string");
    check((await types("LIMIT")) === "NUMBER", "LIMIT is a NUMBER");
    check((await types("CONFIG")) === "JSON", "CONFIG is JSON");
    await page.locator('[data-testid=kv] tr[data-key="GREETING"] a').click();
    check((await text(page.locator("[data-testid=kv-value]"))) === "42", "the value is shown");
    await shot(page, "kv");
    await page.locator('[data-testid=kv] tr[data-key="LIMIT"] button', { hasText: "Delete" }).click();
    await page.locator('[data-testid=kv] tr[data-key="LIMIT"]').waitFor({ state: "detached" });
  },

  /** Flows: import a multi-document YAML, create one in the editor, a refused import's message. */
  async flows(page) {
    await page.goto(url + "#/flows");
    await page.locator('tr[data-flow="ui.test.typed"]').waitFor();
    const two = "id: a\nnamespace: ui.import\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: a\n---\nid: b\nnamespace: ui.import\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: b\n";
    await page.locator("input[name=fileUpload]").setInputFiles({ name: "two.yml", mimeType: "application/x-yaml", buffer: Buffer.from(two) });
    await page.locator('tr[data-flow="ui.import.a"]').waitFor();
    await page.locator('tr[data-flow="ui.import.b"]').waitFor();
    await page.locator("a", { hasText: "Create" }).click();
    await setEditor(page, "id: created\nnamespace: ui.import\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: made in the UI\n");
    await page.locator("button", { hasText: "Save" }).click();
    await page.waitForURL(/#\/flows\/ui\.import\/created$/);
    await page.locator("[data-testid=source]").getByText("made in the UI").waitFor();
    await page.goto(url + "#/flows");
    await page.locator('tr[data-flow="ui.import.created"]').waitFor();
    await shot(page, "flows");
    const bad = "id: broken\nnamespace: ui.import\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Nope\n";
    await page.locator("input[name=fileUpload]").setInputFiles({ name: "bad.yml", mimeType: "application/x-yaml", buffer: Buffer.from(bad) });
    const toast = page.locator(".toast.error");
    await toast.waitFor();
    check((await text(toast)).includes("Nope"), `the refused import says why: ${await text(toast)}`);
  },

  /**
   * A new flow written from an empty editor with completion only: flow keys,
   * the task's `type` and `message` picked from the lists; hover and the
   * documentation panel; an unknown property underlined within a second of
   * typing, without a click; Tab indents; Ctrl-S saves; the flow runs.
   */
  async editor(page) {
    await page.goto(url + "#/flows/new");
    const content = page.locator("[data-testid=editor] .cm-content");
    await content.waitFor();
    const schema = JSON.parse(await apiCall(page, "GET", "/plugins/schemas/flow"));
    check(schema.definitions && schema.definitions["io.kestra.plugin.core.log.Log"], "the server's flow schema defines io.kestra.plugin.core.log.Log");
    await page.locator("[data-testid=doc-panel] .doc-hint").waitFor(); // the schema is loaded
    await content.click();
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    check((await editorText(page)) === "", "the editor is empty");
    const list = page.locator(".cm-tooltip-autocomplete");
    const latencies = [];
    /** Types `typed`, waits for the list, and clicks the option `label` in it. */
    const pick = async (typed, label) => {
      const t0 = Date.now();
      await page.keyboard.type(typed);
      const option = list.locator(".cm-completionLabel").getByText(label, { exact: true });
      await option.waitFor({ timeout: 3000 });
      latencies.push(Date.now() - t0);
      await option.click();
    };
    await pick("i", "id");
    await page.keyboard.type("hello_editor");
    await page.keyboard.press("Enter");
    await pick("na", "namespace");
    await page.keyboard.type("ui.editor");
    await page.keyboard.press("Enter");
    await pick("ta", "tasks"); // opens `tasks:` and a `- ` item, with id and type offered at once
    await list.locator(".cm-completionLabel").getByText("type", { exact: true }).waitFor();
    await pick("i", "id");
    await page.keyboard.type("say");
    await page.keyboard.press("Enter");
    await pick("ty", "type"); // the type list opens by itself
    await list.locator(".cm-completionLabel").first().waitFor();
    const types = await list.locator(".cm-completionLabel").count();
    check(types > 3, `the type list offers the task types (${types})`);
    await pick("core.log.Log", "io.kestra.plugin.core.log.Log");
    await page.keyboard.press("Enter");
    await pick("me", "message");
    const detail = await text(page.locator("[data-testid=doc-panel] .doc-title"));
    check(/log/i.test(detail), `the doc panel documents the Log task: ${detail}`);
    await page.keyboard.type("Hello from the editor");
    const panel = page.locator("[data-testid=doc-panel]");
    check((await text(panel.locator(".doc-type"))) === "io.kestra.plugin.core.log.Log", "the panel names the type");
    await panel.locator('tr[data-prop="message"]').waitFor();
    check((await panel.locator('tr[data-prop="message"] .doc-req').count()) === 1, "message is marked required");
    check((await panel.locator("tr[data-prop]").count()) >= 5, "the properties table lists the task's properties");
    await shot(page, "editor-doc");
    // an unknown property is underlined within a second, without a click
    await page.keyboard.press("Enter");
    await page.keyboard.type("mesage: oops");
    const typedAt = Date.now();
    const underline = page.locator("[data-testid=editor] .cm-lintRange-error");
    // Lint runs while the line is typed, so a half-typed line's diagnostic
    // may show for a moment; wait for the one on the key, then require it
    // to be the only one left.
    const onKey = underline.filter({ hasText: /^mesage$/ });
    await onKey.first().waitFor({ timeout: 1000 });
    const lintMs = Date.now() - typedAt;
    let all = await underline.allInnerTexts();
    for (const end = Date.now() + 2000; !(all.length === 1 && all[0].trim() === "mesage") && Date.now() < end; ) {
      await page.waitForTimeout(50);
      all = await underline.allInnerTexts();
    }
    check(all.length === 1 && all[0].trim() === "mesage", `the only underline is on the unknown key: ${JSON.stringify(all)}`);
    await underline.first().hover();
    const tip = page.locator(".cm-tooltip-lint");
    await tip.waitFor();
    check((await text(tip)).includes("mesage"), `the diagnostic names the property: ${await text(tip)}`);
    await shot(page, "editor-lint");
    await page.keyboard.press("Control+Shift+K"); // delete the line
    await underline.first().waitFor({ state: "detached", timeout: 3000 });
    // hover on the type documents it
    await page.locator("[data-testid=editor] .cm-line", { hasText: "io.kestra.plugin.core.log.Log" }).getByText("core.log.Log").hover();
    const hoverDoc = page.locator(".cm-baton-hover");
    await hoverDoc.waitFor();
    check((await text(hoverDoc)).includes("io.kestra.plugin.core.log.Log"), "hover documents the type");
    // Tab indents by two spaces, Shift-Tab takes them back
    await content.click();
    await page.keyboard.press("Control+End");
    const before = await editorText(page);
    const lastLine = () => editorText(page).then((t) => t.split("\n").filter((l) => l.trim()).pop());
    const was = await lastLine();
    await page.keyboard.press("Tab");
    check((await lastLine()) === "  " + was, `Tab indents the line by two spaces: '${await lastLine()}'`);
    await page.keyboard.press("Shift+Tab");
    check((await editorText(page)) === before, "Shift-Tab undoes it");
    const yaml = await editorText(page);
    check(/^id: hello_editor\nnamespace: ui.editor\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: Hello from the editor/.test(yaml), `the flow written:\n${yaml}`);
    await page.keyboard.press("Control+s");
    await page.waitForURL(/#\/flows\/ui\.editor\/hello_editor$/);
    const id = await executeFromUi(page, "ui.editor", "hello_editor");
    await page.locator("[data-testid=execution-state]").getByText("SUCCESS").waitFor({ timeout: 15000 });
    console.log(`completion latency ms (type to list shown): ${latencies.join(" ")}`);
    console.log(`lint underline ms after typing: ${lintMs}`);
    console.log(`execution ${id}`);
  },

  /** Time to interactive of the new-flow editor (median of 5 loads) and the bundle as served. */
  async "editor-bench"(page) {
    const times = [];
    for (let i = 0; i < 5; i++) {
      await page.goto("about:blank");
      await page.goto(url + "#/flows/new");
      await page.locator("[data-testid=doc-panel] .doc-hint").waitFor();
      await page.locator("[data-testid=editor] .cm-content").waitFor();
      times.push(await page.evaluate(() => performance.now()));
    }
    times.sort((a, b) => a - b);
    const nav = await page.evaluate(() => performance.getEntriesByType("navigation")[0].domInteractive);
    console.log(`editor time to interactive ms (median of 5): ${Math.round(times[2])} (all: ${times.map(Math.round).join(" ")}; domInteractive ${Math.round(nav)})`);
  },

  /** Namespace files: upload into a folder, list, view, delete. */
  async files(page) {
    page.on("dialog", (d) => d.accept());
    await page.goto(url + "#/files/ui.test");
    const form = page.locator("[data-testid=upload-form]");
    await form.locator("input[type=file]").setInputFiles({ name: "local.sh", mimeType: "text/plain", buffer: Buffer.from("echo hello from namespace files\n") });
    await form.locator("input[name=path]").fill("scripts/hello.sh");
    await form.locator("button[type=submit]").click();
    await page.locator("[data-testid=file-content]").getByText("echo hello from namespace files").waitFor();
    await page.goto(url + "#/files/ui.test");
    const folder = page.locator('[data-testid=files] tr[data-file="scripts"]');
    check((await text(folder)).includes("Directory"), "the folder is listed as a Directory");
    await folder.locator("a").click();
    const row = page.locator('[data-testid=files] tr[data-file="hello.sh"]');
    await row.waitFor();
    check((await text(row)).includes("32"), `the file's size is shown: ${await text(row)}`);
    await shot(page, "files");
    await row.locator("button", { hasText: "Delete" }).click();
    await row.waitFor({ state: "detached" });
  },

  /** Validation errors at their line in the flow editor; API errors shown with their message. */
  async errors(page) {
    await page.goto(url + "#/flows/ui.test/typed");
    await page.locator("button", { hasText: "Edit" }).click();
    const src = (await editorText(page)).replace("io.kestra.plugin.core.debug.Return", "io.kestra.plugin.core.debug.Nope");
    await setEditor(page, src);
    await page.locator("button", { hasText: "Validate" }).click();
    const msg = page.locator("[data-testid=validation] .msg").first();
    await msg.waitFor();
    const line = Number(await msg.getAttribute("data-error-line"));
    const nope = src.split("\n").findIndex((l) => l.includes("debug.Nope")) + 1;
    check(line >= nope - 2 && line <= nope, `the error is at line ${line}, near the bad type on line ${nope}`);
    check((await text(msg)).includes("Nope"), "the message names the unknown type");
    await shot(page, "validation");
    await page.goto(url + "#/executions/doesnotexist");
    const box = page.locator(".error-box");
    await box.waitFor();
    check((await text(box)).includes("execution doesnotexist not found"), `the API's message is shown: ${await text(box)}`);
  },

  /** Kill a running execution from its page: the page and the API say KILLED. */
  async kill(page) {
    const id = await executeFromUi(page, "ui.ops", "slow");
    const state = page.locator("[data-testid=execution-state]");
    await state.getByText("RUNNING").waitFor({ timeout: 5000 });
    await page.locator("h1 button.danger", { hasText: "Kill" }).click();
    await state.getByText("KILLED").waitFor({ timeout: 10000 });
    check(!(await page.locator("h1 button", { hasText: "Kill" }).count()), "no Kill button once it is killed");
    await shot(page, "killed");
    console.log(`execution ${id}`);
  },

  /** Delete an ended execution from its page: back to the list, and the API no longer knows it. */
  async delete(page) {
    page.on("dialog", (d) => d.accept());
    const id = await executeFromUi(page, "ui.ops", "steps");
    const state = page.locator("[data-testid=execution-state]");
    await state.getByText("SUCCESS").waitFor({ timeout: 10000 });
    await page.locator("h1 button.danger", { hasText: "Delete" }).click();
    await page.waitForURL((u) => u.hash === "#/executions");
    const status = await page.evaluate(async (eid) => (await fetch(`/api/v1/executions/${eid}`)).status, id);
    check(status === 404, `the deleted execution answers ${status}`);
    console.log(`execution ${id}`);
  },

  /** Restart a failed execution from its page: the same execution runs the failed task again and succeeds. */
  async restart(page) {
    const id = await executeFromUi(page, "ui.ops", "flaky");
    const state = page.locator("[data-testid=execution-state]");
    await state.getByText("FAILED").waitFor({ timeout: 10000 });
    await apiCall(page, "PUT", "/namespaces/ui.ops/kv/go", '"yes"');
    await page.locator("h1 button", { hasText: "Restart" }).click();
    await state.getByText("SUCCESS").waitFor({ timeout: 10000 });
    check(page.url().endsWith(`#/executions/${id}`), `the same execution is shown: ${page.url()}`);
    const states = await text(page.locator("[data-testid=tab-overview]"));
    check(states.includes("RESTARTED") && states.includes("FAILED"), `its states show the restart: ${states}`);
    console.log(`execution ${id}`);
  },

  /** Replay a whole execution, then from a task run in the Gantt: each opens the new execution. */
  async replay(page) {
    page.on("dialog", (d) => d.accept());
    const orig = await executeFromUi(page, "ui.ops", "steps");
    const state = page.locator("[data-testid=execution-state]");
    await state.getByText("SUCCESS").waitFor({ timeout: 10000 });
    await page.locator("h1 button", { hasText: "Replay" }).click();
    await page.waitForURL((u) => /#\/executions\/[A-Za-z0-9]+$/.test(u.hash) && !u.hash.endsWith(orig));
    const whole = page.url().split("/").pop();
    await state.getByText("SUCCESS").waitFor({ timeout: 10000 });
    check((await text(page.locator("[data-testid=labels]"))).includes("system.replay:true"), "the replay is labelled");
    await page.goto(url + `#/executions/${orig}?tab=logs`);
    await page.locator("[data-testid=logs]").getByText("middle").first().waitFor();
    check((await page.locator('[data-testid=logs] details[data-task="middle"] summary button[data-replay=middle]').count()) === 1, "a log group offers Replay from here");
    await page.goto(url + `#/executions/${orig}?tab=gantt`);
    const from = page.locator("[data-testid=gantt] button[data-replay=middle]");
    await from.waitFor();
    check((await page.locator("[data-testid=gantt] button[data-replay]").count()) === 3, "every task run can be replayed from");
    await shot(page, "replay-gantt");
    await from.click();
    await page.waitForURL((u) => /#\/executions\/[A-Za-z0-9]+$/.test(u.hash) && !u.hash.endsWith(orig) && !u.hash.endsWith(whole));
    const replayed = page.url().split("/").pop();
    await state.getByText("SUCCESS").waitFor({ timeout: 10000 });
    const overview = await text(page.locator("[data-testid=tab-overview]"));
    check(overview.includes(orig), `the replay links its original execution: ${overview}`);
    await page.locator(".tabs a", { hasText: "Outputs" }).click();
    const outputs = await text(page.locator("[data-testid=outputs]"));
    check(outputs.includes(`made by ${orig}`), `the kept stamp is the original's, read by the task run again: ${outputs}`);
    console.log(`original ${orig}\nwhole ${whole}\nfrom ${replayed}`);
  },

  /**
   * Resume a paused execution from its page: the onResume form (defaults
   * shown), a missing required input refused in the dialog, then SUCCESS
   * and the inputs in the outputs; a resume refused because the execution
   * was resumed meanwhile is shown too.
   */
  async resume(page) {
    const id = await executeFromUi(page, "ui.ops", "approve");
    const state = page.locator("[data-testid=execution-state]");
    await state.getByText("PAUSED").waitFor({ timeout: 10000 });
    await page.locator("h1 button[data-testid=resume]").click();
    const form = page.locator("[data-testid=resume-form]");
    const asked = form.locator("label[data-input=asked] input");
    await asked.waitFor();
    check((await form.locator("label[data-input=count] input").inputValue()) === "2", "the INT input shows its default");
    await form.locator("button[type=submit]").click();
    const err = form.locator(".error-box");
    await err.waitFor();
    check((await text(err)).includes("asked"), `the refusal names the missing input: ${await text(err)}`);
    await shot(page, "resume-refused");
    check((await text(state)) === "PAUSED", "still paused after a refused resume");
    await asked.fill("approved by ui");
    await form.locator("label[data-input=count] input").fill("5");
    await form.locator("button[type=submit]").click();
    await state.getByText("SUCCESS").waitFor({ timeout: 15000 });
    check(!(await page.locator("h1 button[data-testid=resume]").count()), "no Resume button once it has ended");
    await page.locator(".tabs a", { hasText: "Outputs" }).click();
    const outputs = await text(page.locator("[data-testid=outputs]"));
    check(outputs.includes("approved by ui x5"), `the next task read the inputs: ${outputs}`);
    await shot(page, "resumed");
    // resumed elsewhere while the dialog is open: the 409 is shown
    const other = await executeFromUi(page, "ui.ops", "approve");
    await state.getByText("PAUSED").waitFor({ timeout: 10000 });
    await page.locator("h1 button[data-testid=resume]").click();
    await asked.fill("too late");
    await apiCall(page, "POST", `/executions/${other}/resume`, JSON.stringify({ asked: "from the api" }));
    await form.locator("button[type=submit]").click();
    await err.waitFor();
    check((await text(err)).includes("is not paused, can't resume it"), `the conflict is shown: ${await text(err)}`);
    console.log(`execution ${id}\nother ${other}`);
  },

  /** Disable and enable a trigger from the Triggers page; the page and the API agree; it ends disabled. */
  async toggle(page) {
    await page.goto(url + "#/triggers");
    const row = page.locator('tr[data-trigger="ui.test.nightly.daily"]');
    await row.waitFor();
    const api = async () => JSON.parse(await apiCall(page, "GET", "/triggers/ui.test/nightly/daily")).disabled;
    check((await row.getAttribute("data-disabled")) === "false" && (await api()) === false, "enabled at first");
    await row.locator("button", { hasText: "Disable" }).click();
    await page.locator('tr[data-trigger="ui.test.nightly.daily"][data-disabled=true]').waitFor();
    check((await text(row)).includes("(disabled)") && (await api()) === true, "disabled in the page and the API");
    await row.locator("button", { hasText: "Enable" }).click();
    await page.locator('tr[data-trigger="ui.test.nightly.daily"][data-disabled=false]').waitFor();
    check(!(await text(row)).includes("(disabled)") && (await api()) === false, "enabled again in the page and the API");
    await row.locator("button", { hasText: "Disable" }).click();
    await page.locator('tr[data-trigger="ui.test.nightly.daily"][data-disabled=true]').waitFor();
    await shot(page, "trigger-disabled");
  },

  /** Benchmark: the executions page's first paint and first rendered row. */
  async bench(page) {
    const t0 = Date.now();
    await page.goto(url + "#/executions");
    await page.locator("[data-testid=executions] tbody tr[data-execution]").first().waitFor({ timeout: 60000 });
    const row = Date.now() - t0;
    const paint = await page.evaluate(() => {
      const p = performance.getEntriesByName("first-contentful-paint")[0] || performance.getEntriesByName("first-paint")[0];
      return p ? p.startTime : null;
    });
    const total = await text(page.locator(".filters .muted"));
    console.log(JSON.stringify({ firstPaintMs: paint, firstRowMs: row, shown: total }));
  },
};

/** Calls the API from the page without a body; its JSON answer, or throws on an error status. */
const call = (page, method, path) =>
  page.evaluate(async ([method, path]) => {
    const r = await fetch("/api/v1" + path, { method });
    const t = await r.text();
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${t}`);
    return t ? JSON.parse(t) : null;
  }, [method, path]);

// the pages of a Kestra-like UI (home, revisions, namespaces…): tests/ui/pages.mjs
Object.assign(scenarios, (await import("./pages.mjs")).scenarios({ url, check, shot, text }));
Object.assign(scenarios, (await import("./metrics.mjs")).scenarios({ url, check, shot, text, call }));
Object.assign(scenarios, (await import("./links.mjs")).scenarios({ url, check, shot, text, call }));
Object.assign(scenarios, (await import("./tests.mjs")).scenarios({ url, check, shot, text, call }));
Object.assign(scenarios, (await import("./expressions.mjs")).scenarios({ url, check, shot, text }));
Object.assign(scenarios, (await import("./actions.mjs")).scenarios({ url, check, shot, text, call }));
Object.assign(scenarios, (await import("./login.mjs")).scenarios({ url, check, shot, text }));
Object.assign(scenarios, (await import("./authoring.mjs")).scenarios({ url, check, shot, text }));

const run = scenarios[scenario];
if (!run) {
  console.error(`no scenario '${scenario}' (${Object.keys(scenarios).join(", ")})`);
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ARGS });
let failed = false;
try {
  // BATON_UI_AUTH=user:password: the server wants Kestra's basic auth
  const auth = process.env.BATON_UI_AUTH;
  const httpCredentials = auth ? { username: auth.slice(0, auth.indexOf(":")), password: auth.slice(auth.indexOf(":") + 1) } : undefined;
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 }, httpCredentials });
  // logged in as the login page leaves it (tests/ui/login.mjs drives the form itself):
  // the session cookie the server sets, shared by the page's context
  if (auth) {
    const r = await page.context().request.post(url + "/auth/login", { data: { username: httpCredentials.username, password: httpCredentials.password } });
    if (r.status() !== 200) throw new Error(`login for the scenario: HTTP ${r.status()}`);
  }
  // a deadline for waits on conditions, not a pause: under the whole suite's
  // load (two cores, ~400 tests) one redraw through subflow() runs an
  // execution on the server and has taken over 20 s
  page.setDefaultTimeout(45000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    await run(page);
    check(errors.length === 0, `no script errors on the page: ${errors.join("; ")}`);
  } catch (e) {
    failed = true;
    console.error(`scenario ${scenario} failed: ${e.stack || e}`);
    if (shots) await shot(page, `failed-${scenario}`).catch(() => {});
    console.error("page text:\n" + (await page.locator("body").innerText().catch(() => "?")).slice(0, 3000));
  }
} finally {
  await browser.close();
}
if (failed) process.exit(1);
console.log(`scenario ${scenario} passed`);
