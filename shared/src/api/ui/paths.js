// Kestra's UI paths and Baton's routes, both ways. A route is what the hash
// holds at `/` (`flows/{ns}/{id}?tab=topology`); under `/ui/` the address
// is Kestra's path for it (`/ui/main/flows/edit/{ns}/{id}/topology`), so a
// Kestra user's bookmarks and alert links open the page they name. The
// tenant segment (`main`) is optional on the way in, as in Kestra.

const TENANT = "main";
const enc = encodeURIComponent;

/** Kestra's tab names that Baton names otherwise, per page: Kestra → Baton. */
const FLOW_TABS_IN = { edit: "source", overview: "source" };
const NS_TABS_IN = { overview: "flows", editor: "files", kv: "kv" };

/** Builds a route from decoded parts and a query. */
function route(parts, query, tab) {
  if (tab) query.set("tab", tab);
  const q = query.toString();
  return parts.map(enc).join("/") + (q ? "?" + q : "");
}

/**
 * The route of a Kestra path below `/ui` (`pathname` as the address bar has
 * it, `search` its query): `/ui/main/flows/edit/a.b/c/topology` →
 * `flows/a.b/c?tab=topology`.
 */
export function fromPath(pathname, search) {
  let seg = pathname.split("/").filter(Boolean).map(decodeURIComponent).slice(1);
  if (seg[0] === TENANT) seg = seg.slice(1);
  const query = new URLSearchParams(search || "");
  const [page, ...rest] = seg;
  switch (page) {
    case undefined:
    case "dashboards":
    case "home":
      return route(["home"], query);
    case "flows":
      if (rest[0] === "edit" && rest.length >= 3) return route(["flows", rest[1], rest[2]], query, rest[3] && (FLOW_TABS_IN[rest[3]] || rest[3]));
      if (rest[0] === "search") return route(["flows"], query);
      return route(["flows", ...rest], query);
    case "executions":
      // Kestra's `{namespace}/{flowId}/{id}/{tab?}`; `{id}` alone is Baton's short form
      if (rest.length >= 3) return route(["executions", rest[2]], query, rest[3]);
      return route(["executions", ...rest.slice(0, 1)], query);
    case "namespaces":
      if (rest[0] === "edit" && rest[1]) return route(["namespaces", rest[1]], query, rest[2] && (NS_TABS_IN[rest[2]] || rest[2]));
      return route(["namespaces"], query);
    case "admin":
      return route([rest[0] === "triggers" ? "triggers" : "admin", ...rest.slice(1)], query);
    case "blueprints":
      return route(["blueprints"], query);
    default:
      return route([page, ...rest], query);
  }
}

/** Kestra's path of a route (`#/flows/a.b/c?tab=topology` or without `#/`). */
export function toPath(hash) {
  const raw = hash.replace(/^#?\/?/, "");
  const [path, search] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search || "");
  const tab = query.get("tab");
  query.delete("tab");
  const join = (segs, t) => {
    const q = query.toString();
    return `/ui/${TENANT}/` + segs.map(enc).join("/") + (t ? "/" + enc(t) : "") + (q ? "?" + q : "");
  };
  const [page, ...rest] = parts;
  switch (page) {
    case undefined:
    case "home":
      return join(["dashboards"]);
    case "flows":
      if (rest.length >= 2) return join(["flows", "edit", rest[0], rest[1]], tab && tab !== "source" ? tab : null);
      break;
    case "executions":
      // the short form keeps its tab in the query: a second segment would be ambiguous
      if (tab) query.set("tab", tab);
      return join(["executions", ...rest.slice(0, 1)]);
    case "namespaces":
      if (rest.length >= 1) return join(["namespaces", "edit", rest[0]], tab && tab !== "flows" ? tab : null);
      break;
    case "triggers":
      return join(["admin", "triggers"]);
  }
  if (tab) query.set("tab", tab);
  return join(parts);
}

/** Kestra's path of an execution's page (`tab` and `query` optional). */
export function executionPath(e, tab, query) {
  const q = new URLSearchParams(query || "");
  q.delete("tab");
  const s = q.toString();
  return `/ui/${TENANT}/executions/${enc(e.namespace)}/${enc(e.flowId)}/${enc(e.id)}` + (tab ? "/" + enc(tab) : "") + (s ? "?" + s : "");
}
