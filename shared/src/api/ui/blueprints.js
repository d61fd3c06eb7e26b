// Blueprints: the flows embedded in Baton (GET /blueprints/community/flow),
// searchable by text and tag; each card shows its description, the task
// types it uses and its source, and "Use" opens the flow editor with it
// (#/flows/new?blueprint=ID).

import { api, h, enc, go } from "./app.js";
import { highlighted } from "./flows.js";

const BASE = "/blueprints/community/flow";

export async function render(main, _parts, query) {
  const q = h("input", { type: "search", name: "q", placeholder: "Search blueprints", value: query.get("q") || "", "aria-label": "Search blueprints" });
  const chips = h("div", { class: "chips", "data-testid": "blueprint-tags" });
  const list = h("div", { class: "cards", "data-testid": "blueprints" });
  const selected = new Set(query.getAll("tag"));
  main.append(h("h1", {}, "Blueprints", h("span", { class: "grow" }), q), chips, list);

  let generation = 0;
  const refresh = async () => {
    const mine = ++generation;
    const params = new URLSearchParams({ size: "100" });
    if (q.value.trim()) params.set("q", q.value.trim());
    for (const t of selected) params.append("tags", t);
    const page = await api(`${BASE}?${params}`);
    if (mine !== generation) return; // a newer search answered first
    list.replaceChildren(...page.results.map(card));
    if (!page.results.length) list.append(h("p", { class: "muted" }, "No blueprint matches."));
  };
  const tags = await api(`${BASE}/tags`);
  chips.replaceChildren(
    ...tags.map((t) => {
      const b = h("button", { type: "button", class: "chip" + (selected.has(t.id) ? " active" : ""), "data-tag": t.id, "aria-pressed": String(selected.has(t.id)) }, t.name);
      b.addEventListener("click", () => {
        if (selected.has(t.id)) selected.delete(t.id);
        else selected.add(t.id);
        b.classList.toggle("active", selected.has(t.id));
        b.setAttribute("aria-pressed", String(selected.has(t.id)));
        refresh();
      });
      return b;
    }),
  );
  let timer = null;
  q.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  });
  await refresh();
  return () => clearTimeout(timer);
}

const short = (type) => type.split(".").slice(-2).join(".");

function card(b) {
  const source = h("div", { class: "blueprint-source" });
  const toggle = h("button", { type: "button" }, "Source");
  toggle.addEventListener("click", async () => {
    if (source.childElementCount) return source.replaceChildren();
    const text = await api(`${BASE}/${enc(b.id)}/source`, { raw: true }).then((r) => r.text());
    source.replaceChildren(h("pre", { class: "source" }, highlighted(text)));
  });
  return h("article", { class: "card blueprint", "data-blueprint": b.id },
    h("h2", {}, b.title),
    h("p", {}, b.description),
    h("div", { class: "chips" }, b.tags.map((t) => h("span", { class: "chip small" }, t))),
    h("p", { class: "muted types", title: b.includedTasks.join("\n") }, b.includedTasks.map(short).join(" · ")),
    h("div", { class: "filters" },
      h("button", { class: "primary", "data-use": b.id, onclick: () => go(`#/flows/new?blueprint=${enc(b.id)}`) }, "Use"),
      toggle),
    source,
  );
}
