// Baton's web UI: the router, the API client and the small DOM helpers
// every page uses. Pages are ES modules loaded on demand; each exports
// `render(main, params)` and may return a cleanup function. At `/` the page
// routes on the hash (`/#/flows/…`); under `/ui/` on Kestra's paths
// (history mode, paths.js): links written `#/…` are given Kestra's path and
// followed without reloading, and a `#/…` hash there is moved into the path.

import { fromPath, toPath, executionPath } from "./paths.js";

/** Whether the address is Kestra's path (`/ui/…`) rather than a hash. */
export const HISTORY = location.pathname === "/ui" || location.pathname.startsWith("/ui/");

/** An error answered by the API: its status and Kestra-style message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls `/api/v1{path}`; JSON in and out unless `raw`. */
export async function api(path, opts = {}) {
  // X-Requested-With: a 401 answers without WWW-Authenticate (no browser prompt: the login page instead)
  const init = { ...opts, headers: { "X-Requested-With": "XMLHttpRequest", ...(opts.headers || {}) } };
  if (opts.json !== undefined) {
    init.body = JSON.stringify(opts.json);
    init.headers["Content-Type"] = "application/json";
  }
  const r = await fetch("/api/v1" + path, init);
  if (opts.raw && r.ok) return r;
  const text = await r.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (r.status === 401 && !parseHash().parts.includes("login")) {
    // the server wants basic auth: its login page, back here once logged in
    go(`#/login?next=${encodeURIComponent(current())}`);
  }
  if (!r.ok) {
    const msg = (body && body.message) || (typeof body === "string" && body) || r.statusText;
    throw new ApiError(r.status, `${r.status}: ${msg}`);
  }
  return body;
}

/** Builds an element: h("a", {href}, "text", child…). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "html") el.innerHTML = v;
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k === "href" && HISTORY && typeof v === "string" && v.startsWith("#/")) el.setAttribute(k, toPath(v));
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const TERMINAL = ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED", "RETRIED"];

/** A state badge coloured as in Kestra. */
export function stateBadge(state) {
  return h("span", { class: "state", style: { background: `var(--${state}, var(--CREATED))` }, "data-state": state }, state);
}

export function fmtDate(d) {
  if (!d) return "";
  const t = new Date(d);
  return isNaN(t) ? String(d) : t.toLocaleString(undefined, { hour12: false });
}

/** Milliseconds as Kestra shows durations (1.2s, 3m 4s). */
export function fmtMs(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** Start, end (now while running) and duration of a Kestra state. */
export function span(state) {
  const hs = state.histories || [];
  const start = Date.parse(state.startDate || (hs[0] && hs[0].date));
  const done = TERMINAL.includes(state.current);
  const end = done ? Date.parse(state.endDate || (hs.length && hs[hs.length - 1].date)) : Date.now();
  return { start, end, ms: end - start };
}

export function toast(message, error = false) {
  const t = h("div", { class: "toast" + (error ? " error" : ""), role: error ? "alert" : "status" }, message);
  document.getElementById("toasts").append(t);
  setTimeout(() => t.remove(), error ? 12000 : 4000);
}

/**
 * An execution id shortened for a list: its last 8 characters. Kestra shows
 * the first 8 of a random id; `baton server local`'s ids begin with their
 * time (ids.rs), so executions started together share their first 8 and
 * differ only at the end. The whole id is the title and the link.
 */
export function shortId(id) {
  return h("span", { title: id, "data-short-id": id }, id.length > 8 ? "…" + id.slice(-8) : id);
}

/** Shows an error the way every page does: a box in place and a toast. */
export function errorBox(e) {
  const msg = e instanceof Error ? e.message : String(e);
  return h("div", { class: "error-box", role: "alert" }, msg);
}

/** A modal dialog; resolves when closed. */
export function dialog(title, body) {
  const d = h("dialog", {}, h("h1", {}, title), body);
  d.addEventListener("close", () => d.remove());
  document.body.append(d);
  d.showModal();
  return d;
}

/** The current route, as a hash: `#/a/b?x=1` (read off the path under `/ui/`). */
export function current() {
  return HISTORY ? "#/" + fromPath(location.pathname, location.search) : location.hash;
}

/** Parses the current route (`#/a/b?x=1`) into its path parts and query. */
export function parseHash() {
  const raw = current().replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query || "") };
}

/** Goes to the route `#/…` (a new history entry). */
export function go(hash) {
  if (!HISTORY) {
    location.hash = hash;
    return;
  }
  history.pushState(null, "", toPath(hash));
  route();
}

/** Under `/ui/`, shows an execution's page at Kestra's full path (namespace and flow in it). */
export function canonicalExecution(e) {
  if (!HISTORY) return;
  const { query } = parseHash();
  const path = executionPath(e, query.get("tab"), query);
  if (path !== location.pathname + location.search) history.replaceState(null, "", path);
}

export const enc = encodeURIComponent;

/** All flows, sorted; the namespaces are read off them. */
export async function namespaces() {
  const flows = await api("/flows");
  return [...new Set(flows.map((f) => f.namespace))].sort();
}

const ROUTES = {
  home: () => import("./home.js"),
  namespaces: () => import("./namespaces.js"),
  blueprints: () => import("./blueprints.js"),
  tests: () => import("./tests.js"),
  flows: () => import("./flows.js"),
  executions: () => import("./executions.js"),
  triggers: () => import("./triggers.js"),
  kv: () => import("./kv.js"),
  logs: () => import("./logs.js"),
  plugins: () => import("./plugins.js"),
  files: () => import("./kv.js"),
  login: () => import("./login.js"),
};

let cleanup = null;
let generation = 0;

/**
 * Shows the page of the current hash. Each navigation renders into its own
 * fresh container and counts a generation: a page still loading when the
 * next one starts keeps writing into its detached container (never seen),
 * and its cleanup runs as soon as it returns.
 */
async function route() {
  if (HISTORY && location.hash.startsWith("#/")) history.replaceState(null, "", toPath(location.hash));
  else if (HISTORY && /^\/ui\/?$/.test(location.pathname)) history.replaceState(null, "", toPath("#/home") + location.search);
  const { parts, query } = parseHash();
  const page = parts[0] || "home";
  if (!parts.length) return go("#/home");
  const mine = ++generation;
  for (const a of document.querySelectorAll("#menu [data-nav]")) a.classList.toggle("active", a.dataset.nav === page);
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  document.dispatchEvent(new Event("baton:route"));
  const main = document.getElementById("main");
  const box = h("div", { class: "page", "data-page": page });
  main.replaceChildren(box);
  const load = ROUTES[page];
  if (!load) {
    box.replaceChildren(errorBox(`no page '${page}'`));
    return;
  }
  try {
    const mod = await load();
    if (mine !== generation) return;
    const done = await mod.render(box, parts.slice(1), query, page);
    if (mine === generation) cleanup = done;
    else if (typeof done === "function") done();
  } catch (e) {
    if (mine === generation) box.replaceChildren(errorBox(e));
  }
}

/** Light or dark: the saved choice, else the system's (prefers-color-scheme). */
function theme() {
  const saved = localStorage.getItem("baton.theme");
  if (saved) document.documentElement.dataset.theme = saved;
  const toggle = document.getElementById("theme");
  if (!toggle) return;
  const current = () => document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark");
  const label = () => (toggle.textContent = current() === "dark" ? "☀ Light theme" : "☾ Dark theme");
  toggle.addEventListener("click", () => {
    const next = current() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("baton.theme", next);
    label();
  });
  label();
}

/** Under `/ui/`: the menu's links on Kestra's paths, followed in place. */
function historyMode() {
  for (const a of document.querySelectorAll("a[href^='#/']")) a.setAttribute("href", toPath(a.getAttribute("href")));
  document.addEventListener("click", (e) => {
    const a = e.target instanceof Element ? e.target.closest("a[href]") : null;
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target) return;
    const href = a.getAttribute("href");
    if (!href.startsWith("/ui/") && !href.startsWith("#/")) return;
    e.preventDefault();
    history.pushState(null, "", href.startsWith("#/") ? toPath(href) : href);
    route();
  });
  window.addEventListener("popstate", route);
}

/** The menu's Logout, shown while the page holds a login session (basic auth). */
async function logoutButton() {
  const button = document.getElementById("logout");
  if (!button) return;
  const { loggedIn, logout } = await import("./login.js");
  const show = async () => (button.hidden = !(await loggedIn()));
  button.addEventListener("click", async () => {
    await logout();
    button.hidden = true;
    go("#/login");
  });
  show();
  document.addEventListener("baton:route", show);
}

theme();
logoutButton();
if (HISTORY) historyMode();
window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (e) => {
  if (e.reason instanceof ApiError && e.reason.status === 401) return; // the login page is shown instead
  toast(e.reason && e.reason.message ? e.reason.message : String(e.reason), true);
});
route();
