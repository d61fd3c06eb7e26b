//! The routes [`router`](super::router) serves, as the API routes
//! reference page lists them (`docs/src/reference/api-routes.md`,
//! generated from [`ROUTES`]). A test holds the table to the router both
//! ways: every route here answers with each of its methods, and every
//! `.route("…")` the API modules register is here with each of its
//! methods.

/// Where a route is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Under `/api/v1` and Kestra's tenant form `/api/v1/main`.
    Api,
    /// At the root (the UI, health checks).
    Root,
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub scope: Scope,
    pub methods: &'static [&'static str],
    /// Kestra's path pattern (`{namespace}`, `{flowId}`…), relative to the scope.
    pub path: &'static str,
    /// What it does (Markdown, one line).
    pub doc: &'static str,
}

const fn api(methods: &'static [&'static str], path: &'static str, doc: &'static str) -> Route {
    Route { scope: Scope::Api, methods, path, doc }
}

const fn root(methods: &'static [&'static str], path: &'static str, doc: &'static str) -> Route {
    Route { scope: Scope::Root, methods, path, doc }
}

const G: &[&str] = &["GET"];
const P: &[&str] = &["POST"];
const D: &[&str] = &["DELETE"];
const U: &[&str] = &["PUT"];

/// Every route, by area.
pub const ROUTES: &[Route] = &[
    root(G, "/", "The web UI."),
    root(G, "/ui", "The web UI, routed on Kestra's paths (history mode)."),
    root(G, "/ui/", "The same."),
    root(
        G,
        "/ui/{*path}",
        "The web UI's static files; any other path is the page, opened on Kestra's route \
         (`/ui/main/flows/edit/{namespace}/{id}`, `/ui/main/executions/{namespace}/{flowId}/{id}`…).",
    ),
    root(G, "/healthz", "`{\"status\": \"UP\"}`."),
    root(G, "/health", "The same (Cloud Run's front end answers paths ending in `z` itself)."),
    root(
        G,
        "/prometheus",
        "The process's metrics in Prometheus's text format (Kestra's path; also on every function).",
    ),
    // flows
    api(&["GET", "POST"], "/flows", "List every flow; create one (`application/x-yaml`)."),
    api(
        G,
        "/flows/search",
        "Search flows, paged (`filters[namespace|id|q|labels][…]`, or `namespace`, `q`, `labels`).",
    ),
    api(P, "/flows/validate", "Validate flows (multi-document YAML) without saving them."),
    api(P, "/flows/import", "Import flows (`fileUpload`: multi-document YAML or a ZIP)."),
    api(G, "/flows/distinct-namespaces", "The namespaces that have flows."),
    api(G, "/flows/export/by-query", "The flows a search finds, as a ZIP of sources."),
    api(P, "/flows/export/by-ids", "The flows `[{namespace, id}]`, as a ZIP of sources."),
    api(P, "/flows/graph", "The graph of a YAML source."),
    api(
        &["GET", "POST"],
        "/flows/{namespace}",
        "A namespace's flows; update them from one multi-document YAML (`delete`).",
    ),
    api(
        &["GET", "PUT", "DELETE"],
        "/flows/{namespace}/{id}",
        "Get (`source`, `revision`), update (`application/x-yaml`) or delete a flow.",
    ),
    api(G, "/flows/{namespace}/{id}/graph", "A flow's graph (`revision`, `subflows`)."),
    api(G, "/flows/{namespace}/{id}/revisions", "A flow's revisions."),
    api(
        G,
        "/flows/{namespace}/{id}/dependencies",
        "The flows a flow calls or triggers, and those that call or trigger it.",
    ),
    api(G, "/flow-files/broken", "The flow files that do not parse or validate, with why."),
    // executions
    api(G, "/executions", "A flow's executions, paged (`namespace`, `flowId`)."),
    api(
        G,
        "/executions/search",
        "Search executions, paged (`filters[field][OP]=`, or `namespace`, `flowId`, `state`, `labels`…).",
    ),
    api(P, "/executions/latest", "The newest execution of each flow `[{namespace, id}]`."),
    api(G, "/executions/namespaces", "The namespaces that have flows to execute."),
    api(G, "/executions/namespaces/{namespace}/flows", "A namespace's flows to execute."),
    api(G, "/executions/flows/{namespace}/{flowId}", "A flow as an execution sees it (`FlowForExecution`)."),
    api(
        P,
        "/executions/{namespace}/{flowId}",
        "Start an execution (JSON, form or multipart with FILE inputs; `labels`, `wait`).",
    ),
    api(P, "/executions/trigger/{namespace}/{flowId}", "The same, Kestra's older path."),
    api(P, "/executions/{namespace}/{flowId}/validate", "Check inputs without starting an execution."),
    api(
        &["GET", "DELETE"],
        "/executions/{executionId}",
        "Get an execution; delete one (`deleteLogs`, `deleteMetrics`, `deleteStorage`).",
    ),
    api(G, "/executions/{executionId}/graph", "An execution's graph, a node per task run."),
    api(G, "/executions/{executionId}/flow", "The flow of an execution, at its revision."),
    api(G, "/executions/{executionId}/follow", "An execution's updates (server-sent events)."),
    api(G, "/executions/{executionId}/file", "Download an output file (`path=kestra:///…`)."),
    api(G, "/executions/{executionId}/file/metas", "An output file's size."),
    api(G, "/executions/{executionId}/file/preview", "The first rows of an output file."),
    api(D, "/executions/{executionId}/kill", "Kill an execution."),
    api(D, "/executions/{executionId}/actions/kill", "The same, Kestra 2.0's path."),
    api(P, "/executions/{executionId}/replay", "Replay an execution as a new one (`taskRunId`, `revision`)."),
    api(P, "/executions/{executionId}/actions/replay", "The same, Kestra 2.0's path."),
    api(P, "/executions/{executionId}/restart", "Restart a failed execution in place."),
    api(P, "/executions/{executionId}/actions/restart", "The same, Kestra 2.0's path."),
    api(P, "/executions/{executionId}/labels", "Set an execution's labels."),
    api(P, "/executions/{executionId}/actions/labels", "The same, Kestra 2.0's path."),
    api(
        P,
        "/executions/{executionId}/replay-with-inputs",
        "Replay an execution with new inputs (multipart form; `taskRunId`, `revision`).",
    ),
    api(P, "/executions/{executionId}/actions/replay-with-inputs", "The same, Kestra 2.0's path."),
    api(
        P,
        "/executions/{executionId}/change-status",
        "Say an ended execution ended otherwise (`status`: an end state).",
    ),
    api(P, "/executions/{executionId}/actions/change-status", "The same, Kestra 2.0's path."),
    api(P, "/executions/{executionId}/resume", "Resume a paused execution with its `onResume` inputs."),
    api(P, "/executions/{executionId}/actions/resume", "The same, Kestra 2.0's path; answers the execution."),
    api(P, "/executions/{executionId}/resume/validate", "Check `onResume` inputs without resuming."),
    api(P, "/executions/{executionId}/actions/resume/validate", "The same, Kestra 2.0's path."),
    api(P, "/executions/{executionId}/eval", "Render an expression in an execution's context."),
    api(P, "/executions/{executionId}/eval/{taskRunId}", "Render an expression in a task run's context."),
    api(P, "/executions/{executionId}/actions/eval", "The same, Kestra 2.0's path."),
    api(P, "/executions/{executionId}/actions/eval/{taskRunId}", "The same, Kestra 2.0's path."),
    api(D, "/executions/by-ids", "Delete executions by id."),
    api(D, "/executions/by-query", "Delete the executions a search finds."),
    api(D, "/executions/kill/by-ids", "Kill executions by id."),
    api(D, "/executions/kill/by-query", "Kill the executions a search finds."),
    api(P, "/executions/restart/by-ids", "Restart executions by id."),
    api(P, "/executions/restart/by-query", "Restart the executions a search finds."),
    api(P, "/executions/change-status/by-ids", "Change the state of ended executions by id (`newStatus`)."),
    api(
        P,
        "/executions/change-status/by-query",
        "Change the state of the ended executions a search finds (`newStatus`).",
    ),
    api(P, "/executions/replay/by-ids", "Replay executions by id (`latestRevision`)."),
    api(P, "/executions/replay/by-query", "Replay the executions a search finds (`latestRevision`)."),
    api(
        P,
        "/executions/labels/by-ids",
        "Merge labels into ended executions' (`{executionsId, executionLabels}`), the value sent winning; none removed.",
    ),
    api(P, "/executions/labels/by-query", "Merge labels (the body) into the ended executions a search finds."),
    api(P, "/executions/resume/by-ids", "Resume paused executions by id."),
    api(P, "/executions/resume/by-query", "Resume the paused executions a search finds."),
    api(
        &["GET", "POST", "PUT"],
        "/executions/webhook/{namespace}/{flowId}/{key}",
        "Fire a `Webhook` trigger (no basic auth: the key is the credential).",
    ),
    api(
        &["GET", "POST", "PUT"],
        "/executions/webhook/{namespace}/{flowId}/{key}/{*path}",
        "The same, with a path after the key.",
    ),
    api(G, "/taskruns/search", "Search task runs, paged."),
    // outputs
    api(G, "/outputs/executions/{executionId}", "A flow's outputs (Kestra 2.0)."),
    api(G, "/outputs/tasks/{executionId}", "Which task runs of an execution have outputs."),
    api(G, "/outputs/tasks/{executionId}/{taskRunId}", "A task run's outputs."),
    api(G, "/outputs/{executionId}", "The same as `/outputs/tasks/{executionId}` (the 2.0 migration guide's path)."),
    api(G, "/outputs/{executionId}/{taskRunId}", "The same as `/outputs/tasks/{executionId}/{taskRunId}`."),
    // logs and metrics
    api(G, "/logs/search", "Search logs (`filters[…]`, or `namespace`, `flowId`, `minLevel`, `q`, dates)."),
    api(G, "/logs/{executionId}", "An execution's logs (`minLevel`, `taskId`, `taskRunId`, `attempt`)."),
    api(G, "/logs/{executionId}/download", "An execution's logs as text."),
    api(G, "/logs/{executionId}/follow", "An execution's logs as they come (server-sent events)."),
    api(G, "/metrics/{executionId}", "An execution's task metrics, paged (`taskId`, `taskRunId`, `sort`)."),
    api(G, "/metrics/names/{namespace}/{flowId}", "A flow's metric names."),
    api(G, "/metrics/names/{namespace}/{flowId}/{taskId}", "A task's metric names."),
    api(G, "/metrics/tasks/{namespace}/{flowId}", "The tasks of a flow that have metrics."),
    api(
        G,
        "/metrics/aggregates/{namespace}/{flowId}/{metric}",
        "A metric aggregated over time (`startDate`, `endDate`, `aggregation`).",
    ),
    api(G, "/metrics/aggregates/{namespace}/{flowId}/{taskId}/{metric}", "A task's metric aggregated over time."),
    api(G, "/stats/executions/daily", "Executions per day by state, with durations."),
    // KV, namespaces and their files
    api(G, "/kv", "Keys of every namespace, paged (`filters[namespace|key][…]`)."),
    api(&["GET", "DELETE"], "/namespaces/{namespace}/kv", "A namespace's keys; delete some (`{\"keys\": […]}`)."),
    api(G, "/namespaces/{namespace}/kv/inheritance", "The keys of the parent namespaces."),
    api(
        &["GET", "PUT", "DELETE"],
        "/namespaces/{namespace}/kv/{key}",
        "Get, put (type inferred, `ttl` header) or delete a key.",
    ),
    api(G, "/namespaces/search", "Search namespaces."),
    api(G, "/namespaces/{namespace}", "A namespace."),
    api(G, "/namespaces/{namespace}/secrets", "The names of a namespace's secrets."),
    api(
        &["GET", "POST", "DELETE"],
        "/namespaces/{namespace}/files",
        "Read (`path`, `revision`), write or delete a namespace file.",
    ),
    api(G, "/namespaces/{namespace}/files/directory", "A folder's listing."),
    api(G, "/namespaces/{namespace}/files/stats", "A file's or folder's size and dates."),
    api(G, "/namespaces/{namespace}/files/search", "Search file names."),
    api(G, "/namespaces/{namespace}/files/revisions", "A file's kept revisions."),
    // triggers and backfills
    api(U, "/triggers", "Update a trigger: a `backfill` or `disabled`."),
    api(G, "/triggers/search", "Search triggers (`filters[namespace|flowId|q][…]`)."),
    api(G, "/triggers/{namespace}/{flowId}", "A flow's triggers."),
    api(G, "/triggers/{namespace}/{flowId}/{triggerId}", "A trigger."),
    api(P, "/triggers/set-disabled/by-triggers", "Enable or disable triggers by id."),
    api(P, "/triggers/set-disabled/by-query", "Enable or disable the triggers a search finds."),
    api(&["PUT", "POST"], "/triggers/backfill/create", "Create a backfill (Kestra 2.0)."),
    api(&["PUT", "POST"], "/triggers/backfill/{action}", "`pause`, `unpause` or `delete` a trigger's backfill."),
    api(&["GET", "POST"], "/backfills", "Baton's backfills: list them; start one."),
    api(G, "/backfills/{id}", "A backfill's progress."),
    api(P, "/backfills/{id}/{action}", "`pause`, `resume` or `cancel` a backfill."),
    // flow unit tests
    api(P, "/tests", "Create a flow unit test suite (`application/x-yaml`), checked against its flow."),
    api(G, "/tests/search", "Search test suites, paged (`namespace`, `includeChildNamespaces`, `flowId`, `sort`)."),
    api(P, "/tests/validate", "Validate a test suite's YAML against its flow without saving it."),
    api(
        P,
        "/tests/results/search/last",
        "The last result of each case of some suites (`{\"testSuiteIds\": [{namespace, id}]}`).",
    ),
    api(
        G,
        "/tests/results/search",
        "Every kept run of the test suites, newest first, paged (`testSuiteId`, `namespace`, `flowId`); each suite keeps its last `MAX_RESULTS_PER_TEST` (20) runs.",
    ),
    api(G, "/tests/results/{id}", "One kept test run (`TestSuiteRunResult`), by its id."),
    api(
        P,
        "/tests/run",
        "Run every test suite of a namespace or a flow (`{namespace, flowId, includeChildNamespaces}`), at most `MAX_SUITES_PER_RUN` (100): counts and each suite's result.",
    ),
    api(
        D,
        "/tests/by-ids",
        "Delete the test suites `{\"ids\": [{namespace, id}]}` names (at most `MAX_BULK_IDS`, 1,000), their kept runs with them: `{count}`.",
    ),
    api(
        P,
        "/tests/enable/by-ids",
        "Enable the test suites `{\"ids\": [{namespace, id}]}` names (removes their `disabled: true`): `{count}` changed.",
    ),
    api(
        P,
        "/tests/disable/by-ids",
        "Disable the test suites `{\"ids\": [{namespace, id}]}` names (`disabled: true`: their cases are reported SKIPPED): `{count}` changed.",
    ),
    api(
        &["GET", "PUT", "DELETE"],
        "/tests/{namespace}/{id}",
        "Get, update (`application/x-yaml`) or delete a test suite.",
    ),
    api(
        P,
        "/tests/{namespace}/{id}/run",
        "Run a suite's cases (`{\"testCases\": […]}`: some of them) on an isolated home; its result.",
    ),
    // plugins and blueprints
    api(G, "/plugins", "The plugin catalogue."),
    api(G, "/plugins/{type}", "One type's properties, outputs and example."),
    api(G, "/plugins/schemas/{kind}", "The JSON Schema of a `flow`, a `task` or a `trigger`."),
    api(
        G,
        "/plugins/schemas/test",
        "The JSON Schema of a flow unit test file (Baton's; Kestra has no such route): every key and assertion operator `baton test` reads.",
    ),
    api(G, "/blueprints/community/{kind}", "The blueprints embedded in the binary, paged."),
    api(G, "/blueprints/community/{kind}/tags", "Their tags."),
    api(G, "/blueprints/community/{kind}/{id}", "A blueprint."),
    api(G, "/blueprints/community/{kind}/{id}/source", "A blueprint's YAML."),
    api(G, "/blueprints/community/{kind}/{id}/graph", "A blueprint's graph."),
];

#[cfg(test)]
#[path = "route_table_tests.rs"]
mod tests;
