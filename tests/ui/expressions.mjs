// Scenarios for tests/tests/ui_editor.rs, loaded by drive.mjs: the flow
// editor completes inside `{{ }}` — after `outputs.` the flow's task ids,
// after `outputs.<id>.` that task's declared outputs, after `inputs.` the
// input ids — and an input's `type:` from the validator's types; Enter
// breaks the line while a suggestion is open; a `key:` line indents the
// next one.

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
      check(ids.includes("first") && ids.includes("say"), `the task ids are offered after outputs.: ${ids}`);
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
      // `tasks:` then Enter indents the new line
      await setText("id: expr\nnamespace: ui.expr\ntasks:");
      await page.keyboard.press("Enter");
      yaml = await editorText();
      check(yaml.endsWith("tasks:\n  "), `the line after tasks: is indented: ${JSON.stringify(yaml)}`);
      console.log(`expression completion ms (type to list shown): outputs. ${outputsMs}, inputs. ${inputsMs}`);
    },
  };
}
