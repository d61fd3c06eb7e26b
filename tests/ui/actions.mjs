// Scenarios for tests/tests/ui_ops.rs, loaded by drive.mjs: the execution
// page's debug-expression box (Outputs tab) renders in the execution's and
// a task run's context and shows the renderer's error; Set labels (two
// added, one removed, a reload shows only the other) and Change state of an ended execution; Previous / Next between a flow's
// executions; the list's short ids of two executions started together
// differ; a retried task run's attempts are bars of their own in the
// Gantt, a ForEach's iterations are nested under it and a row opens to its
// logs.

export function scenarios({ url, check, shot, text, call }) {
  return {
    async "execution-actions"(page) {
      await page.goto(url + "#/home");
      const started = await call(page, "POST", "/executions/ui.ops/steps");
      const id = started.id;
      const state = page.locator("[data-testid=execution-state]");
      await page.goto(url + `#/executions/${id}?tab=outputs`);
      await state.getByText("SUCCESS").waitFor({ timeout: 15000 });
      // the debug-expression box: the execution's context, then a task run's
      const box = page.locator("[data-testid=eval-box]");
      const result = box.locator("[data-testid=eval-result]");
      await box.locator("textarea").fill("{{ outputs.stamp.value }} / {{ outputs.last.value }}");
      await box.locator("button[type=submit]").click();
      await result.locator("[data-eval=result]").getByText(`${id} / made by ${id}`).waitFor({ timeout: 5000 });
      await box.locator("select").selectOption({ label: "middle" });
      await box.locator("textarea").fill("{{ taskrun.id != null }} {{ task.id }}");
      await box.locator("button[type=submit]").click();
      await result.locator("[data-eval=result]").getByText("true middle").waitFor({ timeout: 5000 });
      await box.locator("textarea").fill("{{ outputs.nope.value }}");
      await box.locator("button[type=submit]").click();
      await result.locator("[data-eval=error]").waitFor({ timeout: 5000 });
      const error = await text(result);
      check(error.includes("nope"), `the renderer's error is shown: ${error}`);
      await shot(page, "execution-debug-expression");
      // Set labels: add two, then remove one; after a reload only the other is left
      await page.goto(url + `#/executions/${id}`);
      const form = page.locator("[data-testid=labels-form]");
      const rows = form.locator(".label-row");
      await page.locator("[data-testid=set-labels]").click();
      await rows.nth(0).locator("[name=key]").fill("team");
      await rows.nth(0).locator("[name=value]").fill("ui");
      await form.locator("[data-testid=add-label]").click();
      await rows.nth(1).locator("[name=key]").fill("reviewed");
      await rows.nth(1).locator("[name=value]").fill("yes");
      await form.locator("button[type=submit]").click();
      const labels = page.locator("[data-testid=labels]");
      await labels.getByText("reviewed:yes").waitFor({ timeout: 5000 });
      await labels.getByText("team:ui").waitFor({ timeout: 5000 });
      await page.locator("[data-testid=set-labels]").click();
      check((await rows.count()) === 2, `the dialog shows the two labels: ${await rows.count()}`);
      await shot(page, "execution-set-labels");
      await rows.filter({ has: page.locator("[name=key][value=team]") }).locator(".remove-label").click();
      check((await rows.count()) === 1, "one row is left");
      await form.locator("button[type=submit]").click();
      await form.waitFor({ state: "detached" });
      await page.reload();
      await labels.getByText("reviewed:yes").waitFor({ timeout: 5000 });
      const shownLabels = await text(labels);
      check(!shownLabels.includes("team:ui"), `the removed label is gone after a reload: ${shownLabels}`);
      // a system label is refused, the answer shown in the dialog
      await page.locator("[data-testid=set-labels]").click();
      await form.locator("[data-testid=add-label]").click();
      await rows.last().locator("[name=key]").fill("system.correlationId");
      await rows.last().locator("[name=value]").fill("x");
      await form.locator("button[type=submit]").click();
      const refused = await text(form.locator(".error-box"));
      check(refused.includes("system labels cannot be set"), `the refusal is shown: ${refused}`);
      await form.locator("button", { hasText: "Cancel" }).click();
      // Change state
      await page.locator("[data-testid=change-state]").click();
      await page.locator("[data-testid=state-form] select").selectOption("WARNING");
      await page.locator("[data-testid=state-form] button[type=submit]").click();
      await state.getByText("WARNING").waitFor({ timeout: 5000 });
      console.log(`execution ${id}`);
      // Previous / Next: the flow's executions started around this one
      const id2 = (await call(page, "POST", "/executions/ui.ops/steps")).id;
      await page.goto(url + `#/executions/${id2}`);
      await page.locator("[data-testid=next-none]").waitFor();
      await page.locator("[data-testid=previous]").click();
      await page.waitForURL((u) => u.hash === `#/executions/${id}`);
      await page.locator("[data-testid=previous-none]").waitFor();
      const next = await page.locator("[data-testid=next]").getAttribute("href");
      check(next.endsWith(`/executions/${id2}`), `Next leads to the later execution: ${next}`);
      // the list shows ids by their random end, so executions started together differ
      await page.goto(url + "#/executions?flowId=steps");
      const shown = page.locator("[data-testid=executions] [data-short-id]");
      await page.locator(`[data-testid=executions] [data-short-id="${id2}"]`).waitFor();
      const short = await shown.allInnerTexts();
      check(short.length === 2 && short[0] !== short[1] && short.every((s) => s.startsWith("…") && (id.endsWith(s.slice(1)) || id2.endsWith(s.slice(1)))), `the short ids differ: ${short} (${id}, ${id2})`);
      // a retried task: one bar per attempt
      const retried = (await call(page, "POST", "/executions/ui.ops/retrying")).id;
      await page.goto(url + `#/executions/${retried}?tab=gantt`);
      await state.getByText("FAILED").waitFor({ timeout: 20000 });
      const row = page.locator("[data-testid=gantt] .bar-wrap[data-task=flaky]");
      await row.waitFor();
      const bars = await row.locator(".bar").count();
      const titles = await row.locator(".bar").evaluateAll((b) => b.map((x) => x.title));
      check(bars === 2 && titles[0].startsWith("attempt 1: FAILED") && titles[1].startsWith("attempt 2: FAILED"), `two attempt bars: ${bars} ${titles}`);
      check((await text(page.locator("[data-testid=attempts]"))) === "2 attempts", "the row says 2 attempts");
      await shot(page, "execution-gantt-attempts");
      console.log(`retried ${retried}`);
      // a ForEach's iterations nested under it; a row opens to its logs
      const looped = (await call(page, "POST", "/executions/ui.ops/looping")).id;
      await page.goto(url + `#/executions/${looped}?tab=gantt`);
      await state.getByText("SUCCESS").waitFor({ timeout: 20000 });
      const depths = await page.locator("[data-testid=gantt] .name").evaluateAll((n) => n.map((x) => `${x.innerText.replace(/^[▸▾]\s*/, "")}@${x.dataset.depth}`));
      check(depths.join() === "each@0,show (a)@1,show (b)@1", `iterations nested under the ForEach: ${depths}`);
      await page.locator("[data-testid=gantt] button[data-expand='show:b']").click();
      await page.locator("[data-testid=gantt] .gantt-logs:not([hidden])").getByText("value is b").waitFor({ timeout: 5000 });
      check((await page.locator("[data-testid=gantt] .gantt-logs:not([hidden])").count()) === 1, "only the opened row shows its logs");
      await shot(page, "execution-gantt-nested");
    },
  };
}
