//! A ForEachItem's own properties: `batch` holds exactly Kestra's keys
//! (`rows`, `bytes`, `partitions`, `separator`, `regexPattern`) with
//! their kinds, `wait`, `transmitFailed` and `inheritLabels` are booleans,
//! `inputs` a map and `labels` a map or a list.

use serde_json::Value;

use super::Sink;
use super::tasks::{kind_ok, unknown_prop};
use crate::model::flow::{Task, kind_of};
use crate::plugins::PropKind;
use crate::yaml::child_key;

const BATCH: &[(&str, PropKind)] = &[
    ("rows", PropKind::Integer),
    ("bytes", PropKind::String),
    ("partitions", PropKind::Integer),
    ("separator", PropKind::String),
    ("regexPattern", PropKind::String),
];

const KINDS: &[(&str, PropKind)] = &[
    ("items", PropKind::String),
    ("namespace", PropKind::String),
    ("flowId", PropKind::String),
    ("revision", PropKind::Integer),
    ("wait", PropKind::Boolean),
    ("transmitFailed", PropKind::Boolean),
    ("inheritLabels", PropKind::Boolean),
    ("inputs", PropKind::Map),
];

pub(super) fn check<'v>(task: &Task, written: &dyn Fn(&str) -> Option<&'v Value>, sink: &mut Sink<'_>) {
    for (key, kind) in KINDS {
        if let Some(v) = written(key)
            && let Err(why) = kind_ok(*kind, v)
        {
            sink.at(&child_key(&task.path, key), format!("property '{key}' of {}: {why}", task.kind));
        }
    }
    if let Some(v) = written("labels")
        && !matches!(v, Value::Object(_) | Value::Array(_) | Value::Null)
    {
        sink.at(&child_key(&task.path, "labels"), format!("'labels' must be a map or a list, got {}", kind_of(v)));
    }
    let Some(batch) = written("batch") else { return };
    let path = child_key(&task.path, "batch");
    let Some(m) = batch.as_object() else {
        sink.at(&path, format!("'batch' must be a map (rows, bytes, partitions, separator), got {}", kind_of(batch)));
        return;
    };
    for (k, v) in m {
        match BATCH.iter().find(|(name, _)| name == k) {
            None => sink.at(&child_key(&path, k), unknown_prop(k, "ForEachItem batch", BATCH.iter().map(|(n, _)| *n))),
            Some((_, kind)) => {
                if let Err(why) = kind_ok(*kind, v) {
                    sink.at(&child_key(&path, k), format!("property 'batch.{k}' of {}: {why}", task.kind));
                }
            }
        }
    }
}
