//! Docs of the trigger types (their description is `TriggerDef::description`).

use crate::schema::{PropDoc, TypeDoc};

const WHEN: PropDoc =
    PropDoc::new("when", "Kestra 2.0: a template; the trigger fires only when it renders true.").dynamic();
const INPUTS: PropDoc = PropDoc::new("inputs", "Inputs of the executions it starts.").dynamic();
const AUTH: &[PropDoc] = &[
    PropDoc::new("projectId", "The Google Cloud project; the runtime's when absent."),
    PropDoc::new("serviceAccount", "A service account key (JSON); the runtime's credentials when absent."),
    PropDoc::new("impersonatedServiceAccount", "Act as this service account."),
    PropDoc::new("scopes", "OAuth scopes.").default("[\"https://www.googleapis.com/auth/cloud-platform\"]"),
];
const PUBSUB: &[PropDoc] = &[
    AUTH[0],
    AUTH[1],
    AUTH[2],
    AUTH[3],
    PropDoc::new("topic", "The topic the subscription reads."),
    PropDoc::new("subscription", "The subscription to pull from (or push to, on Google Cloud)."),
    PropDoc::new("autoCreateSubscription", "Create the subscription when it does not exist.").default("true"),
    PropDoc::new("interval", "How often to poll (local runtime).").default("\"PT60S\""),
    PropDoc::new("maxRecords", "At most this many messages per execution."),
    PropDoc::new("maxDuration", "Gather messages for at most this long per execution."),
    PropDoc::new("serdeType", "How message data is decoded.").values(&["STRING", "JSON"]).default("\"STRING\""),
    WHEN,
];

const GCS: &[PropDoc] = &[
    AUTH[0],
    AUTH[1],
    AUTH[2],
    AUTH[3],
    PropDoc::new("from", "The gs:// folder to watch."),
    PropDoc::new("interval", "How often to list (local runtime).").default("\"PT60S\""),
    PropDoc::new("action", "What to do with a file once seen.").values(&["MOVE", "DELETE", "NONE"]),
    PropDoc::new("moveDirectory", "Where MOVE puts the files."),
    PropDoc::new("listingType", "List the folder only, or recursively.")
        .values(&["DIRECTORY", "RECURSIVE"])
        .default("\"DIRECTORY\""),
    PropDoc::new("regExp", "Only files whose path matches this regular expression."),
    PropDoc::new("on", "Fire on new files, changed ones, or both.").values(&["CREATE", "UPDATE", "CREATE_OR_UPDATE"]),
    PropDoc::new("stateKey", "The key under which seen files are remembered."),
    PropDoc::new("stateTtl", "Forget a seen file after this long."),
    PropDoc::new("maxFiles", "At most this many files per execution."),
    WHEN,
];

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new("io.kestra.plugin.core.trigger.Schedule", "Start executions on a cron schedule.", "")
        .example("id: daily\ntype: io.kestra.plugin.core.trigger.Schedule\ncron: \"0 9 * * *\"\ntimezone: Europe/Paris\n")
        .props(&[
            PropDoc::new("cron", "The cron expression (5 fields, 6 withSeconds; @daily, @hourly…)."),
            PropDoc::new("withSeconds", "The cron has a seconds field first.").default("false"),
            PropDoc::new("timezone", "The time zone the cron is read in.").default("\"UTC\""),
            INPUTS,
            PropDoc::new("recoverMissedSchedules", "What to do with ticks missed while down.")
                .values(&["LAST", "NONE", "ALL"])
                .default("\"ALL\""),
            PropDoc::new("lateMaximumDelay", "Skip a tick that could not start within this delay."),
            PropDoc::new("stopAfter", "Disable the trigger after an execution ends in one of these states."),
            WHEN,
        ]),
    TypeDoc::new("io.kestra.plugin.core.trigger.ScheduleOnDates", "Start executions at a list of dates.", "")
        .example("id: holidays\ntype: io.kestra.plugin.core.trigger.ScheduleOnDates\ntimezone: Europe/Paris\ndates:\n  - 2026-12-24T18:00:00+01:00\n  - 2026-12-31T23:00:00+01:00\n")
        .props(&[
            PropDoc::new("dates", "The dates, ISO-8601 with an offset (a `[Zone/Id]` suffix is accepted); written out, not a template."),
            PropDoc::new("timezone", "The zone `trigger.date` is shown in (else each date's own offset).").default("\"UTC\""),
            INPUTS,
            PropDoc::new("recoverMissedSchedules", "What to do with dates missed while down.")
                .values(&["LAST", "NONE", "ALL"])
                .default("\"ALL\""),
            PropDoc::new("stopAfter", "Disable the trigger after an execution ends in one of these states."),
            WHEN,
        ]),
    TypeDoc::new("io.kestra.plugin.core.http.Trigger", "Start an execution when an HTTP response meets a condition.", "")
        .example("id: http\ntype: io.kestra.plugin.core.http.Trigger\nuri: https://example.com/products/1\nresponseCondition: \"{{ json(response.body).price <= 110 }}\"\ninterval: PT30S\nstopAfter:\n  - SUCCESS\n")
        .props(&[
            PropDoc::new("uri", "The URL requested at each evaluation."),
            PropDoc::new("interval", "How often it is polled (whole minutes on Google Cloud).").default("\"PT60S\""),
            PropDoc::new("responseCondition", "Starts an execution when truthy; sees response.statusCode, response.body, response.headers.")
                .default("\"{{ response.statusCode < 400 }}\""),
            PropDoc::new("method", "The HTTP method.").default("\"GET\""),
            PropDoc::new("headers", "Request headers, by name."),
            PropDoc::new("body", "The request body."),
            PropDoc::new("formData", "Form fields, sent URL-encoded (multipart with that contentType)."),
            PropDoc::new("contentType", "The request's content type."),
            PropDoc::new("options", "HTTP options (timeouts, auth, …) as core.http.Request's."),
            PropDoc::new("encryptBody", "Only false: Baton has no encryption key.").default("false"),
            PropDoc::new("stopAfter", "Stop polling after an execution ends in one of these states."),
            WHEN,
        ]),
    TypeDoc::new("io.kestra.plugin.core.trigger.Flow", "Start an execution when other flows' executions end.", "")
        .example("id: after_upstream\ntype: io.kestra.plugin.core.trigger.Flow\nstates: [SUCCESS]\npreconditions:\n  id: upstream\n  flows:\n    - namespace: company.team\n      flowId: extract\n      states: [SUCCESS]\n")
        .props(&[
            INPUTS,
            PropDoc::new("states", "The states of the upstream execution that fire it.").fixed(),
            PropDoc::new("preconditions", "Upstream flows (and a time window) that must all have ended as given.")
                .fixed(),
            PropDoc::new("dependsOn", "Kestra 2.0: the upstream flows this flow depends on.").fixed(),
            PropDoc::new("window", "Kestra 2.0: the time window of dependsOn.").fixed(),
            PropDoc::new("mode", "Kestra 2.0: how dependsOn combines.").fixed(),
            PropDoc::new("minSatisfied", "Kestra 2.0: how many of dependsOn must be met.").fixed(),
        ]),
    TypeDoc::new("io.kestra.plugin.core.trigger.Webhook", "Start an execution from an HTTP request.", "")
        .example("id: hook\ntype: io.kestra.plugin.core.trigger.Webhook\nkey: 4wjtkzwVGBM9yKnjm3yv8r\n")
        .props(&[
            PropDoc::new("key", "The secret part of the webhook URL."),
            INPUTS,
            PropDoc::new("wait", "Answer the request only once the execution ended.").default("false"),
            PropDoc::new("returnOutputs", "With wait: answer with the execution's outputs.").default("false"),
            PropDoc::new("responseContentType", "The Content-Type of the answer."),
        ]),
    TypeDoc::new("io.kestra.plugin.gcp.gcs.Trigger", "Start an execution for new files in a GCS bucket.", "")
        .example("id: new_files\ntype: io.kestra.plugin.gcp.gcs.Trigger\nfrom: gs://my-bucket/incoming/\ninterval: PT5M\naction: MOVE\nmoveDirectory: gs://my-bucket/archive/\n")
        .props(GCS),
    TypeDoc::new("io.kestra.plugin.gcp.pubsub.Trigger", "Start an execution per batch of Pub/Sub messages.", "")
        .example("id: messages\ntype: io.kestra.plugin.gcp.pubsub.Trigger\ntopic: orders\nsubscription: baton-orders\nmaxRecords: 100\n")
        .props(PUBSUB),
    TypeDoc::new("io.kestra.plugin.gcp.pubsub.RealtimeTrigger", "Start an execution per Pub/Sub message.", "")
        .example("id: each_message\ntype: io.kestra.plugin.gcp.pubsub.RealtimeTrigger\ntopic: orders\nsubscription: baton-orders-rt\nserdeType: JSON\n")
        .props(PUBSUB),
];
