//! Docs of the core runnable tasks (`io.kestra.plugin.core.*`).

use crate::plugins::PropKind;
use crate::schema::{OutDoc, PropDoc, TypeDoc};

const NS: PropDoc = PropDoc::new("namespace", "The namespace; the flow's own when absent.");
const ERROR_ON_MISSING: PropDoc = PropDoc::new("errorOnMissing", "Fail when there is nothing to read or delete.");
const LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"];
const STATE_NAME: PropDoc =
    PropDoc::new("name", "The state's name; several states may live side by side.").default("\"default\"");
const STATE_NS: PropDoc =
    PropDoc::new("namespace", "Share the state across the namespace rather than the flow.").default("false");
const STATE_TASKRUN: PropDoc =
    PropDoc::new("taskrunValue", "Keep one state per loop value (inside a ForEach).").default("true");
const HTTP_TIMEOUT: PropDoc = PropDoc::new("timeout", "Give up the request after this long.");
const HTTP_OPTIONS: PropDoc =
    PropDoc::new("options", "Client options: connectTimeout, readIdleTimeout, followRedirects, basicAuthUser…");
const HTTP_METHOD: PropDoc = PropDoc::new("method", "The HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS…).");

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new(
        "io.kestra.plugin.core.log.Log",
        "Write a message to the execution's logs.",
        "Renders the message (or each message of a list) and logs it at the given level. It has no outputs.",
    )
    .example("id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: \"Running {{ flow.id }} as {{ execution.id }}\"\nlevel: INFO\n")
    .props(&[
        PropDoc::new("message", "The message, or a list of messages, to log."),
        PropDoc::new("level", "The log level.").values(LEVELS).default("\"INFO\""),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.execution.Labels",
        "Add or change labels of the running execution.",
        "Sets labels on the current execution, from a mapping or a list of {key, value}. System labels cannot be changed.",
    )
    .example("id: tag\ntype: io.kestra.plugin.core.execution.Labels\nlabels:\n  team: data\n  source: \"{{ flow.id }}\"\n")
    .props(&[PropDoc::new("labels", "The labels: a mapping of key to value, or a list of {key, value}.")]),
    TypeDoc::new(
        "io.kestra.plugin.core.debug.Return",
        "Render a template and keep it as an output.",
        "Renders `format` and exposes the text as the output `value`, for later tasks to read.",
    )
    .example("id: greeting\ntype: io.kestra.plugin.core.debug.Return\nformat: \"Hello from {{ flow.namespace }}\"\n")
    .outputs(&[OutDoc::new("value", PropKind::String, "The rendered text.")])
    .props(&[PropDoc::new("format", "The template to render.")]),
    TypeDoc::new(
        "io.kestra.plugin.core.debug.Echo",
        "Log a rendered template (deprecated: use Log).",
        "Kestra's older Echo: renders `format` and logs it at `level`.",
    )
    .example("id: echo\ntype: io.kestra.plugin.core.debug.Echo\nformat: \"tick {{ execution.id }}\"\n")
    .props(&[PropDoc::new("format", "The template to log."), PropDoc::new("level", "The log level.").values(LEVELS)]),
    TypeDoc::new(
        "io.kestra.plugin.core.output.OutputValues",
        "Publish values as the task's outputs.",
        "Renders each value of `values` and exposes them as `outputs.<id>.values.<key>`.",
    )
    .example("id: result\ntype: io.kestra.plugin.core.output.OutputValues\nvalues:\n  rows: 42\n  status: \"done\"\n")
    .outputs(&[OutDoc::new("values", PropKind::Map, "The rendered values, by key.")])
    .props(&[PropDoc::new("values", "The values to publish, by key.")]),
    TypeDoc::new(
        "io.kestra.plugin.core.execution.Fail",
        "Fail the execution on purpose.",
        "Ends the task FAILED with `errorMessage`, always or when `condition` renders true.",
    )
    .example("id: stop\ntype: io.kestra.plugin.core.execution.Fail\ncondition: \"{{ execution.state == 'RUNNING' }}\"\nerrorMessage: \"stopped on purpose\"\n")
    .props(&[
        PropDoc::new("condition", "Fail only when this renders true."),
        PropDoc::new("errorMessage", "The error logged and shown.").default("\"Task failure\""),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.execution.SetVariables",
        "Set variables of the running execution.",
        "Deep-merges the rendered `variables` into the execution's variables (an execution starts with its flow's `variables`); the tasks after it read them as `{{ vars.<name> }}`. With `overwrite: false` it fails naming the variables that already exist.",
    )
    .example("id: set_vars\ntype: io.kestra.plugin.core.execution.SetVariables\nvariables:\n  message: Hello\n  name: \"{{ inputs.name }}\"\n")
    .props(&[
        PropDoc::new("variables", "The variables to set, by name (maps are merged key by key)."),
        PropDoc::new("overwrite", "Replace variables that already exist.").default("true"),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.execution.UnsetVariables",
        "Remove variables of the running execution.",
        "Removes each named variable (`a.b` removes `b` from map `a`) from the execution's variables; a name that is not set changes nothing.",
    )
    .example("id: unset\ntype: io.kestra.plugin.core.execution.UnsetVariables\nvariables:\n  - message\n  - name\n")
    .props(&[
        PropDoc::new("variables", "The names to remove."),
        PropDoc::new("ignoreMissing", "Do not fail when the parent map of a dotted name is missing.").default("false"),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.execution.Assert",
        "Check conditions on the execution's data.",
        "Renders each condition (a falsy one — false, 0, -0, empty — or one that cannot be rendered is a failed assertion, logged at ERROR), records the `success` and `failed` counters, and fails with the count and `errorMessage` when any failed.",
    )
    .example("id: check\ntype: io.kestra.plugin.core.execution.Assert\nconditions:\n  - \"{{ inputs.param == 'ok' }}\"\n  - \"{{ outputs.count.value > 0 }}\"\nerrorMessage: \"the extract is empty\"\n")
    .props(&[
        PropDoc::new("conditions", "The conditions, each rendered by the task itself.").fixed(),
        PropDoc::new("errorMessage", "Added on a line of its own to the error."),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.metric.Publish",
        "Record metrics of your own.",
        "Records each of `metrics` — `{type: counter, name, value: number, tags}` or `{type: timer, name, value: ISO-8601 duration, tags}` — in the task run's metrics (gauges are refused: the store keeps counters and timers).",
    )
    .example("id: metric\ntype: io.kestra.plugin.core.metric.Publish\nmetrics:\n  - type: timer\n    name: duration\n    value: PT10M\n    tags:\n      flow: \"{{ flow.id }}\"\n  - type: counter\n    name: number\n    value: 42\n")
    .props(&[PropDoc::new("metrics", "The metrics: type (counter, timer), name, value, tags, description.")]),
    TypeDoc::new(
        "io.kestra.plugin.core.templating.TemplatedTask",
        "Run a task whose whole definition is a template.",
        "Renders `spec`, reads it as the YAML of a runnable task (`type` and properties) and runs it in this task's place; its outputs are this task's.",
    )
    .example("id: dynamic\ntype: io.kestra.plugin.core.templating.TemplatedTask\nspec: |\n  type: io.kestra.plugin.core.http.Download\n  {{ inputs.property }}: {{ inputs.value }}\n")
    .props(&[PropDoc::new("spec", "The task's YAML, rendered first.")]),
    TypeDoc::new(
        "io.kestra.plugin.core.flow.Sleep",
        "Wait for a while.",
        "Waits for `duration` without holding the execution's other branches.",
    )
    .example("id: wait\ntype: io.kestra.plugin.core.flow.Sleep\nduration: PT5S\n")
    .props(&[PropDoc::new("duration", "How long to wait (ISO-8601, e.g. PT30S).")]),
    TypeDoc::new(
        "io.kestra.plugin.core.kv.Set",
        "Store a value in the KV store.",
        "Writes `value` under `key` in a namespace's KV store, typed by `kvType` (or as written), with an optional time to live.",
    )
    .example("id: remember\ntype: io.kestra.plugin.core.kv.Set\nkey: last_run\nvalue: \"{{ execution.startDate }}\"\nkvType: STRING\n")
    .props(&[
        PropDoc::new("key", "The key."),
        PropDoc::new("value", "The value to store."),
        NS,
        PropDoc::new("overwrite", "Replace an existing value (false: fail when the key exists).").default("true"),
        PropDoc::new("ttl", "Expire the value after this ISO-8601 duration."),
        PropDoc::new("kvType", "The value's type.")
            .values(&["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"]),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.kv.Put",
        "Update a value of the KV store.",
        "Updates `key` (created when absent unless `errorOnMissing`), keeping its expiry: a map is deep-merged into a stored JSON map, a list of `{key, value}` entries patches JSON fields (dotted paths), `[{value}]` replaces the value, anything else replaces it.",
    )
    .example("id: update_my_json\ntype: io.kestra.plugin.core.kv.Put\nkey: my-json-key\nvalue:\n  - key: json-key-1\n    value: my new value\n  - key: nested.field\n    value: 123\n")
    .props(&[
        PropDoc::new("key", "The key."),
        PropDoc::new("value", "The new value, a map to merge, or {key, value} entries."),
        NS,
        PropDoc::new("errorOnMissing", "Fail when the key does not exist.").default("false"),
    ]),
    TypeDoc::new("io.kestra.plugin.core.kv.GetKeys", "List the keys of the KV store.", "Lists the keys of a namespace's KV store, optionally only those starting with `prefix`.")
        .example("id: keys\ntype: io.kestra.plugin.core.kv.GetKeys\nprefix: daily_\n")
        .outputs(&[OutDoc::new("keys", PropKind::List, "The keys found.")])
        .props(&[PropDoc::new("prefix", "Only keys starting with this."), NS]),
    TypeDoc::new(
        "io.kestra.plugin.core.kv.Get",
        "Read a value from the KV store.",
        "Reads `key` from a namespace's KV store (or a parent namespace's) and exposes it as `value`.",
    )
    .example("id: read\ntype: io.kestra.plugin.core.kv.Get\nkey: last_run\nerrorOnMissing: false\n")
    .outputs(&[OutDoc::new("value", PropKind::Any, "The stored value (absent when missing).")])
    .props(&[PropDoc::new("key", "The key."), NS, ERROR_ON_MISSING.default("false")]),
    TypeDoc::new(
        "io.kestra.plugin.core.kv.Delete",
        "Delete a key from the KV store.",
        "Removes `key` from a namespace's KV store; `deleted` says whether it existed.",
    )
    .example("id: forget\ntype: io.kestra.plugin.core.kv.Delete\nkey: last_run\n")
    .outputs(&[OutDoc::new("deleted", PropKind::Boolean, "Whether the key existed.")])
    .props(&[PropDoc::new("key", "The key."), NS, ERROR_ON_MISSING.default("false")]),
    TypeDoc::new(
        "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
        "Delete the files this execution stored.",
        "Removes every file in internal storage that belongs to the current execution (outputs, uploads).",
    )
    .example("id: cleanup\ntype: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles\n")
    .outputs(&[OutDoc::new("uris", PropKind::List, "The files deleted.")]),
    TypeDoc::new(
        "io.kestra.plugin.core.http.Download",
        "Download a file over HTTP into internal storage.",
        "Fetches `uri` and stores the body as a file of the execution; the status code, headers and length come along.",
    )
    .example("id: fetch\ntype: io.kestra.plugin.core.http.Download\nuri: https://example.com/data.csv\n")
    .outputs(&[
        OutDoc::new("uri", PropKind::String, "The downloaded file in internal storage."),
        OutDoc::new("code", PropKind::Integer, "The HTTP status code."),
        OutDoc::new("headers", PropKind::Map, "The response headers."),
        OutDoc::new("length", PropKind::Integer, "The number of bytes."),
    ])
    .props(&[
        PropDoc::new("uri", "The URL to download."),
        HTTP_METHOD.default("\"GET\""),
        PropDoc::new("headers", "Request headers."),
        PropDoc::new("body", "The request body."),
        PropDoc::new("contentType", "The request's Content-Type."),
        PropDoc::new("failOnEmptyResponse", "Fail when the body is empty.").default("true"),
        HTTP_TIMEOUT,
        HTTP_OPTIONS,
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.http.Request",
        "Send an HTTP request.",
        "Sends a request and exposes the status code, headers and body; a status of 400 or more fails the task unless `allowFailed`.",
    )
    .example("id: ping\ntype: io.kestra.plugin.core.http.Request\nuri: https://example.com/api/health\nmethod: GET\n")
    .outputs(&[
        OutDoc::new("code", PropKind::Integer, "The HTTP status code."),
        OutDoc::new("headers", PropKind::Map, "The response headers."),
        OutDoc::new("body", PropKind::Any, "The response body."),
        OutDoc::new("uri", PropKind::String, "The URL requested."),
    ])
    .props(&[
        PropDoc::new("uri", "The URL."),
        HTTP_METHOD.default("\"GET\""),
        PropDoc::new("headers", "Request headers."),
        PropDoc::new("body", "The request body (a string, or a value sent as JSON)."),
        PropDoc::new("formData", "Fields sent as a form (urlencoded or multipart)."),
        PropDoc::new("contentType", "The request's Content-Type."),
        PropDoc::new("allowFailed", "Do not fail on a status of 400 or more.").default("false"),
        HTTP_TIMEOUT,
        HTTP_OPTIONS,
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.http.SseRequest",
        "Read the Server-Sent Events of an HTTP endpoint.",
        "Sends a request and reads the response's Server-Sent Events until the server closes the stream. Outputs the events (`data` parsed when it is JSON, with `id`, `name`, `comment`, `retry` when sent), or with `concatJqExpression` the concatenated text it extracts from each event. A status of 400 or more fails the task unless `options.allowFailed`. Bounded: 10,000 events, 10 MB of stream, 1 MB per event, one hour of reading, and `options.timeout.readIdleTimeout` (default 5 minutes) of silence; each fails the task naming it.",
    )
    .example("id: consume_events\ntype: io.kestra.plugin.core.http.SseRequest\nuri: https://example.com/events\nheaders:\n  Authorization: \"Bearer {{ secret('API_TOKEN') }}\"\nconcatJqExpression: .data.message\n")
    .outputs(&[
        OutDoc::new("uri", PropKind::String, "The URL requested."),
        OutDoc::new("size", PropKind::Integer, "The number of events received."),
        OutDoc::new("events", PropKind::List, "Every event received, when there is no `result`."),
        OutDoc::new("result", PropKind::String, "The values `concatJqExpression` extracted, concatenated."),
    ])
    .props(&[
        PropDoc::new("uri", "The URL of the event stream."),
        HTTP_METHOD.default("\"GET\""),
        PropDoc::new("headers", "Request headers (`Accept: text/event-stream` unless set)."),
        PropDoc::new("body", "The request body (a string, or a value sent as JSON)."),
        PropDoc::new("formData", "Fields sent as a form (urlencoded or multipart)."),
        PropDoc::new("contentType", "The request's Content-Type.").default("\"application/json\""),
        HTTP_OPTIONS,
        PropDoc::new("concatJqExpression", "A jq expression (Baton's subset: paths, `[]`, pipes, a few builtins) applied to each event `{data, id, name, …}`; its string, number or boolean values are concatenated into `result`."),
        PropDoc::new("failedOnMissingJq", "Fail when the expression fails on an event or gives no text value; false skips the event.").default("true"),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.execution.Resume",
        "Resume a paused execution.",
        "Resumes a paused execution (this one's parent by default, or `executionId`), with inputs for its Pause's onResume.",
    )
    .example("id: go_on\ntype: io.kestra.plugin.core.execution.Resume\nexecutionId: \"{{ trigger.executionId }}\"\n")
    .props(&[
        PropDoc::new("executionId", "The execution to resume."),
        PropDoc::new("namespace", "The paused execution's namespace."),
        PropDoc::new("flowId", "The paused execution's flow."),
        PropDoc::new("inputs", "Inputs for the Pause's onResume."),
    ]),
    TypeDoc::new(
        "io.kestra.plugin.core.state.Set",
        "Merge values into a stored state.",
        "Merges `data` into a named state kept per flow (or namespace), as Kestra's state store does.",
    )
    .example("id: save\ntype: io.kestra.plugin.core.state.Set\nname: cursor\ndata:\n  offset: 100\n")
    .outputs(&[OutDoc::new("count", PropKind::Integer, "The number of keys stored.")])
    .props(&[STATE_NAME, STATE_NS, STATE_TASKRUN, PropDoc::new("data", "The values to merge into the state.")]),
    TypeDoc::new("io.kestra.plugin.core.state.Get", "Read a stored state.", "Reads a named state and exposes it as `data`.")
        .example("id: load\ntype: io.kestra.plugin.core.state.Get\nname: cursor\nerrorOnMissing: false\n")
        .outputs(&[OutDoc::new("data", PropKind::Map, "The state's values.")])
        .props(&[STATE_NAME, STATE_NS, STATE_TASKRUN, ERROR_ON_MISSING.default("false")]),
    TypeDoc::new("io.kestra.plugin.core.state.Delete", "Delete a stored state.", "Removes a named state.")
        .example("id: reset\ntype: io.kestra.plugin.core.state.Delete\nname: cursor\n")
        .outputs(&[OutDoc::new("deleted", PropKind::Boolean, "Whether the state existed.")])
        .props(&[STATE_NAME, STATE_NS, STATE_TASKRUN, ERROR_ON_MISSING.default("false")]),
    TypeDoc::new(
        "io.kestra.plugin.core.storage.Write",
        "Write text to a file in internal storage.",
        "Renders `content` and stores it as a file of the execution.",
    )
    .example("id: report\ntype: io.kestra.plugin.core.storage.Write\ncontent: \"id,name\\n1,baton\\n\"\nextension: .csv\n")
    .outputs(&[OutDoc::new("uri", PropKind::String, "The file written.")])
    .props(&[
        PropDoc::new("content", "The text to write."),
        PropDoc::new("extension", "The file's extension.").default("\".ion\""),
    ]),
    TypeDoc::new("io.kestra.plugin.core.storage.Size", "The size of a stored file.", "Gives the size in bytes of a file in internal storage.")
        .example("id: size\ntype: io.kestra.plugin.core.storage.Size\nuri: \"{{ outputs.report.uri }}\"\n")
        .outputs(&[OutDoc::new("size", PropKind::Integer, "The size in bytes.")])
        .props(&[PropDoc::new("uri", "The file (kestra:// URI).")]),
    TypeDoc::new("io.kestra.plugin.core.storage.Delete", "Delete a stored file.", "Deletes one file from internal storage.")
        .example("id: rm\ntype: io.kestra.plugin.core.storage.Delete\nuri: \"{{ outputs.report.uri }}\"\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The file deleted."), OutDoc::new("deleted", PropKind::Boolean, "Whether it existed.")])
        .props(&[PropDoc::new("uri", "The file (kestra:// URI)."), ERROR_ON_MISSING.default("false")]),
    TypeDoc::new("io.kestra.plugin.core.storage.Reverse", "Reverse the lines of a stored file.", "Writes a new file of internal storage with the lines of `from` in reverse order.")
        .example("id: reversed\ntype: io.kestra.plugin.core.storage.Reverse\nfrom: \"{{ outputs.report.uri }}\"\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The reversed file.")])
        .props(&[
            PropDoc::new("from", "The file (kestra:// URI)."),
            PropDoc::new("separator", "The line separator.").default("\"\\n\""),
            PropDoc::new("charset", "The file's character set.").default("\"UTF-8\""),
        ]),
    TypeDoc::new("io.kestra.plugin.core.storage.PurgeStorage", "Purge execution files by last-modified date (Kestra 2.0).", "Deletes the execution files of internal storage modified between `startDate` and `endDate`, under a namespace and its sub-namespaces (or one flow); only counts them unless `dryRun: false`.")
        .example("id: purge\ntype: io.kestra.plugin.core.storage.PurgeStorage\nnamespace: company.team\nendDate: \"{{ now() | dateAdd(-7, 'DAYS') }}\"\ndryRun: false\n")
        .outputs(&[
            OutDoc::new("scannedCount", PropKind::Integer, "Execution folders looked at."),
            OutDoc::new("purgedCount", PropKind::Integer, "Executions with at least one file in the window."),
            OutDoc::new("deletedFilesCount", PropKind::Integer, "Files deleted (0 in a dry run)."),
        ])
        .props(&[
            PropDoc::new("namespace", "The namespace, with its sub-namespaces (every namespace when absent)."),
            PropDoc::new("flowId", "One flow of `namespace`."),
            PropDoc::new("startDate", "Only files modified at or after this ISO date-time."),
            PropDoc::new("endDate", "Only files modified at or before this ISO date-time."),
            PropDoc::new("dryRun", "Only count, delete nothing.").default("true"),
        ]),
    TypeDoc::new("io.kestra.plugin.core.storage.Concat", "Concatenate stored files.", "Joins files of internal storage into one, with an optional separator.")
        .example("id: all\ntype: io.kestra.plugin.core.storage.Concat\nfiles:\n  - \"{{ outputs.a.uri }}\"\n  - \"{{ outputs.b.uri }}\"\nseparator: \"\\n\"\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The joined file.")])
        .props(&[
            PropDoc::new("files", "The files: a list of URIs, or a JSON list as a string."),
            PropDoc::new("separator", "Text put between two files."),
            PropDoc::new("extension", "The joined file's extension.").default("\".tmp\""),
        ]),
    TypeDoc::new("io.kestra.plugin.core.log.Fetch", "Gather logs into a file.", "Writes the logs of an execution (this one by default) to a file, one JSON line each.")
        .example("id: logs\ntype: io.kestra.plugin.core.log.Fetch\nlevel: WARN\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The file of log lines."), OutDoc::new("size", PropKind::Integer, "The number of lines.")])
        .props(&[
            PropDoc::new("namespace", "The execution's namespace."),
            PropDoc::new("flowId", "The execution's flow."),
            PropDoc::new("executionId", "The execution; this one when absent."),
            PropDoc::new("tasksId", "Only the logs of these task ids."),
            PropDoc::new("level", "The lowest level kept.").values(LEVELS).default("\"INFO\""),
        ]),
    TypeDoc::new(
        "io.kestra.plugin.core.storage.LocalFiles",
        "Turn inline or stored files into execution files (legacy).",
        "Kestra's older LocalFiles: `inputs` maps file names to contents; `outputs` lists the names kept as outputs.",
    )
    .example("id: files\ntype: io.kestra.plugin.core.storage.LocalFiles\ninputs:\n  query.sql: SELECT 1\n")
    .outputs(&[OutDoc::new("uris", PropKind::Map, "The stored files, by name.")])
    .props(&[
        PropDoc::new("inputs", "File name → content (or a kestra:// URI)."),
        PropDoc::new("outputs", "File names (globs) to keep as outputs."),
    ]),
    TypeDoc::new("io.kestra.plugin.core.trigger.Toggle", "Enable or disable a trigger.", "Turns a trigger of a flow (this one by default) on or off.")
        .example("id: pause_schedule\ntype: io.kestra.plugin.core.trigger.Toggle\ntrigger: daily\nenabled: false\n")
        .props(&[
            PropDoc::new("namespace", "The flow's namespace; this flow's when absent."),
            PropDoc::new("flowId", "The flow; this flow when absent."),
            PropDoc::new("trigger", "The trigger's id."),
            PropDoc::new("enabled", "Whether to enable (true) or disable it.").default("false"),
        ]),
    TypeDoc::new("io.kestra.plugin.core.storage.Split", "Split a stored file into pieces.", "Cuts a file into pieces by rows, bytes or a number of partitions.")
        .example("id: pieces\ntype: io.kestra.plugin.core.storage.Split\nfrom: \"{{ outputs.report.uri }}\"\nrows: 1000\n")
        .outputs(&[OutDoc::new("uris", PropKind::List, "The pieces.")])
        .props(&[
            PropDoc::new("from", "The file to split."),
            PropDoc::new("bytes", "Bytes per piece (e.g. 10MB)."),
            PropDoc::new("partitions", "The number of pieces."),
            PropDoc::new("rows", "Rows per piece."),
            PropDoc::new("separator", "The row separator.").default("\"\\n\""),
            PropDoc::new("regexPattern", "Rows matching this regular expression start a new piece."),
        ]),
];
