// Scenarios for tests/tests/ui_unit_tests.rs, loaded by drive.mjs: a flow's
// Tests tab lists its suite (kept beside the flow) with its cases not run
// yet; Run runs it on the server and shows one case passed and one failed
// with the assertion, the expected and the actual value; the global Tests
// page shows the kept result.

export function scenarios({ url, check, shot, text }) {
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
      await shot(page, "flow-tests");
      // the Tests page of every flow shows the kept result
      await page.goto(url + "#/tests");
      await page.locator('[data-suite="company.team.greet_tests"] tr[data-case="expects_a_bye"][data-state="FAILED"]').waitFor();
      await page.locator('[data-suite="company.team.greet_tests"] tr[data-case="greets"][data-state="SUCCESS"]').waitFor();
      await shot(page, "tests");
    },
  };
}
