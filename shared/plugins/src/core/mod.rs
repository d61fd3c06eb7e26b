//! Kestra's core runnable tasks (`io.kestra.plugin.core.*`): log, labels,
//! return, echo, output values, fail, sleep, KV, state store, purge
//! (the current execution's files, or by date: 2.0's PurgeStorage; stored
//! executions, logs and metrics: PurgeExecutions, PurgeLogs, PurgeMetrics),
//! storage files (write, size, delete, concat, local files), log fetch,
//! HTTP download/request, resume, reverse, KV keys and purge, item files
//! (deduplicate, filter), a WorkingDirectory's own files around its
//! children, and namespace files (upload, download, delete).

pub mod assert;
pub mod count;
pub mod debug;
pub mod download;
pub mod fail;
pub mod fetch;
pub mod files;
pub mod for_each_item;
pub mod http;
pub mod ion_file;
pub mod ion_text;
pub mod items;
pub mod kv;
pub mod kv_put;
pub mod labels;
pub mod local_files;
pub mod log;
pub mod namespace;
pub mod output;
pub mod publish;
pub mod purge_executions;
pub mod purge_flows;
pub mod purge_kv;
pub mod purge_logs;
pub mod purge_metrics;
pub mod purge_scope;
pub mod purge_storage;
pub mod request;
pub mod resume;
pub mod reverse;
pub mod sleep;
pub mod split;
pub mod sse;
pub mod sse_stream;
pub mod state;
pub mod storage;
pub mod templated;
pub mod toggle;
pub mod variables;
pub mod working_dir;

#[cfg(test)]
pub(crate) mod test_support;

use super::Registry;

/// Registers the core plugins.
pub fn register(r: &mut Registry) {
    for def in [
        *log::DEF,
        *labels::DEF,
        *variables::SET,
        *variables::UNSET,
        *debug::DEF,
        *debug::ECHO,
        *output::DEF,
        *fail::DEF,
        *assert::DEF,
        *publish::DEF,
        *templated::DEF,
        *sleep::DEF,
        *kv::SET,
        *kv::GET,
        *kv::DELETE,
        *kv_put::DEF,
        *purge_kv::DEF,
        *purge_flows::DEF,
        *items::DEDUPLICATE,
        *items::FILTER,
        *reverse::GET_KEYS,
        *reverse::REVERSE,
        *storage::DEF,
        *purge_storage::DEF,
        *purge_logs::DEF,
        *purge_executions::DEF,
        *count::DEF,
        *purge_metrics::DEF,
        *download::DEF,
        *request::DEF,
        *sse::DEF,
        *resume::DEF,
        *state::SET,
        *state::GET,
        *state::DELETE,
        *files::WRITE,
        *files::SIZE,
        *files::DELETE,
        *files::CONCAT,
        *fetch::DEF,
        *local_files::DEF,
        *toggle::DEF,
        *split::SPLIT,
        *for_each_item::SPLIT,
        *for_each_item::MERGE,
        *namespace::upload::DEF,
        *namespace::download::DEF,
        *namespace::delete::DEF,
        *namespace::purge::DEF,
    ] {
        r.register(def);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_everything_with_legacy_names() {
        let r = Registry::builtin();
        for t in [
            "io.kestra.plugin.core.log.Log",
            "io.kestra.core.tasks.debugs.Echo",
            "io.kestra.plugin.core.debug.Echo",
            "io.kestra.plugin.core.execution.Labels",
            "io.kestra.plugin.core.debug.Return",
            "io.kestra.plugin.core.output.OutputValues",
            "io.kestra.plugin.core.execution.Fail",
            "io.kestra.plugin.core.flow.Sleep",
            "io.kestra.plugin.core.kv.Set",
            "io.kestra.plugin.core.kv.Get",
            "io.kestra.plugin.core.kv.Delete",
            "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
            "io.kestra.core.tasks.storages.PurgeExecution",
            "io.kestra.plugin.core.http.Download",
            "io.kestra.plugin.fs.http.Download",
            "io.kestra.plugin.core.http.Request",
        ] {
            let def = r.get(t).unwrap_or_else(|| panic!("{t} not registered"));
            assert_eq!(def.group, "core");
        }
    }
}
