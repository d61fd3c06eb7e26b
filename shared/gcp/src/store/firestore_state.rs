//! [`StateStore`] on Firestore: the trait's calls over `FirestoreStore`'s
//! reads and commits (`firestore.rs` owns the layout, the kept copies and
//! the compare-and-swap).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::firestore::*;
use super::firestore_chunks::Chunking;
use super::fs_client::{CommitOutcome, create, int};
use baton_backend::seal::Sealer;
use baton_backend::{AttemptEnd, BackendError, Claim, ExecutionFilter, ExecutionSummary, LogEntry, Result, StateStore};
use baton_model::Execution;

#[async_trait]
impl StateStore for FirestoreStore {
    /// One commit: the head (which must not exist) and every task run.
    async fn create_execution(&self, execution: &Execution) -> Result<()> {
        let mut head = self.head_doc(execution, 1, 0)?;
        head.fields.insert(UNCHUNKED_FIELD.into(), int(execution.task_run_list.len() as i64));
        let mut writes = vec![create(head)];
        for (seq, tr) in execution.task_run_list.iter().enumerate() {
            writes.push(self.task_run_write(&execution.id, seq, tr, 1)?);
        }
        match self.fs.commit("create execution", writes).await? {
            CommitOutcome::Done(times) => {
                let count = execution.task_run_list.len() as u64;
                self.remember(&execution.id, 1, times.into_iter().next().flatten(), 0, Some(count));
                self.keep(execution, 1, Chunking::fresh(execution.task_run_list.len()));
                Ok(())
            }
            CommitOutcome::Precondition => {
                Err(BackendError::Invalid(format!("execution {} already exists", execution.id)))
            }
        }
    }
    async fn load_execution(&self, id: &str) -> Result<Option<Execution>> {
        self.load(id).await
    }
    /// Writes the task runs named in `changed_task_runs` (ids absent from
    /// the list are ignored) with the head, in one conditional commit.
    async fn save_execution(&self, execution: &Execution, changed_task_runs: &[String]) -> Result<u64> {
        self.save(execution, changed_task_runs).await
    }
    async fn save_execution_at(&self, execution: &Execution, changed: &[usize]) -> Result<u64> {
        self.save_at(execution, changed).await
    }
    /// One commit: the head, the changed task runs, the ended attempts'
    /// metrics and claims.
    async fn save_execution_ending(
        &self,
        execution: &Execution,
        changed: &[usize],
        ended: &[AttemptEnd],
    ) -> Result<u64> {
        self.save_ending(execution, changed, ended).await
    }
    async fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<ExecutionSummary>> {
        self.list(filter).await
    }
    async fn delete_execution(&self, id: &str, logs: bool) -> Result<bool> {
        self.delete_execution_impl(id, logs).await
    }
    async fn append_logs(&self, logs: &[LogEntry]) -> Result<()> {
        self.append_logs_impl(logs).await
    }
    async fn logs(&self, execution_id: &str) -> Result<Vec<LogEntry>> {
        self.logs_impl(execution_id).await
    }
    async fn logs_at_level(
        &self,
        execution_id: &str,
        level: &str,
        max_lines: usize,
        max_bytes: u64,
    ) -> Result<Vec<LogEntry>> {
        self.logs_at_level_impl(execution_id, level, max_lines, max_bytes).await
    }
    async fn purge_logs(&self, query: &baton_backend::purge::LogPurge) -> Result<baton_backend::purge::Purged> {
        self.purge_logs_impl(query).await
    }
    async fn ended_executions(&self, query: &baton_backend::purge::EndedExecutions) -> Result<Vec<ExecutionSummary>> {
        self.ended_executions_impl(query).await
    }
    async fn claim(&self, task_run_id: &str, attempt: u32, worker_id: &str, until: DateTime<Utc>) -> Result<Claim> {
        self.claim_impl(task_run_id, attempt, worker_id, until).await
    }
    /// Fails with [`BackendError::NotFound`] when `worker_id` no longer holds
    /// a live claim (taken over after expiry, or finished).
    async fn heartbeat(&self, task_run_id: &str, attempt: u32, worker_id: &str, until: DateTime<Utc>) -> Result<()> {
        self.heartbeat_impl(task_run_id, attempt, worker_id, until).await
    }
    async fn finish_claim(&self, task_run_id: &str, attempt: u32) -> Result<()> {
        self.finish_claim_impl(task_run_id, attempt, None).await
    }
    async fn finish_claim_with(&self, task_run_id: &str, attempt: u32, result: &str) -> Result<()> {
        self.finish_claim_impl(task_run_id, attempt, Some(result)).await
    }
    async fn kept_result(&self, task_run_id: &str, attempt: u32) -> Result<Option<String>> {
        self.kept_result_impl(task_run_id, attempt).await
    }
    async fn load_record(&self, kind: &str, key: &str) -> Result<Option<(u64, serde_json::Value)>> {
        self.load_record_impl(kind, key).await
    }
    async fn save_record(&self, kind: &str, key: &str, expected: u64, value: &serde_json::Value) -> Result<u64> {
        self.save_record_impl(kind, key, expected, value).await
    }
    async fn save_flow(&self, namespace: &str, id: &str, source: &str) -> Result<u32> {
        self.save_flow_impl(namespace, id, source).await
    }
    async fn load_flow(&self, namespace: &str, id: &str, revision: Option<u32>) -> Result<Option<(u32, String)>> {
        self.load_flow_impl(namespace, id, revision).await
    }
    async fn list_flow_revisions(
        &self,
        namespace: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<baton_backend::FlowRevision>> {
        self.list_flow_revisions_impl(namespace, id, limit).await
    }
    async fn delete_flow_revisions(&self, namespace: &str, id: &str, revisions: &[u32]) -> Result<usize> {
        self.delete_flow_revisions_impl(namespace, id, revisions).await
    }
    fn metrics(&self) -> &dyn baton_backend::metrics::MetricStore {
        self
    }
    fn sealer(&self) -> Option<Arc<Sealer>> {
        Some(self.sealer.clone())
    }
    fn partial(&self) -> Option<&dyn baton_backend::partial::PartialStore> {
        Some(self)
    }
}
