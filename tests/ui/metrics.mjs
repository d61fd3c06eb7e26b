// Scenarios for tests/tests/ui_metrics.rs, loaded by drive.mjs: the
// Metrics tab of an execution (the task metrics a script's protocol lines
// and a core task recorded, filtered by task) and of its flow (a metric
// aggregated over time: chart and table).

export function scenarios({ url, check, shot, text, call }) {
  return {
    async metrics(page) {
      await page.goto(url + "#/flows");
      const exec = await call(page, "POST", "/executions/ui.metrics/measured?wait=true");
      check(exec.state.current === "SUCCESS", `the execution succeeded: ${exec.state.current}`);
      console.log(`execution ${exec.id}`);
      await page.goto(url + `#/executions/${exec.id}?tab=metrics`);
      const table = page.locator("[data-testid=metrics]");
      await table.waitFor();
      const rows = table.locator("tbody tr");
      check((await rows.count()) === 4, `four metrics: ${await text(table)}`);
      const counter = await text(table.locator('tr[data-metric="rows"]'));
      for (const want of ["sh", "rows", "counter", "5", "file:a.csv"]) check(counter.includes(want), `the counter row shows ${want}: ${counter}`);
      const timer = await text(table.locator('tr[data-metric="load"]'));
      check(timer.includes("timer") && timer.includes("1.5 s"), `a timer shows as a duration: ${timer}`);
      await shot(page, "execution-metrics");
      // one task's metrics
      await page.locator("select[name=taskId]").selectOption("ret");
      await page.locator("[data-testid=metrics] tbody tr").first().getByText("ret").waitFor();
      const ret = await text(page.locator("[data-testid=metrics]"));
      check(ret.includes("length") && ret.includes("duration") && !ret.includes("rows"), `only ret's: ${ret}`);
      check((await page.locator("[data-testid=metrics] tbody tr").count()) === 2, `two metrics for ret: ${ret}`);
      // the flow's Metrics tab: rows summed over the last 30 days
      await page.goto(url + "#/flows/ui.metrics/measured?tab=metrics&metric=rows");
      const panel = page.locator("[data-testid=flow-metrics]");
      await panel.waitFor();
      await panel.locator("[data-testid=aggregate-value]").first().waitFor();
      const heights = await panel.locator("svg.metric-chart rect").evaluateAll((rs) => rs.map((r) => Number(r.getAttribute("height"))));
      check(heights.length >= 30 && heights.filter((x) => x > 0).length === 1, `a bar per day, one of them not empty: ${heights}`);
      const values = await panel.locator("[data-testid=aggregate-value]").allInnerTexts();
      check(values.length === 1 && values[0] === "5", `one day with 5 rows: ${values}`);
      check((await page.locator("select[name=metric]").inputValue()) === "rows", "the metric picked");
      await shot(page, "flow-metrics");
    },
  };
}
