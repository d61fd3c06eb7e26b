// Scenarios for tests/tests/ui_pages.rs, loaded by drive.mjs: the home
// dashboard, revisions, dependencies, a flow's own tabs and actions, a
// broken flow's banner, long names, executions sorting and bulk actions,
// the topology's zoom and fit, the Namespaces page, the Plugins page and
// the flows list's filters and last executions.

export function scenarios({ url, check, shot, text }) {
  /** Calls the API from the page; `type` is the body's content type. */
  const call = (page, method, path, body, type) =>
    page.evaluate(async ([method, path, body, type]) => {
      const r = await fetch("/api/v1" + path, { method, body, headers: type ? { "content-type": type } : {} });
      const t = await r.text();
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${t}`);
      return t ? JSON.parse(t) : null;
    }, [method, path, body, type]);
  const start = async (page, flow) => (await call(page, "POST", `/executions/ui.pages/${flow}`)).id;
  /** Waits until every execution of ui.pages has ended. */
  const settle = async (page) => {
    for (let i = 0; i < 100; i++) {
      const res = await call(page, "GET", "/executions/search?namespace=ui.pages&size=100");
      if (res.results.every((e) => ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"].includes(e.state.current))) return res;
      await page.waitForTimeout(200);
    }
    throw new Error("executions did not end");
  };
  const accept = (page) => page.on("dialog", (d) => d.accept());

  return {
    /** Benchmark: the home page's first drawn chart, from navigation start. */
    async benchhome(page) {
      const t0 = Date.now();
      await page.goto(url + "#/home");
      await page.locator("[data-testid=executions-chart] rect").first().waitFor({ timeout: 60000 });
      console.log(JSON.stringify({ chartMs: Date.now() - t0 }));
    },

    async revisions(page) {
      accept(page);
      await page.goto(url + "#/flows/ui.pages/child");
      await page.locator("[data-testid=source]").waitFor();
      const flow = await call(page, "GET", "/flows/ui.pages/child?source=true");
      const edited = flow.source.replace('message: "{{ flow.id }}"', 'message: "edited in revision 2"');
      await call(page, "PUT", "/flows/ui.pages/child", edited, "application/x-yaml");
      await page.goto(url + "#/flows/ui.pages/child?tab=revisions");
      const mod = page.locator("[data-testid=diff] tr[data-kind=mod]");
      await mod.first().waitFor();
      const row = await text(mod.first());
      check(row.includes("{{ flow.id }}") && row.includes("edited in revision 2"), `the changed line, old and new side by side: ${row}`);
      check((await page.locator("[data-testid=diff] tr[data-kind=same]").count()) >= 4, "the unchanged lines are aligned");
      check((await text(page.locator("[data-testid=diff-summary]"))) === "1 changed line", await text(page.locator("[data-testid=diff-summary]")));
      await shot(page, "revisions");
      await page.locator("[data-testid=restore]").click();
      await page.locator(".toast", { hasText: "Revision 1 restored as revision 3" }).waitFor();
      const revs = await call(page, "GET", "/flows/ui.pages/child/revisions");
      check(revs.length === 3 && revs[2].source === revs[0].source, `restored as a new revision: ${revs.length}`);
    },

    async dependencies(page) {
      await page.goto(url + "#/flows/ui.pages/child?tab=dependencies");
      const graph = page.locator("svg[data-testid=dependencies]");
      await graph.waitFor();
      for (const n of ["ui.pages.parent", "ui.pages.child", "ui.pages.after"]) check((await graph.locator(`g[data-node="${n}"]`).count()) === 1, `node ${n}`);
      check((await graph.locator("path[data-relation=FLOW_TASK]").count()) === 1, "the subflow call");
      check((await graph.locator("path[data-relation=FLOW_TRIGGER]").count()) === 1, "the Flow trigger");
      const boxes = {};
      for (const n of ["parent", "child", "after"]) boxes[n] = await graph.locator(`g[data-node="ui.pages.${n}"]`).boundingBox();
      check(boxes.parent.x < boxes.child.x && boxes.child.x < boxes.after.x, "callers left, triggered flows right");
      await shot(page, "dependencies");
      await graph.locator('g[data-node="ui.pages.parent"]').click();
      await page.waitForURL(/#\/flows\/ui\.pages\/parent\?tab=dependencies/);
      await page.locator('svg[data-testid=dependencies] g[data-node="ui.pages.child"]').waitFor();
    },

    async home(page) {
      await page.goto(url);
      await page.locator("[data-testid=totals]").waitFor();
      await start(page, "child");
      await start(page, "child");
      await start(page, "failing");
      await settle(page);
      await page.goto(url);
      await page.waitForURL(/#\/home$/);
      const chart = page.locator("[data-testid=executions-chart]");
      await chart.locator("rect[data-state=FAILED]").waitFor();
      check((await chart.locator("rect[data-state=SUCCESS]").count()) >= 1, "successes are stacked");
      const failures = page.locator("[data-testid=failures] tr[data-execution]");
      check((await failures.count()) === 1 && (await text(failures.first())).includes("failing"), "the failure is listed");
      check((await page.locator("[data-testid=durations-chart] circle").count()) >= 1, "durations are drawn");
      check((await page.locator("#menu a.active").innerText()).trim() === "Home", "the menu shows Home");
      const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const first = await bg();
      const theme = await page.evaluate(() => document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark"));
      await shot(page, `home-${theme}`);
      await page.locator("#theme").click();
      check((await bg()) !== first, "the toggle switches the theme");
      const other = theme === "light" ? "dark" : "light";
      check((await page.evaluate(() => document.documentElement.dataset.theme)) === other, "the chosen theme is set");
      await shot(page, `home-${other}`);
      await page.reload();
      await page.locator("[data-testid=totals]").waitFor();
      check((await bg()) !== first, "the choice is kept across reloads");
      await page.goto(url + "#/flows/ui.pages/child?tab=revisions");
      await page.locator("[data-testid=diff]").waitFor();
      await shot(page, `revisions-${other}`);
    },

    async bulk(page) {
      accept(page);
      await page.goto(url + "#/executions");
      const slow = await start(page, "slow");
      for (let i = 0; i < 3; i++) await start(page, "child");
      await page.goto(url + "#/executions?namespace=ui.pages");
      const rows = page.locator("[data-testid=executions] tbody tr[data-execution]");
      await rows.first().waitFor();
      // sorting by flow, descending then ascending
      await page.locator("th[data-sort=flowId]").click();
      await page.waitForURL(/sort=flowId%3Adesc/);
      await page.locator("th[data-sort=flowId][aria-sort=descending]").waitFor();
      await page.locator("th[data-sort=flowId]").click();
      await page.waitForURL(/sort=flowId%3Aasc/);
      await page.locator("th[data-sort=flowId][aria-sort=ascending]").waitFor();
      await rows.first().waitFor();
      const flows = await rows.evaluateAll((trs) => trs.map((tr) => tr.children[6].innerText.trim()));
      check(flows.join() === [...flows].sort().join(), `sorted by flow: ${flows}`);
      // kill the running one
      await page.locator(`input[data-select="${slow}"]`).check();
      await page.locator("[data-testid=selected]", { hasText: "1 selected" }).waitFor();
      await shot(page, "executions-bulk");
      await page.locator("[data-bulk=kill]").click();
      await page.locator(`tr[data-execution="${slow}"][data-state=KILLED]`).waitFor({ timeout: 15000 });
      // delete two ended ones
      const done = (await settle(page)).results.filter((e) => e.flowId === "child").map((e) => e.id);
      await page.goto(url + "#/executions?namespace=ui.pages&flowId=child");
      await page.locator(`tr[data-execution="${done[0]}"]`).waitFor();
      await page.locator(`input[data-select="${done[0]}"]`).check();
      await page.locator(`input[data-select="${done[1]}"]`).check();
      await page.locator("[data-bulk=delete]").click();
      await page.locator(`tr[data-execution="${done[0]}"]`).waitFor({ state: "detached" });
      await page.locator(`tr[data-execution="${done[1]}"]`).waitFor({ state: "detached" });
      // replay the third
      await page.locator(`input[data-select="${done[2]}"]`).check();
      await page.locator("[data-bulk=replay]").click();
      await page.locator(".toast", { hasText: "1 replayed" }).waitFor();
      await settle(page);
    },

    async flowpage(page) {
      accept(page);
      await page.setViewportSize({ width: 1440, height: 900 });
      const longNs = "ui.pages." + "x".repeat(71);
      await page.goto(url + `#/flows/${longNs}/a_flow_with_a_rather_long_identifier`);
      await page.locator("[data-testid=source]").waitFor();
      const exec = await page.locator("h1 button.primary", { hasText: "Execute" }).boundingBox();
      check(exec && exec.x + exec.width <= 1440 && exec.x > 200, `Execute is on screen at 1440 px: ${JSON.stringify(exec)}`);
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      check(scroll <= 1440, `no horizontal scroll: ${scroll}`);
      await shot(page, "long-namespace");
      // the flow's own triggers
      await page.goto(url + "#/flows/ui.pages/sched?tab=triggers");
      await page.locator('tr[data-trigger="ui.pages.sched.nightly"]').waitFor();
      check((await page.locator("[data-testid=triggers] tbody tr").count()) === 1, "only this flow's trigger");
      check(page.url().includes("#/flows/ui.pages/sched?tab=triggers"), "still on the flow's page");
      // the flow's own executions, filters kept on its page
      await start(page, "child");
      await start(page, "failing");
      await settle(page);
      await page.goto(url + "#/flows/ui.pages/child?tab=executions");
      const rows = page.locator("[data-testid=executions] tbody tr[data-execution]");
      await rows.first().waitFor();
      const flows = await rows.evaluateAll((trs) => trs.map((tr) => tr.children[6].innerText.trim()));
      check(flows.length >= 1 && flows.every((f) => f === "child"), `only child's executions: ${flows}`);
      await page.locator("select[name=state]").selectOption("FAILED");
      await page.waitForURL(/#\/flows\/ui\.pages\/child\?tab=executions&state=FAILED/);
      await page.locator("[data-testid=executions] tbody", { hasText: "No executions." }).waitFor();
      await shot(page, "flow-executions");
      // disable, enable
      await page.goto(url + "#/flows/ui.pages/sched");
      await page.locator("button[data-action=toggle]", { hasText: "Disable" }).click();
      await page.locator("[data-testid=flow-disabled]").waitFor();
      check((await call(page, "GET", "/flows/ui.pages/sched")).disabled === true, "disabled in the API");
      await page.locator("button[data-action=toggle]", { hasText: "Enable" }).click();
      await page.locator("button[data-action=toggle]", { hasText: "Disable" }).waitFor();
      check(!(await page.locator("[data-testid=flow-disabled]").count()), "enabled again");
      // delete
      await page.goto(url + "#/flows/ui.pages/parent");
      await page.locator("button[data-action=delete]").click();
      await page.waitForURL((u) => u.hash === "#/flows");
    },

    async broken(page) {
      for (let i = 0; i < 30; i++) {
        await page.goto(url + "#/flows/ui.pages/child");
        await page.locator("[data-testid=source]").waitFor();
        if (await page.locator("[data-testid=flow-broken]").count()) break;
        await page.waitForTimeout(300);
        await page.goto(url + "#/flows");
      }
      const banner = page.locator("[data-testid=flow-broken]");
      await banner.waitFor({ timeout: 2000 });
      const t = await text(banner);
      check(t.includes("child.yml") && t.includes("Nope") && t.includes("last valid version"), `the banner says which file and why: ${t}`);
      check((await text(page.locator("[data-testid=source]"))).includes("io.kestra.plugin.core.log.Log"), "the last valid version is shown");
      await shot(page, "broken-flow");
    },

    /** A brand-new file that never validated shows in the flow list with its error. */
    async brokennew(page) {
      const box = page.locator("[data-testid=broken-files]");
      for (let i = 0; i < 30 && !(await box.count()); i++) {
        await page.goto(url + "#/home");
        await page.goto(url + "#/flows");
        await page.locator("table").first().waitFor();
        if (!(await box.count())) await page.waitForTimeout(300);
      }
      await box.waitFor({ timeout: 2000 });
      const t = await text(box);
      check(t.includes("brand_new.yml") && t.includes("Nope"), `the file and its error are listed: ${t}`);
      check(!t.includes("child.yml"), "valid files are not listed");
      await shot(page, "broken-new-file");
    },

    async zoom(page) {
      await page.setViewportSize({ width: 1440, height: 900 });
      await page.goto(url + "#/flows/zoomcamp/02_postgres_taxi_scheduled?tab=topology");
      const view = page.locator("[data-testid=topology-view]");
      await view.locator("g[data-task]").first().waitFor();
      // drawn top to bottom by default; the wide case is the horizontal layout
      await page.locator("[data-testid=topology-direction]").click();
      await page.locator("[data-testid=topology][data-direction=LR]").waitFor();
      await page.waitForFunction(() => document.querySelector("[data-testid=topology-view]")?.dataset.scale);
      const fit = async () => page.evaluate(() => {
        const v = document.querySelector("[data-testid=topology-view]");
        const b = v.querySelector("svg > g").getBBox();
        return { scale: Number(v.dataset.scale), width: b.x + b.width, panel: v.clientWidth };
      });
      const f = await fit();
      check(f.scale < 1, `a wide graph opens fitted: ${JSON.stringify(f)}`);
      check(f.width * f.scale <= f.panel + 1, `it fits its panel: ${JSON.stringify(f)}`);
      await shot(page, "topology-fit");
      await page.locator("button[data-zoom=in]").click();
      check((await fit()).scale > f.scale, "+ zooms in");
      const box = await view.boundingBox();
      await page.mouse.move(box.x + 50, box.y + 50);
      const before = (await fit()).scale;
      await page.mouse.wheel(0, 300);
      await page.waitForFunction((s) => Number(document.querySelector("[data-testid=topology-view]").dataset.scale) < s, before);
      // drag pans: the viewBox moves
      const vb = () => page.evaluate(() => document.querySelector("[data-testid=topology-view] svg").getAttribute("viewBox"));
      const v0 = await vb();
      await page.mouse.move(box.x + 300, box.y + 100);
      await page.mouse.down();
      await page.mouse.move(box.x + 200, box.y + 60, { steps: 4 });
      await page.mouse.up();
      check((await vb()) !== v0, "dragging pans");
      await page.locator("button[data-zoom=fit]").click();
      check(Math.abs((await fit()).scale - f.scale) < 0.001, "Fit returns to the fitted view");
    },

    /**
     * The examples' zoomcamp taxi flow drawn top to bottom: taller than wide,
     * at 100 % in a 1280 px window (no horizontal scrolling), every task
     * there, If blocks as boxes; the toggle lays it left to right. Beside the
     * editor, the live topology draws a task typed into the text, from the
     * editor's change callback (no interval timer, no request while idle).
     */
    async "taxi-topology"(page) {
      // every interval timer the page starts, with where it was started from
      await page.addInitScript(() => {
        window.__intervals = [];
        const start = window.setInterval;
        window.setInterval = function (fn, ms, ...rest) {
          window.__intervals.push({ ms, stack: String(new Error().stack) });
          return start.call(this, fn, ms, ...rest);
        };
      });
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(url + "#/flows/zoomcamp/02_postgres_taxi?tab=topology");
      const flow = await page.evaluate(async () => (await fetch("/api/v1/flows/zoomcamp/02_postgres_taxi")).json());
      const ids = [];
      const walk = (tasks) => {
        for (const t of tasks || []) {
          ids.push(t.id);
          for (const k of ["tasks", "then", "else", "errors", "finally"]) walk(t[k]);
        }
      };
      walk(flow.tasks);
      check(ids.length >= 15, `the taxi flow's tasks: ${ids}`);
      const graph = page.locator("[data-testid=topology]");
      await graph.locator("g[data-task]").first().waitFor();
      await page.waitForFunction(() => document.querySelector("[data-testid=topology-view]")?.dataset.scale);
      const size = async () => graph.evaluate((g) => ({ dir: g.dataset.direction, w: Number(g.dataset.width), h: Number(g.dataset.height), panel: g.parentElement.clientWidth, scale: Number(g.parentElement.dataset.scale) }));
      const tb = await size();
      check(tb.dir === "TB" && tb.h > tb.w, `drawn top to bottom, taller than wide: ${JSON.stringify(tb)}`);
      check(tb.w <= tb.panel && tb.scale === 1, `readable at 100 % without horizontal scrolling: ${JSON.stringify(tb)}`);
      const missing = [];
      for (const id of ids) if (!(await graph.locator(`g[data-task="${id}"]`).count())) missing.push(id);
      check(!missing.length, `every task is drawn: missing ${missing}`);
      const boxes = await graph.locator("[data-cluster]").evaluateAll((b) => b.map((x) => x.dataset.cluster));
      check(boxes.some((b) => b.endsWith("if_yellow_taxi")) && boxes.some((b) => b.endsWith("if_green_taxi")), `the If blocks are boxes: ${boxes}`);
      await shot(page, "topology-vertical");
      await page.locator("[data-testid=topology-direction]").click();
      await page.locator("[data-testid=topology][data-direction=LR]").waitFor();
      const lr = await size();
      check(lr.w > lr.h, `the toggle lays it left to right: ${JSON.stringify(lr)}`);
      await page.locator("[data-testid=topology-direction]").click();
      await page.locator("[data-testid=topology][data-direction=TB]").waitFor();
      // the live topology beside the editor
      await page.goto(url + "#/flows/zoomcamp/02_postgres_taxi");
      await page.locator("button", { hasText: "Edit" }).click();
      await page.locator("[data-testid=editor] .cm-content").waitFor();
      await page.locator("[data-side=topology]").click();
      const live = page.locator("[data-testid=live-topology]");
      await live.locator("g[data-task=purge_files]").waitFor({ timeout: 15000 });
      check(!(await live.locator("g[data-task=brand_new]").count()), "no brand_new task yet");
      // typed in the editor: drawn from its change callback, not a timer reading the text
      const graphs = [];
      page.on("request", (r) => r.url().endsWith("/flows/graph") && r.method() === "POST" && graphs.push(Date.now()));
      await page.waitForTimeout(1200);
      check(graphs.length === 0, `nothing redrawn while nothing changes: ${graphs.length} requests`);
      const at = await page.locator("[data-testid=editor]").evaluate((host) => host.batonEditor.text().indexOf("\ntasks:\n") + "\ntasks:\n".length);
      check(at > 10, "the editor's tasks: line");
      // focused first (a focus puts the cursor back at the start), then the cursor under tasks:
      await page.locator("[data-testid=editor]").evaluate((host, pos) => {
        host.batonEditor.focus();
        host.batonEditor.view.dispatch({ selection: { anchor: pos } });
      }, at);
      await page.keyboard.insertText("  - id: typed_task\n    type: io.kestra.plugin.core.log.Log\n    message: typed\n");
      await page.keyboard.press("Escape"); // a completion list the typing opened
      const typedAt = Date.now();
      await live.locator("g[data-task=typed_task]").waitFor({ timeout: 15000 });
      console.log(`typed task drawn ${Date.now() - typedAt} ms after typing, ${graphs.length} graph request(s)`);
      const polling = await page.evaluate(() => window.__intervals.filter((i) => i.stack.includes("live_topology")).length);
      check(polling === 0, `the live topology starts no interval timer: ${polling}`);
      check(graphs.length >= 1 && graphs.length <= 2, `one redraw for the typing (debounced): ${graphs.length}`);
      const source = await page.locator("[data-testid=editor]").evaluate((host) => host.batonEditor.text());
      const added = source.replace(/\ntasks:\n/, "\ntasks:\n  - id: brand_new\n    type: io.kestra.plugin.core.log.Log\n    message: added in the editor\n");
      check(added !== source, "the task is inserted under tasks:");
      // a broken text first: the last good graph stays, the note says why
      await page.locator("[data-testid=editor]").evaluate((host, t) => host.batonEditor.setText(t), added.replace("type: io.kestra.plugin.core.log.Log", "type: io.kestra.plugin.core.log.Nope"));
      await live.locator("[data-testid=live-topology-note]").getByText("Not redrawn").waitFor({ timeout: 15000 });
      check(await live.locator("g[data-task=purge_files]").count() === 1, "the last good graph stays");
      await page.locator("[data-testid=editor]").evaluate((host, t) => host.batonEditor.setText(t), added);
      await live.locator("g[data-task=brand_new]").waitFor({ timeout: 15000 });
      await shot(page, "editor-live-topology");
    },

    /** A page opened while the previous one is still loading: only the last one ever shows. */
    async race(page) {
      await page.goto(url + "#/home");
      await page.locator("[data-testid=totals]").waitFor();
      // the executions page's search answers late
      await page.route("**/api/v1/executions/search**", async (r) => {
        await new Promise((res) => setTimeout(res, 1500));
        await r.continue();
      });
      await page.evaluate(() => { location.hash = "#/executions"; });
      await page.waitForTimeout(150);
      await page.evaluate(() => { location.hash = "#/blueprints"; });
      await page.locator("[data-testid=blueprints] article").first().waitFor();
      await page.waitForTimeout(2500); // the late answer has arrived by now
      check((await page.locator("#main > .page").count()) === 1, "one page in main");
      check((await page.locator("#main > .page").getAttribute("data-page")) === "blueprints", "the last page opened");
      check((await page.locator("#main [data-testid=executions]").count()) === 0, "the earlier page never shows");
      check((await page.locator("#main h1").count()) === 1, `one title: ${await page.locator("#main h1").allInnerTexts()}`);
      await page.unroute("**/api/v1/executions/search**");
    },

    /** Blueprints: search, filter by tag, read a source, Use one and save it as a flow. */
    async blueprints(page) {
      await page.goto(url + "#/blueprints");
      const cards = page.locator("[data-testid=blueprints] article[data-blueprint]");
      await cards.first().waitFor();
      check((await cards.count()) >= 10, `at least 10 blueprints: ${await cards.count()}`);
      check((await page.locator("#menu a.active").innerText()).trim() === "Blueprints", "the menu shows Blueprints");
      await shot(page, "blueprints");
      // a tag narrows the list to the blueprints carrying it
      await page.locator("[data-testid=blueprint-tags] button[data-tag=webhook]").click();
      await page.waitForFunction(() => document.querySelectorAll("[data-testid=blueprints] article").length === 1);
      check((await cards.first().getAttribute("data-blueprint")) === "webhook", "only the webhook blueprint");
      await page.locator("[data-testid=blueprint-tags] button[data-tag=webhook]").click();
      // the search box matches titles and task types
      await page.locator("input[name=q]").fill("DbtCLI");
      await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=blueprints] article")].map((a) => a.dataset.blueprint).join() === "dbt-build");
      await page.locator("input[name=q]").fill("");
      await page.waitForFunction(() => document.querySelectorAll("[data-testid=blueprints] article").length >= 10);
      // its source, then Use: the editor opens with it, Save creates the flow
      const hello = page.locator('article[data-blueprint="hello-world"]');
      await hello.getByRole("button", { name: "Source" }).click();
      await hello.locator(".blueprint-source pre", { hasText: "io.kestra.plugin.core.log.Log" }).waitFor();
      await hello.locator("button[data-use]").click();
      await page.waitForURL(/#\/flows\/new\?blueprint=hello-world/);
      await page.locator("[data-testid=editor] .cm-content").waitFor();
      const textNow = await page.locator("[data-testid=editor]").evaluate((host) => host.batonEditor.text());
      check(textNow.startsWith("id: hello_world\nnamespace: company.team"), `the editor holds the blueprint: ${textNow.slice(0, 60)}`);
      await page.getByRole("button", { name: "Save" }).click();
      await page.waitForURL(/#\/flows\/company\.team\/hello_world/);
    },

    /** The README's gallery: home, the editor with completion open, topology, executions, namespaces and blueprints, light and dark. */
    async gallery(page) {
      await page.setViewportSize({ width: 1440, height: 900 });
      await page.goto(url + "#/home");
      await start(page, "child");
      await start(page, "child");
      await start(page, "failing");
      await settle(page);
      for (const theme of ["light", "dark"]) {
        await page.evaluate((t) => localStorage.setItem("baton.theme", t), theme);
        await page.goto(url + "#/home");
        await page.reload(); // the theme as saved, and the home page drawn afresh
        await page.locator("[data-testid=executions-chart] rect").first().waitFor();
        await shot(page, `gallery-home-${theme}`);
        await page.goto(url + "#/flows/new");
        await page.locator("[data-testid=editor] .cm-content").waitFor();
        await page.locator("[data-testid=doc-panel] .doc-hint").waitFor(); // the schema is loaded
        await page.locator("[data-testid=editor] .cm-content").click();
        await page.keyboard.press("Control+A");
        await page.keyboard.press("Delete");
        for (const line of ["id: hello", "namespace: company.team", "tasks:", "  - id: hello", "    type: io.kestra.plugin.core.log.Log", "    message: Hello", "  - id: wait"]) {
          await page.keyboard.insertText(line);
          await page.keyboard.press("Escape");
          await page.keyboard.press("Enter");
          await page.keyboard.press("Shift+Tab");
          await page.keyboard.press("Shift+Tab");
          await page.keyboard.press("Shift+Tab");
        }
        await page.keyboard.insertText("    type: io.kestra.plugin.core.f");
        await page.keyboard.type("lo"); // completion opens as you type
        await page.locator(".cm-tooltip-autocomplete li").first().waitFor();
        await shot(page, `gallery-editor-${theme}`);
        await page.keyboard.press("Escape");
        await page.goto(url + "#/flows/zoomcamp/02_postgres_taxi_scheduled?tab=topology");
        await page.locator("[data-testid=topology-view] g[data-task]").first().waitFor();
        await page.waitForFunction(() => document.querySelector("[data-testid=topology-view]")?.dataset.scale);
        await shot(page, `gallery-topology-${theme}`);
        await page.goto(url + "#/executions");
        await page.locator("[data-testid=executions] tbody tr[data-execution]").first().waitFor();
        await shot(page, `gallery-executions-${theme}`);
        await page.goto(url + "#/namespaces/ui.pages");
        await page.locator('[data-testid=ns-flows] tr[data-flow="child"]').waitFor();
        await shot(page, `gallery-namespaces-${theme}`);
        await page.goto(url + "#/blueprints");
        await page.locator("[data-testid=blueprints] article").first().waitFor();
        await shot(page, `gallery-blueprints-${theme}`);
      }
    },

    async namespaces(page) {
      accept(page);
      await page.goto(url + "#/namespaces");
      await page.locator('tr[data-namespace="ui.pages"] a').click();
      await page.locator('[data-testid=ns-flows] tr[data-flow="child"]').waitFor();
      await shot(page, "namespace");
      // KV: set, view, edit
      await page.locator(".tabs a[data-tab=kv]").click();
      const form = page.locator("[data-testid=kv-form]");
      await form.locator("input[name=key]").fill("GREETING");
      await form.locator("textarea[name=value]").fill("hello");
      await form.locator("button[type=submit]").click();
      await page.locator('[data-testid=kv] tr[data-key="GREETING"] a').click();
      check((await text(page.locator("[data-testid=kv-value]"))) === "hello", "the value is shown");
      await page.locator("[data-testid=kv-edit]").click();
      check((await form.locator("input[name=key]").inputValue()) === "GREETING", "Edit fills the form");
      await form.locator("textarea[name=value]").fill("edited");
      await form.locator("button[type=submit]").click();
      await page.locator(".toast", { hasText: "GREETING set" }).last().waitFor();
      await page.locator('[data-testid=kv] tr[data-key="GREETING"] a').click();
      await page.locator("[data-testid=kv-value]", { hasText: "edited" }).waitFor();
      // files: new, edit, save, reopen, delete
      await page.locator(".tabs a[data-tab=files]").click();
      await page.locator("[data-testid=new-file] input").fill("models/stg.sql");
      await page.locator("[data-testid=new-file] button").click();
      await page.waitForURL(/path=models%2Fstg\.sql/);
      const area = page.locator("textarea[name=file-content]");
      await area.waitFor();
      await area.fill("select 1");
      await area.press("Tab");
      await area.type("as one");
      await page.locator("[data-testid=save-file]").click();
      await page.locator("[data-testid=file-status]", { hasText: "Saved." }).waitFor();
      await page.reload();
      await area.waitFor();
      check((await area.inputValue()) === "select 1  as one", `saved, Tab indented: ${await area.inputValue()}`);
      await shot(page, "namespace-files");
      await page.goto(url + "#/namespaces/ui.pages?tab=files&path=models%2F");
      await page.locator('[data-testid=ns-files] li[data-file="stg.sql"] button').click();
      await page.locator('[data-testid=ns-files] li[data-file="stg.sql"]').waitFor({ state: "detached" });
      // secrets: names only
      await page.locator(".tabs a[data-tab=secrets]").click();
      await page.locator("[data-testid=secrets]").waitFor();
    },

    /** Plugins: every type by group, a search, a type's documentation (required marked), Kestra's path. */
    async plugins(page) {
      await page.goto(url + "#/plugins");
      await page.locator('[data-plugin="io.kestra.plugin.core.log.Log"]').waitFor();
      const all = Number((await text(page.locator("[data-testid=plugin-count]"))).split(" ")[0]);
      check(all > 100, `every type is listed: ${all}`);
      check((await page.locator('[data-plugin="io.kestra.plugin.core.trigger.Schedule"]').count()) === 1, "triggers are listed");
      check((await page.locator("#menu a.active").innerText()).trim() === "Plugins", "the menu shows Plugins");
      await shot(page, "plugins");
      await page.locator("input[name=q]").fill("foreach");
      await page.locator("input[name=q]").press("Enter");
      await page.waitForURL(/q=foreach/);
      await page.locator('[data-plugin="io.kestra.plugin.core.flow.ForEach"]').waitFor();
      check((await page.locator('[data-plugin="io.kestra.plugin.core.log.Log"]').count()) === 0, "the search narrows the list");
      await page.locator('[data-plugin="io.kestra.plugin.core.flow.ForEach"] a').click();
      const doc = page.locator("[data-testid=plugin-doc]");
      await doc.locator('tr[data-prop="values"] .doc-req').waitFor();
      check((await doc.locator('tr[data-prop="value"] .doc-req').count()) === 0, "the older name value is not marked required");
      check(/example/i.test(await text(doc)) && (await doc.locator("pre.doc-code").count()) >= 1, "the example is shown");
      await shot(page, "plugin-doc");
      // Kestra's path, by an alias
      await page.goto(url + "/ui/main/plugins/io.kestra.core.tasks.log.Log");
      await page.locator('[data-testid=plugin-doc] tr[data-prop="message"] .doc-req').waitFor();
      await page.goto(url + "#/plugins/io.kestra.plugin.core.log.Nope");
      check((await text(page.locator(".error-box"))).includes("no plugin 'io.kestra.plugin.core.log.Nope'"), "an unknown type says so");
    },

    /** Flows list: each flow's last execution, a search, a namespace filter with its children. */
    async flowslist(page) {
      await page.goto(url + "#/home");
      const failed = await start(page, "failing");
      await settle(page);
      await page.goto(url + "#/flows");
      const cell = page.locator('[data-last="ui.pages.failing"]');
      await cell.locator("[data-state=FAILED]").waitFor();
      const href = await cell.locator("a").getAttribute("href");
      check(href.endsWith(`/executions/${failed}`), `the last execution links to it: ${href}`);
      check((await text(page.locator('[data-last="ui.pages.child"]'))) === "", "a flow never run shows no last execution");
      await shot(page, "flows-list");
      const shownFlows = () => page.locator("tr[data-flow]").evaluateAll((rows) => rows.map((r) => r.dataset.flow));
      await page.locator("[data-testid=flow-filters] input[name=q]").fill("fail");
      await page.locator("[data-testid=flow-filters] input[name=q]").press("Enter");
      await page.waitForURL(/q=fail/);
      await page.waitForFunction(() => [...document.querySelectorAll("tr[data-flow]")].map((r) => r.dataset.flow).join() === "ui.pages.failing");
      // a namespace shows its children, and nothing else
      await page.goto(url + "#/flows");
      await page.locator("[data-testid=flow-filters] select[name=namespace]").selectOption("ui.pages");
      await page.waitForURL(/namespace=ui.pages/);
      await page.locator('tr[data-flow="ui.pages.child"]').waitFor();
      const inNs = await shownFlows();
      check(inNs.some((f) => f.startsWith("ui.pages.xxx")) && !inNs.some((f) => f.startsWith("zoomcamp.")), `ui.pages and its children: ${inNs}`);
      await page.goto(url + "#/flows?q=nothing-like-this");
      await page.locator("[data-testid=no-match]").waitFor();
    },
  };
}
