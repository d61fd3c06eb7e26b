// Scenarios for tests/tests/ui_editor.rs, loaded by drive.mjs: the flow
// editor completes inside `{{ }}` — after `outputs.` the flow's task ids
// but never the task being written, after `outputs.<id>.` that task's
// declared outputs, after `inputs.` the input ids — also in an expression
// opened on an earlier line of a block scalar; a required property
// (ForEach's `values`) is marked in the list; an input's `type:` offers
// the validator's types; Enter breaks the line while a suggestion is
// open; a `key:` line indents the next one.

export function scenarios({ url, check, shot, text }) {
  return {
    async "editor-expressions"(page) {
      await page.goto(url + "#/flows/new");
      const content = page.locator("[data-testid=editor] .cm-content");
      await content.waitFor();
      await page.locator("[data-testid=doc-panel] .doc-hint").waitFor(); // the schema is loaded
      const editorText = () => page.locator("[data-testid=editor]").evaluate((host) => host.batonEditor.text());
      const setText = async (value) => {
        await page.keyboard.press("Escape"); // no list over the text
        await content.click();
        await page.keyboard.press("Control+A");
        await page.keyboard.press("Delete");
        await page.keyboard.insertText(value);
        await page.keyboard.press("Control+End");
      };
      const list = page.locator(".cm-tooltip-autocomplete");
      const option = (label) => list.locator(".cm-completionLabel").getByText(label, { exact: true });
      const offered = () => list.locator(".cm-completionLabel").allInnerTexts();
      const flow =
        "id: expr\nnamespace: ui.expr\ninputs:\n  - id: months\n    type: JSON\ntasks:\n" +
        "  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: hi\n" +
        "  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: ";
      await setText(flow);
      let t0 = Date.now();
      await page.keyboard.type('"{{ outputs.');
      await option("first").waitFor({ timeout: 3000 });
      const outputsMs = Date.now() - t0;
      const ids = await offered();
      check(ids.includes("first") && !ids.includes("say"), `the task ids are offered after outputs., not the task being written: ${ids}`);
      await shot(page, "editor-expressions");
      await option("first").click();
      await page.keyboard.type(".");
      await option("value").waitFor({ timeout: 3000 });
      await option("value").click();
      t0 = Date.now();
      await page.keyboard.type(" }} {{ inputs.");
      await option("months").waitFor({ timeout: 3000 });
      const inputsMs = Date.now() - t0;
      await option("months").click();
      await page.keyboard.type(' | ');
      await option("toJson").waitFor({ timeout: 3000 });
      await option("toJson").click();
      await page.keyboard.type(' }}"');
      let yaml = await editorText();
      check(yaml.endsWith('message: "{{ outputs.first.value }} {{ inputs.months | toJson }}"'), `the expression written by completion:\n${yaml}`);
      // Enter while a suggestion is open breaks the line
      await page.keyboard.press("Enter");
      await page.keyboard.type("logL");
      await option("logLevel").waitFor({ timeout: 3000 });
      await page.keyboard.press("Enter");
      yaml = await editorText();
      check(/\n    logL\n *$/.test(yaml), `Enter broke the line instead of accepting: ${JSON.stringify(yaml.slice(-30))}`);
      // Tab accepts the highlighted suggestion
      await setText(flow + "hi\n    ");
      await page.keyboard.type("logL");
      await option("logLevel").waitFor({ timeout: 3000 });
      await page.waitForTimeout(150); // CodeMirror accepts 75 ms after the list shows
      await page.keyboard.press("Tab");
      yaml = await editorText();
      check(/\n    logLevel: $/.test(yaml), `Tab accepted logLevel: ${JSON.stringify(yaml.slice(-30))}`);
      // an input's type: the validator's types
      await setText("id: expr\nnamespace: ui.expr\ninputs:\n  - id: months\n    type: S");
      await page.keyboard.press("Control+Space");
      await option("SELECT").waitFor({ timeout: 3000 });
      const types = await offered();
      check(types.includes("STRING") && types.includes("SECRET") && !types.includes("io.kestra.plugin.core.log.Log"), `input types offered: ${types}`);
      await page.keyboard.press("Escape");
      // a required property is marked in the list: ForEach's values (one
      // of values and its older name value, the validator's rule), not value
      await setText("id: expr\nnamespace: ui.expr\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    ");
      await page.keyboard.type("va");
      await option("values").waitFor({ timeout: 3000 });
      const marked = await list.locator("li").filter({ has: page.locator(".cm-baton-required") }).locator(".cm-completionLabel").allInnerTexts();
      const details = await list.locator("li").filter({ hasText: "values" }).locator(".cm-completionDetail").allInnerTexts();
      check(marked.includes("values") && !marked.includes("value") && details.some((d) => d.startsWith("required")), `required marks: ${marked} (${details})`);
      await shot(page, "editor-required");
      await page.keyboard.press("Escape");
      // an expression opened on an earlier line of a block scalar
      await setText(flow + "|\n      {{ inputs.months\n        | toJson }} and {{\n        outputs");
      await page.keyboard.type(".");
      await option("first").waitFor({ timeout: 3000 });
      const multi = await offered();
      check(multi.includes("first") && !multi.includes("say"), `a multi-line expression is read: ${multi}`);
      await page.keyboard.press("Escape");
      // `tasks:` then Enter indents the new line
      await setText("id: expr\nnamespace: ui.expr\ntasks:");
      await page.keyboard.press("Enter");
      yaml = await editorText();
      check(yaml.endsWith("tasks:\n  "), `the line after tasks: is indented: ${JSON.stringify(yaml)}`);
      console.log(`expression completion ms (type to list shown): outputs. ${outputsMs}, inputs. ${inputsMs}`);
    },
  };
}
