//! Stores that load part of an execution and keep the executor's index
//! state with it (`executor::partial`), so an instance that holds nothing
//! of a large execution decides an event from a few task runs: the head
//! with the state, the event's task runs, then what the step names.
//!
//! A store offers it through [`crate::StateStore::partial`]; the
//! others (memory, SQLite: one process, which keeps its executions) do
//! not, and the executor loads the whole execution as before.
//!
//! Consistency: a decision on part of an execution is saved with the same
//! compare-and-swap on the head as any other, and every write of a task
//! run goes with a write of its head, so a task run read after the head
//! moved on makes the save fail and the event is decided again.

use async_trait::async_trait;
use std::io::{Read, Write};

use super::{AttemptClaim, AttemptEnd, Result};
use baton_executor::partial::{Need, StepState};
use baton_model::{Execution, TaskRun};

/// The largest executor state kept with a head (compressed); a larger one
/// is not written, and that execution's events load it whole.
pub const MAX_STATE_BYTES: usize = 256 << 10;

/// An execution's head as stored: the execution without its task runs.
#[derive(Debug, Clone)]
pub struct StoredHead {
    /// The execution at its stored version, `task_run_list` empty.
    pub exec: Execution,
    /// How many task runs it holds.
    pub count: usize,
    /// The executor's state saved with this version, if any.
    pub state: Option<StepState>,
}

/// Loading part of an execution; saving a decision taken on part of one.
#[async_trait]
pub trait PartialStore: Send + Sync {
    /// The head of execution `id` (`None`: no such execution).
    async fn load_head(&self, id: &str) -> Result<Option<StoredHead>>;
    /// The task runs that answer `needs` (never [`Need::All`]), with their
    /// positions, as stored now; `None` when they are more than `limit`.
    async fn load_runs(&self, id: &str, needs: &[Need], limit: usize) -> Result<Option<Vec<(usize, TaskRun)>>>;
    /// [`super::StateStore::save_execution_claiming`] with `state` kept
    /// with the head (`None`: none; a later event loads the execution
    /// whole). `sparse`: the task runs not loaded are placeholders
    /// (`executor::partial::placeholder`); only the changed ones are read.
    #[allow(clippy::too_many_arguments)]
    async fn save_stepped(
        &self,
        execution: &Execution,
        changed: &[usize],
        ended: &[AttemptEnd],
        opened: &[AttemptClaim],
        state: Option<&StepState>,
        sparse: bool,
    ) -> Result<u64>;
    /// Whether a save also writes task runs it was not told changed
    /// (Firestore's chunks copy the whole list): the executor then keeps
    /// every task run whole in memory (`executor::trim` stays off).
    fn copies_unchanged_runs(&self) -> bool {
        false
    }
}

/// States whose JSON is at most this long are kept as JSON, not deflated:
/// a chain's or a small loop's state is a few dozen bytes, and setting up
/// a deflate stream (its window and tables zeroed) cost more than the rest
/// of the save's encoding, once per save.
pub const RAW_STATE_BYTES: usize = 1024;

/// `state` as stored: JSON, deflated above [`RAW_STATE_BYTES`]; `None`
/// above [`MAX_STATE_BYTES`].
pub fn encode_state(state: &StepState) -> Option<Vec<u8>> {
    let json = serde_json::to_vec(state).ok()?;
    if json.len() <= RAW_STATE_BYTES {
        return Some(json);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&json).ok()?;
    let bytes = z.finish().ok()?;
    (bytes.len() <= MAX_STATE_BYTES).then_some(bytes)
}

/// The state [`encode_state`] stored (`None`: unreadable, then unused). A
/// JSON state starts with `{`; a zlib stream never does (its first byte
/// names the method, `0x78` for deflate).
pub fn decode_state(bytes: &[u8]) -> Option<StepState> {
    if bytes.first() == Some(&b'{') {
        return serde_json::from_slice(bytes).ok();
    }
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(bytes).take(64 << 20).read_to_end(&mut json).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_reads_back_and_garbage_reads_as_none() {
        let state = StepState::default();
        let bytes = encode_state(&state).expect("small");
        assert_eq!(decode_state(&bytes), Some(state));
        assert_eq!(decode_state(b"not zlib"), None);
        assert_eq!(decode_state(b"{not json"), None);
    }

    #[test]
    fn a_small_state_is_kept_as_json_and_a_deflated_one_still_reads_back() {
        let json = serde_json::to_vec(&StepState::default()).expect("json");
        // a state stored deflated before small ones were kept as JSON
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&json).expect("deflate");
        assert_eq!(decode_state(&z.finish().expect("deflate")), Some(StepState::default()));
        assert_eq!(encode_state(&StepState::default()), Some(json), "a small state is kept as JSON");
    }
}
