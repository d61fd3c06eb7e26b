//! [`PartialStore`] on Firestore: the head with the executor's state (its
//! `step` field, written by the executor's saves only), task runs by
//! document name — a task run's id derives from its slot (task, parent,
//! value: `executor::task_run_id`), so a slot is a name and one BatchGet
//! answers many, present or not — and by `taskId` or `state` queries.
//!
//! Ids derive from slots alone where ids are random (Firestore's choice,
//! `model::ids`); a process making time-ordered ids (one that also opened
//! a local store) cannot name a slot's document, and answers as for too
//! many task runs: the executor loads the whole execution.

use async_trait::async_trait;

use super::firestore::{FirestoreStore, STEP_FIELD, TASK_RUNS, execution_path, task_run_path};
use super::firestore_chunks::{CHUNK_RUNS, Chunking, MAX_CHUNKED, Part, chunk_now};
use super::fs_client::{any_of, eq, field, get_int, get_int_opt, get_json, gt, int, select, string};
use baton_backend::partial::{PartialStore, StoredHead, decode_state, encode_state};
use baton_backend::{AttemptClaim, AttemptEnd, BackendError, Result};
use baton_executor::partial::{Need, StepState, is_placeholder};
use baton_model::{Execution, TaskRun};
use firestore::gcloud_sdk::google::firestore::v1::value::ValueType;

impl FirestoreStore {
    /// The chunks a save of `e`, loaded in part (its other task runs
    /// placeholders), writes at `version`: none until the head counts
    /// [`CHUNK_RUNS`] task-run writes since the last chunking; then the
    /// task runs written since (`version > chunkedTo`, one query: a read
    /// per write, amortized) fill in the positions not loaded and they are
    /// chunked as a whole save chunks them (`firestore_chunks::chunk_now`). A
    /// position still not at hand, or more than [`MAX_CHUNKED`] written,
    /// chunks nothing: a placeholder is never chunked.
    pub(super) async fn plan_sparse(
        &self,
        e: &Execution,
        version: u64,
        chunked_to: u64,
        changed: &[usize],
        room: impl FnOnce() -> usize,
    ) -> Result<(Vec<Part>, Chunking)> {
        let unknown = || Ok((Vec::new(), Chunking { chunked_to, unchunked: None }));
        let writes = self.unchunked_at(&e.id, e.version).unwrap_or(0) + changed.len() as u64;
        if writes < CHUNK_RUNS as u64 {
            return unknown();
        }
        let what = "read task runs to chunk";
        let since = gt("version", int(i64::try_from(chunked_to).unwrap_or(i64::MAX)));
        let query = select(TASK_RUNS, Some(since), vec![], Some(MAX_CHUNKED + 1));
        let docs = self.fs.query(what, &execution_path(&e.id), query, &[]).await?;
        if docs.len() > MAX_CHUNKED {
            return unknown();
        }
        let mut full = e.clone();
        let n = full.task_run_list.len();
        let mut pending = Vec::with_capacity(docs.len());
        for d in &docs {
            let Ok(seq) = usize::try_from(get_int(d, "seq", what)?) else { return unknown() };
            if seq >= n {
                // written after the head this save replaces: its commit fails
                return unknown();
            }
            if is_placeholder(&full.task_run_list[seq]) {
                full.task_run_list[seq] = get_json(d, "body", what)?;
            }
            pending.push(seq as u32);
        }
        let at_hand = |s: usize| full.task_run_list.get(s).is_some_and(|t| !is_placeholder(t));
        if !pending.iter().all(|&s| at_hand(s as usize)) || !changed.iter().all(|&s| s >= n || at_hand(s)) {
            return unknown();
        }
        // its counter says it is time: chunked whatever their number
        pending.extend(changed.iter().filter(|&&s| s < n).map(|&s| s as u32));
        chunk_now(&full, version, chunked_to, &pending, room)
    }
}

#[async_trait]
impl PartialStore for FirestoreStore {
    /// A save writes the chunks of the whole list.
    fn copies_unchanged_runs(&self) -> bool {
        true
    }

    async fn load_head(&self, id: &str) -> Result<Option<StoredHead>> {
        let what = "load execution head";
        let Some(head) = self.fs.get(what, &execution_path(id)).await? else { return Ok(None) };
        let (exec, _) = self.read_head_doc(id, &head, what)?;
        let Some(count) = get_int_opt(&head, "taskRunCount").and_then(|c| usize::try_from(c).ok()) else {
            return Ok(Some(StoredHead { exec, count: 0, state: None }));
        };
        let state = match field(&head, STEP_FIELD) {
            Some(ValueType::BytesValue(b)) => decode_state(b),
            _ => None,
        };
        Ok(Some(StoredHead { exec, count, state }))
    }

    async fn load_runs(&self, id: &str, needs: &[Need], limit: usize) -> Result<Option<Vec<(usize, TaskRun)>>> {
        let what = "load task runs";
        let mut names = Vec::new();
        // the slot each slot's document must hold (ids are derived)
        let mut slots = std::collections::HashMap::new();
        let mut queries = Vec::new();
        for n in needs {
            match n {
                Need::Id(task_run) => names.push(self.fs.name(&task_run_path(id, task_run))),
                Need::Slot { task_id, parent, value } => {
                    if baton_model::ids::ids_ordered() {
                        // no name to read: the executor loads the whole execution
                        return Ok(None);
                    }
                    let task_run = baton_executor::task_run_id(id, 0, task_id, parent.as_deref(), value.as_deref());
                    let name = self.fs.name(&task_run_path(id, &task_run));
                    slots.insert(name.clone(), (task_id, parent, value));
                    names.push(name);
                }
                Need::Task(task_id) => queries.push(eq("taskId", string(task_id.clone()))),
                Need::States(states) => {
                    queries.push(any_of("state", states.iter().map(|s| string(s.as_str())).collect()))
                }
                Need::All => return Err(BackendError::Invalid("a partial load of every task run".into())),
            }
        }
        let mut docs = Vec::new();
        if !names.is_empty() {
            names.sort();
            names.dedup();
            let (found, _) = self.fs.get_many(what, &names, false).await?;
            docs.extend(found.into_values());
        }
        for q in queries {
            // one more than allowed tells it is too many
            let query = select(TASK_RUNS, Some(q), vec![], Some(limit.saturating_add(1).saturating_sub(docs.len())));
            docs.extend(self.fs.query(what, &execution_path(id), query, &[]).await?);
            if docs.len() > limit {
                return Ok(None);
            }
        }
        if docs.len() > limit {
            return Ok(None);
        }
        let mut runs = Vec::with_capacity(docs.len());
        for d in &docs {
            let bad = |message: String| BackendError::Database { what: format!("Firestore {what}"), message };
            let seq = usize::try_from(get_int(d, "seq", what)?)
                .map_err(|_| bad(format!("{}: a negative position", d.name)))?;
            let t: TaskRun = get_json(d, "body", what)?;
            if let Some((task_id, parent, value)) = slots.get(&d.name)
                && (t.task_id != **task_id || t.parent_task_run_id != **parent || t.value != **value)
            {
                return Err(bad(format!("{}: read for task '{task_id}' {value:?}, it holds another slot", d.name)));
            }
            runs.push((seq, t));
        }
        Ok(Some(runs))
    }

    async fn save_stepped(
        &self,
        execution: &Execution,
        changed: &[usize],
        ended: &[AttemptEnd],
        _opened: &[AttemptClaim],
        state: Option<&StepState>,
        sparse: bool,
    ) -> Result<u64> {
        self.save_with(execution, changed, ended, state.and_then(encode_state), sparse).await
    }
}
