//! `io.kestra.plugin.fs.local.Trigger`: starts an execution for files new
//! or changed in a folder of the machine Baton runs on (plugin-fs
//! `local/Trigger.java`), polled every `interval` by `baton server local`
//! (`runtime::events::fs_local` acts; the disk work is
//! `plugins::fs_local::watch`). Google Cloud's functions share no folder:
//! Terraform refuses a flow that holds one enabled.
//!
//! This module is the pure part: the declaration (`from`, `regExp`,
//! `recursive`, `action`, `moveDirectory`, `interval`, `on`, `maxFiles`,
//! `stateKey`, `stateTtl`), the checks that can be made on the flow as
//! written, and [`LocalTrigger`], the trigger once its properties are
//! rendered (only `interval` must be written out).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::stateful::{interval, renderable};
use super::{Stateful, StatefulDecl, StatefulProps, TriggerDef, TriggerProblem, WhenProp};
use crate::model::{Flow, Trigger};
use crate::plugins::fs_local::Action;
use crate::plugins::fs_local::watch::Watch;
use crate::plugins::{Declare, TaskError, de, parse_props};

pub const TYPE: &str = "io.kestra.plugin.fs.local.Trigger";

/// Start an execution for new files in a local folder.
///
/// Lists a folder (in the folders BATON_LOCAL_ALLOWED_PATHS allows) every `interval` and starts an execution for the files new or changed since (trigger.files, each stored in the execution's files, with its changeType), then moves or deletes them (action). Polled by `baton server local`; Google Cloud's functions share no folder.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    example = "id: watch\ntype: io.kestra.plugin.fs.local.Trigger\nfrom: /data/incoming\ninterval: PT10S\naction: MOVE\nrecursive: true\nmoveDirectory: /data/archive/\n",
)]
struct LocalTriggerProps {
    /// The folder to watch.
    #[prop(dynamic, kind = "String", required)]
    from: Option<Value>,
    /// Keep only the files whose path (as walked from `from`) this expression matches whole.
    #[prop(dynamic, kind = "String")]
    reg_exp: Option<Value>,
    /// Also watch every sub-folder.
    #[prop(dynamic, kind = "Boolean", default = "false")]
    recursive: Option<Value>,
    /// What to do with the files once their execution exists: MOVE (to moveDirectory), DELETE or NONE.
    #[prop(dynamic, kind = "String", values = ["MOVE", "DELETE", "NONE"], default = "\"NONE\"")]
    action: Option<Value>,
    /// The folder action MOVE moves the files to.
    #[prop(dynamic, kind = "String")]
    move_directory: Option<Value>,
    /// How often to list the folder.
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    #[serde(flatten)]
    stateful: StatefulDecl,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<LocalTriggerProps>(check, crate::conditions::ConditionUse::Polling));

/// The rendered properties the trigger reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rendered {
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    reg_exp: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    recursive: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    action: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    move_directory: Option<String>,
    #[serde(flatten)]
    stateful: StatefulProps,
}

/// A trigger with its properties rendered and checked.
#[derive(Debug, Clone)]
pub struct LocalTrigger {
    pub id: String,
    pub watch: Watch,
    pub stateful: Stateful,
}

impl LocalTrigger {
    /// Reads the rendered properties (see [`renderable`]).
    pub fn from_rendered(id: &str, props: &Map<String, Value>) -> Result<LocalTrigger, TaskError> {
        let r: Rendered = parse_props(props)?;
        let action = Action::parse(r.action.as_deref(), r.move_directory.as_deref())?;
        let watch = Watch::new(&r.from, r.reg_exp.as_deref(), r.recursive.unwrap_or(false), action)?;
        Ok(LocalTrigger { id: id.to_string(), watch, stateful: Stateful::check(r.stateful)? })
    }
}

/// What can be checked before rendering: `interval`, `from`, and the other
/// properties when none is a template (else they are checked at each poll).
fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    if let Err(p) = interval(trig) {
        out.push(p);
    }
    let props = renderable(trig);
    if !props.contains_key("from") {
        out.push(TriggerProblem::at("from", format!("trigger '{}': missing required property 'from'", trig.id)));
        return out;
    }
    if props.values().any(super::templated) {
        return out;
    }
    if let Err(e) = LocalTrigger::from_rendered(&trig.id, &props) {
        out.push(super::problem_of(&trig.id, e));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::triggers::On;
    use crate::triggers::tests::{flow, trigger_of};

    fn trig(yaml: &str) -> Trigger {
        let (v, _) = crate::yaml::parse(yaml).expect("yaml");
        trigger_of("watch", TYPE, v)
    }

    #[test]
    fn reads_kestra_s_example() {
        let t = trig(
            "from: /home/dev/kestra\ninterval: PT10S\naction: MOVE\nrecursive: true\nmoveDirectory: /home/dev/archive/",
        );
        assert_eq!(interval(&t).expect("interval"), Duration::from_secs(10));
        assert!(check(&t, &flow()).is_empty());
        let l = LocalTrigger::from_rendered("watch", &renderable(&t)).expect("valid");
        assert_eq!((l.stateful.max_files, l.stateful.on), (25, On::CreateOrUpdate));
        assert_eq!(l.stateful.state_key(&flow(), &l.id), "ns/f/watch");
        assert_eq!(interval(&trig("from: /x")).expect("default"), crate::triggers::stateful::DEFAULT_INTERVAL);
    }

    #[test]
    fn problems_name_the_property() {
        let paths = |y: &str| -> Vec<String> { check(&trig(y), &flow()).into_iter().map(|p| p.path).collect() };
        assert_eq!(paths("recursive: true"), ["from"]);
        assert_eq!(paths("from: /in\naction: COPY"), ["action"]);
        assert_eq!(paths("from: /in\naction: MOVE"), ["moveDirectory"]);
        assert_eq!(paths("from: /in\naction: MOVE\nmoveDirectory: /in"), ["moveDirectory"]);
        assert_eq!(paths("from: /in\non: NEVER"), ["on"]);
        assert_eq!(paths("from: /in\nmaxFiles: 0"), ["maxFiles"]);
        assert_eq!(paths("from: /in\ninterval: soon"), ["interval"]);
        assert_eq!(paths("from: /in\nregExp: '('"), ["regExp"]);
        assert_eq!(paths("from: /in\nstateTtl: later"), ["stateTtl"]);
        // a template is checked when rendered, at each poll
        assert!(paths("from: \"{{ vars.dir }}\"\nregExp: '('").is_empty());
    }
}
