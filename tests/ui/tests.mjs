// Scenarios for tests/tests/ui_unit_tests.rs, loaded by drive.mjs: a flow's
// Tests tab lists its suite (kept beside the flow) with its cases not run
// yet; Run runs it on the server and shows one case passed and one failed
// with the assertion, the expected and the actual value; the global Tests
// page shows the kept result. The test editor (Edit on a suite) completes
// the keys and assertion operators from the test file's schema and the
// tested flow's task ids, underlines an unknown key at its line, and saves.

export function scenarios({ url, check, shot, text, call }) {
  return {
    async tests(page) {
      await page.goto(url + "#/flows/company.team/greet?tab=tests");
      const suite = page.locator('[data-suite="company.team.greet_tests"]');
      await suite.waitFor();
      check((await text(suite)).includes("not run"), `the cases are not run yet: ${await text(suite)}`);
      await suite.locator("[data-testid=run-suite]").click();
      await suite.locator('tr[data-case="greets"][data-state="SUCCESS"]').waitFor();
      const failed = suite.locator('tr[data-case="expects_a_bye"][data-state="FAILED"]');
      await failed.waitFor();
      const expected = await text(failed.locator("[data-testid=expected]"));
      const actual = await text(failed.locator("[data-testid=actual]"));
      check(expected === "Bye World mocked", `the expected value: ${expected}`);
      check(actual === "Hello World mocked", `the actual value: ${actual}`);
      const why = await text(failed.locator("[data-testid=failed-assertion]"));
      check(why.includes("equalTo") && why.includes("the greeting says bye"), `the assertion is named: ${why}`);
      // the run is in the suite's history, newest first
      await suite.locator('[data-testid=test-history] tr[data-state="FAILED"]').first().waitFor({ state: "attached" });
      const hist = await suite.locator("[data-testid=test-history] summary").textContent();
      check(/History \(1 of 1 kept runs\)/.test(hist || ""), `the history counts the run: ${hist}`);
      await shot(page, "flow-tests");
      // the Tests page of every flow shows the kept result
      await page.goto(url + "#/tests");
      await page.locator('[data-suite="company.team.greet_tests"] tr[data-case="expects_a_bye"][data-state="FAILED"]').waitFor();
      await page.locator('[data-suite="company.team.greet_tests"] tr[data-case="greets"][data-state="SUCCESS"]').waitFor();
      await shot(page, "tests");
    },

    /**
     * Edit on a suite opens its YAML in the editor; typing a new assertion
     * at the end offers the operators (greaterThanOrEqualTo picked), then
     * `taskId` with the flow's task ids; an unknown key is underlined with
     * the server's message; Save writes the suite.
     */
    async "test-editor"(page) {
      await page.goto(url + "#/flows/company.team/greet?tab=tests");
      const schema = await call(page, "GET", "/plugins/schemas/test");
      check(schema.definitions.Assertion.properties.greaterThanOrEqualTo, "the test schema declares the operators");
      const suite = page.locator('[data-suite="company.team.greet_tests"]');
      await suite.waitFor();
      await suite.locator("[data-testid=edit-suite]").click();
      const content = suite.locator("[data-testid=editor] .cm-content");
      await content.waitFor();
      await suite.locator("[data-testid=doc-panel] .doc-hint").waitFor(); // the schema is loaded
      const editorText = () => suite.locator("[data-testid=editor]").evaluate((host) => host.batonEditor.text());
      check((await editorText()).includes("id: expects_a_bye"), "the editor holds the suite's source");
      await content.click();
      await page.keyboard.press("Control+End");
      if ((await editorText()).endsWith("\n")) await page.keyboard.press("Backspace"); // to the end of the last assertion's line
      await page.keyboard.press("Enter"); // a new key of the last assertion
      const list = page.locator(".cm-tooltip-autocomplete");
      const t0 = Date.now();
      await page.keyboard.type("greaterTh");
      const op = list.locator(".cm-completionLabel").getByText("greaterThanOrEqualTo", { exact: true });
      await op.waitFor({ timeout: 3000 });
      const operatorMs = Date.now() - t0;
      const offered = await list.locator(".cm-completionLabel").allInnerTexts();
      check(offered.includes("greaterThan"), `both ordering operators are offered: ${offered}`);
      await shot(page, "test-editor-operators");
      await op.click();
      await page.keyboard.type("1");
      await page.keyboard.press("Enter");
      await page.keyboard.type("task");
      await list.locator(".cm-completionLabel").getByText("taskId", { exact: true }).click();
      const ids = list.locator(".cm-completionLabel");
      await ids.getByText("greeting", { exact: true }).waitFor({ timeout: 3000 });
      const offeredIds = await ids.allInnerTexts();
      check(offeredIds.includes("fetch") && offeredIds.includes("greeting"), `the flow's task ids are offered: ${offeredIds}`);
      await ids.getByText("greeting", { exact: true }).click();
      console.log(`test editor: operator completion offered in ${operatorMs} ms, task ids ${offeredIds.join(", ")}`);
      // an unknown key is underlined with the server's message (file:line:column)
      await page.keyboard.press("Enter");
      await page.keyboard.type("greaterThen: 1");
      const underline = suite.locator("[data-testid=editor] .cm-lintRange-error").filter({ hasText: /^greaterThen$/ });
      await underline.first().waitFor({ timeout: 5000 });
      await underline.first().hover();
      const tip = page.locator(".cm-tooltip-lint");
      await tip.waitFor();
      check((await text(tip)).includes("unknown property 'greaterThen' of an assertion"), `the diagnostic: ${await text(tip)}`);
      await shot(page, "test-editor-lint");
      await page.keyboard.press("Control+Shift+K"); // delete the line
      const yaml = await editorText();
      check(/\n        greaterThanOrEqualTo: 1\n        taskId: greeting\s*$/.test(yaml), `the assertion written:\n${yaml}`);
      await suite.locator("button.primary", { hasText: "Save" }).click();
      await suite.locator("[data-testid=editor]").waitFor({ state: "detached" });
      const saved = await call(page, "GET", "/tests/company.team/greet_tests");
      check(saved.source.includes("taskId: greeting") && saved.source.includes("greaterThanOrEqualTo: 1"), `the suite is saved: ${saved.source}`);
    },
  };
}
