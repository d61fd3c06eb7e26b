//! The dialect check: in the dialect a flow resolves to (`crate::dialect`),
//! each construct of the other dialect is an error naming its replacement,
//! at its file:line:column; a `baton.dialect` label naming no dialect is
//! an error too.

use super::Sink;
use crate::dialect::{self, Policy, Resolved};
use crate::model::flow::Flow;

/// Reports every conflict of `flow` with its dialect under `policy`, and returns that dialect.
pub(crate) fn check(flow: &Flow, policy: Policy, sink: &mut Sink<'_>) -> Resolved {
    let info = &flow.dialect;
    if let Some((path, why)) = &info.label_error {
        sink.at(path, format!("label {}: {why}", dialect::LABEL));
    }
    let resolved = info.resolve(policy);
    for m in info.conflicts(resolved.dialect) {
        sink.at(&m.path, dialect::conflict_message(m, &resolved));
    }
    resolved
}
