// Scenario for tests/tests/ui_editor.rs, loaded by drive.mjs: a Kestra
// user's monthly flow written from an empty editor with completion alone —
// every key picked from the list, every expression built from what the
// list offers (`inputs.months`, `outputs.x[taskrun.value].value`), the
// Schedule trigger's type and `cron` picked too; only names and literal
// values are typed. Saved with Ctrl-S, run from the execute dialog, and its
// Gantt shows the loop's iterations nested under the ForEach and the
// retried task's two attempts as bars of their own.

export function scenarios({ url, check, shot, text }) {
  return {
    async "editor-authoring"(page) {
      await page.goto(url + "#/flows/new");
      const content = page.locator("[data-testid=editor] .cm-content");
      await content.waitFor();
      await page.locator("[data-testid=doc-panel] .doc-hint").waitFor(); // the schema is loaded
      const editorText = () => page.locator("[data-testid=editor]").evaluate((host) => host.batonEditor.text());
      await content.click();
      await page.keyboard.press("Control+A");
      await page.keyboard.press("Delete");
      const list = page.locator(".cm-tooltip-autocomplete");
      let picks = 0;
      /** Types `typed` (a prefix), waits for `label` in the list and clicks it. */
      const pick = async (typed, label) => {
        if (typed) await page.keyboard.type(typed);
        else await page.keyboard.press("Control+Space");
        const option = list.locator(".cm-completionLabel").getByText(label, { exact: true });
        try {
          await option.waitFor({ timeout: 3000 });
        } catch (e) {
          const offered = await list.locator(".cm-completionLabel").allInnerTexts().catch(() => []);
          throw new Error(`'${label}' not offered after typing '${typed}' (offered: ${offered.join(", ")}); text so far:\n${await editorText()}`);
        }
        await option.click();
        picks++;
      };
      /** Ends the line and removes the indentation the editor proposes, down to `indent` spaces. */
      const line = async (indent) => {
        await page.keyboard.press("Escape"); // no list open: Enter breaks the line
        await page.keyboard.press("Enter");
        const lastLine = async () => {
          const t = await editorText();
          return t.slice(t.lastIndexOf("\n") + 1);
        };
        // Backspace may take a whole indent unit: one at a time, read back
        for (let l = await lastLine(); l.length > indent; l = await lastLine()) {
          check(l.trim() === "" || l.trim() === "-", `only indentation on the new line: '${l}'`);
          await page.keyboard.press("Backspace");
        }
        const l = await lastLine();
        check(l.length <= indent && (l.length === 0 || l.endsWith(" ")), `the new line: '${l}'`);
        await page.keyboard.type(" ".repeat(indent - l.length));
      };
      const ind = (n) => line(n);
      /** After a list key (`inputs`, `tasks`, `triggers`): its first `- ` item at `indent`, as the editor opens it or typed. */
      const item = async (indent) => {
        await page.keyboard.press("Escape"); // the list of the item's keys, when offered at once
        const t = await editorText();
        if (!new RegExp(`\\n {${indent}}- $`).test(t)) {
          await line(indent);
          await page.keyboard.type("- ");
        }
      };

      await pick("i", "id");
      await page.keyboard.type("monthly");
      await ind(0);
      await pick("na", "namespace");
      await page.keyboard.type("ui.authoring");
      await ind(0);
      // an input whose type comes from the list
      await pick("inp", "inputs");
      await item(2);
      await pick("i", "id");
      await page.keyboard.type("months");
      await ind(4);
      await pick("ty", "type");
      await pick("J", "JSON");
      await ind(4);
      await pick("def", "defaults");
      await ind(6);
      await page.keyboard.type("- 2024-01");
      await ind(6);
      await page.keyboard.type("- 2024-02");
      await ind(0);
      // the loop
      await pick("ta", "tasks");
      await item(2);
      await pick("i", "id");
      await page.keyboard.type("each");
      await ind(4);
      await pick("ty", "type");
      await pick("flow.ForEach", "io.kestra.plugin.core.flow.ForEach");
      await ind(4);
      await pick("val", "values");
      await page.keyboard.type('"{{ ');
      await pick("inp", "inputs");
      await page.keyboard.type(".");
      await pick("", "months");
      await page.keyboard.type(' }}"');
      await ind(4);
      await pick("tas", "tasks");
      await item(6);
      await pick("i", "id");
      await page.keyboard.type("x");
      await ind(8);
      await pick("ty", "type");
      await pick("debug.Return", "io.kestra.plugin.core.debug.Return");
      await ind(8);
      await pick("fo", "format");
      await page.keyboard.type('"{{ ');
      await pick("taskr", "taskrun");
      await page.keyboard.type(".");
      await pick("", "value");
      await page.keyboard.type(' }} read"');
      await ind(6);
      await page.keyboard.type("- ");
      await pick("i", "id");
      await page.keyboard.type("show");
      await ind(8);
      await pick("ty", "type");
      await pick("log.Log", "io.kestra.plugin.core.log.Log");
      await ind(8);
      await pick("me", "message");
      await page.keyboard.type('"{{ ');
      await pick("out", "outputs");
      await page.keyboard.type(".");
      await pick("", "x");
      await page.keyboard.type("[");
      await pick("taskr", "taskrun");
      await page.keyboard.type(".");
      await pick("", "value");
      await page.keyboard.type("].");
      await pick("", "value");
      await page.keyboard.type(' }}"');
      // a task that fails its first attempt and is retried
      await ind(2);
      await page.keyboard.type("- ");
      await pick("i", "id");
      await page.keyboard.type("flaky");
      await ind(4);
      await pick("ty", "type");
      await pick("execution.Fail", "io.kestra.plugin.core.execution.Fail");
      await ind(4);
      await pick("cond", "condition");
      await page.keyboard.type('"{{ ');
      await pick("taskr", "taskrun");
      await page.keyboard.type(".");
      await pick("att", "attemptsCount");
      await page.keyboard.type(' == 0 }}"');
      await ind(4);
      await pick("ret", "retry");
      await ind(6);
      await pick("ty", "type");
      await pick("", "constant");
      await ind(6);
      await pick("int", "interval");
      await page.keyboard.type("PT0.2S");
      await ind(6);
      await pick("maxA", "maxAttempts");
      await page.keyboard.type("2");
      await ind(0);
      // the monthly schedule
      await pick("tri", "triggers");
      await item(2);
      await pick("i", "id");
      await page.keyboard.type("first_of_month");
      await ind(4);
      await pick("ty", "type");
      await pick("trigger.Schedule", "io.kestra.plugin.core.trigger.Schedule");
      await ind(4);
      await pick("cr", "cron");
      await page.keyboard.type('"0 9 1 * *"');

      const yaml = await editorText();
      check(yaml.includes('values: "{{ inputs.months }}"'), `the loop's values by completion:\n${yaml}`);
      check(yaml.includes('message: "{{ outputs.x[taskrun.value].value }}"'), `the iteration's output by completion:\n${yaml}`);
      check(yaml.includes("type: io.kestra.plugin.core.trigger.Schedule"), `the schedule by completion:\n${yaml}`);
      const errors = page.locator("[data-testid=editor] .cm-lintRange-error");
      await page.waitForTimeout(600); // the linter runs after typing stops
      check((await errors.count()) === 0, `no diagnostic on the written flow: ${await errors.allInnerTexts()}\n${yaml}`);
      await shot(page, "editor-authoring");
      await page.keyboard.press("Control+s");
      await page.waitForURL(/#\/flows\/ui\.authoring\/monthly$/);

      // run it from the execute dialog (the input's default)
      await page.locator("[data-testid=source]").waitFor();
      await page.locator("h1 button.primary", { hasText: "Execute" }).click();
      await page.locator("[data-testid=execute-form] button[type=submit]").click();
      await page.waitForURL(/#\/executions\/[A-Za-z0-9]+$/);
      const id = page.url().split("/").pop();
      await page.locator("[data-testid=execution-state]").getByText("SUCCESS").waitFor({ timeout: 30000 });

      // the Gantt: the iterations nested under the ForEach, the retried task's attempts apart
      await page.goto(url + `#/executions/${id}?tab=gantt`);
      await page.locator("[data-testid=gantt] .bar-wrap[data-task=flaky]").waitFor();
      const names = await page.locator("[data-testid=gantt] .name").evaluateAll((n) => n.map((x) => `${x.innerText.replace(/^[▸▾]\s*/, "")}@${x.dataset.depth}`));
      for (const want of ["each@0", "x (2024-01)@1", "show (2024-01)@1", "x (2024-02)@1", "show (2024-02)@1", "flaky@0"]) {
        check(names.includes(want), `the Gantt rows hold ${want}: ${names}`);
      }
      const bars = page.locator("[data-testid=gantt] .bar-wrap[data-task=flaky] .bar");
      const titles = await bars.evaluateAll((b) => b.map((x) => x.getAttribute("title") || ""));
      check(titles.length === 2 && titles[0].startsWith("attempt 1: FAILED") && titles[1].startsWith("attempt 2: SUCCESS"), `the retried task's attempts are two bars: ${titles}`);
      await shot(page, "execution-gantt-authored");
      console.log(`execution ${id}`);
      console.log(`authored with ${picks} picks from the completion list`);
    },
  };
}
