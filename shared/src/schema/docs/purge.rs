//! Docs of the purges of stored history: `log.PurgeLogs`,
//! `execution.PurgeExecutions`, `metric.PurgeMetrics`.

use crate::plugins::PropKind;
use crate::schema::{OutDoc, PropDoc, TypeDoc};

const LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];
const START: PropDoc = PropDoc::new("startDate", "Only what is dated at or after this ISO date-time (with a zone).");
const FLOW: PropDoc = PropDoc::new("flowId", "One flow of `namespace` (which it needs).");

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new("io.kestra.plugin.core.log.PurgeLogs", "Purge stored log lines.", "Deletes log lines in bulk by namespace (exact), flow, execution, level and a window on their timestamp; lines tied to no execution (trigger lines) too. At most 1,000,000 lines a run.")
        .example("id: purge_logs\ntype: io.kestra.plugin.core.log.PurgeLogs\nendDate: \"{{ now() | dateAdd(-1, 'MONTHS') }}\"\nlogLevels:\n  - TRACE\n  - DEBUG\n  - INFO\n")
        .outputs(&[
            OutDoc::new("count", PropKind::Integer, "Lines deleted."),
            OutDoc::new("executionLogsCount", PropKind::Integer, "Lines of executions deleted."),
            OutDoc::new("nonExecutionLogsCount", PropKind::Integer, "Lines tied to no execution deleted."),
        ])
        .props(&[
            PropDoc::new("namespace", "Only the lines of this namespace (not its children); every namespace when absent."),
            FLOW,
            PropDoc::new("executionId", "Only the lines of this execution."),
            PropDoc::new("logLevels", "Only lines of these levels; every level when absent.").values(LEVELS),
            START,
            PropDoc::new("endDate", "Only lines dated at or before this ISO date-time (with a zone)."),
            PropDoc::new("purgeExecutionLogs", "Delete lines tied to an execution.").default("true"),
            PropDoc::new("purgeNonExecutionLogs", "Delete lines tied to no execution (trigger lines).").default("true"),
            PropDoc::new("batchSize", "Accepted for Kestra's MySQL batching; Baton always deletes page by page."),
        ]),
    TypeDoc::new("io.kestra.plugin.core.execution.PurgeExecutions", "Purge ended executions and what they left.", "Deletes ended executions (never the one running the task) of a namespace and its children, or of one flow, that started after `startDate` and ended before `endDate`, with their logs, metrics and internal-storage files, each on its flag. At most 100,000 executions a run.")
        .example("id: purge_executions\ntype: io.kestra.plugin.core.execution.PurgeExecutions\nendDate: \"{{ now() | dateAdd(-1, 'MONTHS') }}\"\nstates:\n  - SUCCESS\n  - WARNING\n  - FAILED\n  - KILLED\n")
        .outputs(&[
            OutDoc::new("executionsCount", PropKind::Integer, "Executions deleted."),
            OutDoc::new("logsCount", PropKind::Integer, "Log lines deleted."),
            OutDoc::new("storagesCount", PropKind::Integer, "Internal-storage files deleted."),
            OutDoc::new("metricsCount", PropKind::Integer, "Metrics deleted."),
        ])
        .props(&[
            PropDoc::new("namespace", "Only executions of this namespace and its children (exact with `flowId`); every namespace when absent."),
            FLOW,
            PropDoc::new("startDate", "Only executions started at or after this ISO date-time (with a zone)."),
            PropDoc::new("endDate", "Only executions ended at or before this ISO date-time (with a zone)."),
            PropDoc::new("states", "Only executions in these states; any ended state when absent."),
            PropDoc::new("purgeExecution", "Delete the execution records.").default("true"),
            PropDoc::new("purgeLog", "Delete their log lines.").default("true"),
            PropDoc::new("purgeMetric", "Delete their metrics.").default("true"),
            PropDoc::new("purgeStorage", "Delete their internal-storage files.").default("true"),
            PropDoc::new("batchSize", "Executions read per page (1 to 1000).").default("100"),
        ]),
    TypeDoc::new("io.kestra.plugin.core.metric.PurgeMetrics", "Purge stored task metrics.", "Deletes metrics in bulk by namespace (exact), flow and a window on when they were recorded. At most 1,000,000 a run.")
        .example("id: purge_metrics\ntype: io.kestra.plugin.core.metric.PurgeMetrics\nnamespace: company.team\nendDate: \"{{ now() | dateAdd(-1, 'MONTHS') }}\"\n")
        .outputs(&[OutDoc::new("count", PropKind::Integer, "Metrics deleted.")])
        .props(&[
            PropDoc::new("namespace", "Only the metrics of this namespace (not its children); every namespace when absent."),
            FLOW,
            START,
            PropDoc::new("endDate", "Only metrics recorded at or before this ISO date-time (with a zone)."),
        ]),
];
