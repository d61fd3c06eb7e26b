// Scenarios for tests/tests/ui_links.rs, loaded by drive.mjs: a Kestra
// user's links under /ui/ (history mode) open the page they name, links
// inside the page keep Kestra's paths and are followed without a reload,
// Back works, and the old hash links still open their page.

export function scenarios({ url, check, shot, text, call }) {
  const ended = async (page, id) => {
    for (let i = 0; i < 100; i++) {
      const e = await call(page, "GET", `/executions/${id}`);
      if (e.state.current === "SUCCESS") return e;
      await page.waitForTimeout(100);
    }
    throw new Error(`execution ${id} did not end`);
  };
  const path = (page) => new URL(page.url()).pathname;

  return {
    async kestralinks(page) {
      await page.goto(url + "/ui/");
      await page.locator("#menu").waitFor();
      await page.waitForURL(/\/ui\/main\/dashboards$/);
      const id = (await call(page, "POST", "/main/executions/ui.links/hello")).id;
      await ended(page, id);

      // bookmarks: a flow, its tab, an execution, its tab
      await page.goto(url + "/ui/main/flows/edit/ui.links/hello");
      await page.locator("[data-testid=source]").waitFor();
      check((await text(page.locator("h1 .title-text"))).includes("hello"), "the flow's page");
      await page.goto(url + "/ui/main/flows/edit/ui.links/hello/topology");
      await page.locator(".tabs a.active", { hasText: "Topology" }).waitFor();
      await page.goto(url + `/ui/main/executions/ui.links/hello/${id}`);
      await page.locator("[data-testid=tab-overview]").waitFor();
      await page.locator("[data-testid=execution-state] [data-state=SUCCESS]").waitFor();
      await page.goto(url + `/ui/main/executions/ui.links/hello/${id}/logs`);
      await page.locator("[data-testid=logs]", { hasText: "hello from a link" }).waitFor();
      await shot(page, "kestra-link-execution");

      // the lists a Kestra user bookmarks
      const lists = [
        ["/ui/main/flows", 'tr[data-flow="ui.links.hello"]'],
        ["/ui/main/executions", `[data-testid=executions] a[href="/ui/main/executions/${id}"]`],
        ["/ui/main/namespaces", "[data-testid=namespaces]"],
        ["/ui/main/namespaces/edit/ui.links", "[data-testid=ns-flows]"],
        ["/ui/main/namespaces/edit/ui.links/kv", "[data-testid=ns-kv]"],
        ["/ui/main/kv", "[data-testid=kv-form]"],
        ["/ui/main/admin/triggers", "[data-testid=triggers]"],
        ["/ui/main/flows/new", "[data-testid=editor]"],
        ["/ui/main/logs", "[data-testid=all-logs] td"],
      ];
      for (const [p, sel] of lists) {
        await page.goto(url + p);
        await page.locator(sel).first().waitFor();
        check(!(await page.locator(".error-box").count()), `${p}: no error (${await page.locator("#main").innerText()})`);
      }
      const logLine = await text(page.locator("[data-testid=all-logs] tbody"));
      check(logLine.includes("hello from a link"), `the Logs page lists the line: ${logLine}`);
      await shot(page, "logs-page");

      // inside the page: links carry Kestra's paths and are followed in place
      await page.goto(url + "/ui/main/flows");
      await page.evaluate(() => (window.sameDocument = true));
      const link = page.locator('tr[data-flow="ui.links.hello"] a').first();
      check((await link.getAttribute("href")) === "/ui/main/flows/edit/ui.links/hello", `the flow link: ${await link.getAttribute("href")}`);
      await link.click();
      await page.locator("[data-testid=source]").waitFor();
      check(path(page) === "/ui/main/flows/edit/ui.links/hello", path(page));
      await page.locator(".tabs a", { hasText: "Executions" }).click();
      await page.waitForURL(/\/ui\/main\/flows\/edit\/ui\.links\/hello\/executions$/);
      await page.locator(`[data-testid=executions] a[href="/ui/main/executions/${id}"]`).first().click();
      await page.locator("[data-testid=tab-overview]").waitFor();
      await page.waitForURL(new RegExp(`/ui/main/executions/ui\\.links/hello/${id}$`));
      await page.locator("#menu a[data-nav=triggers]").click();
      await page.locator("[data-testid=triggers]").waitFor();
      check(path(page) === "/ui/main/admin/triggers", path(page));
      check(await page.evaluate(() => window.sameDocument === true), "followed without reloading the page");
      await page.goBack();
      await page.locator("[data-testid=tab-overview]").waitFor();
      check(path(page) === `/ui/main/executions/ui.links/hello/${id}`, `Back: ${path(page)}`);

      // old hash links, at / and under /ui/
      await page.goto(url + "/#/flows/ui.links/hello");
      await page.locator("[data-testid=source]").waitFor();
      check(new URL(page.url()).hash === "#/flows/ui.links/hello", page.url());
      await page.goto(url + `/ui/#/executions/${id}?tab=gantt`);
      await page.locator("[data-testid=gantt]").waitFor();
      await page.waitForURL(new RegExp(`/ui/main/executions/ui\\.links/hello/${id}/gantt$`));

      // a missing file is still a 404, a page path is the page
      const status = await page.evaluate(async () => [(await fetch("/ui/nope.js")).status, (await fetch("/ui/main/flows/edit/a.b/c")).status]);
      check(status[0] === 404 && status[1] === 200, `statuses: ${status}`);
    },
  };
}
