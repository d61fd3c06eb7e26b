//! A Subflow child's end delivered in the bad order: before the parent's
//! save that records the child's start has landed (another executor
//! instance gets it first; the save is in flight or retried on a
//! compare-and-swap conflict), then again, then to an instance holding an
//! old copy. The end is asked for again while the store lacks the start,
//! applied once when it holds it, and its copies change nothing.

use std::sync::Arc;

use serde_json::{Map, json};

use super::{ExecutorError, ExecutorService};
use crate::executor::StepOptions;
use crate::model::{Execution, StateType};
use crate::runtime::engine::Engine;
use crate::runtime::launcher::{self, LaunchRequest};
use crate::runtime::messages::ExecutionEvent;

const CHILD: &str =
    "id: child\nnamespace: company.team\ntasks:\n  - id: c\n    type: io.kestra.plugin.core.log.Log\n    message: c\n";

fn parent(wait: bool) -> String {
    format!(
        "id: parent\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  \
         - id: sub\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: company.team\n    flowId: child\n    \
         wait: {wait}\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after\n"
    )
}

struct Setup {
    engine: Arc<Engine>,
    home: std::path::PathBuf,
    exec: Execution,
}

async fn setup(wait: bool) -> Setup {
    let home = std::env::temp_dir().join(format!("baton-subflow-end-{}", uuid::Uuid::new_v4()));
    let engine = crate::runtime::engine::for_tests(&home);
    for (file, src) in [("child.yaml", CHILD.to_string()), ("parent.yaml", parent(wait))] {
        let (flow, diags) = crate::validate::validate_source(file, &src, &engine.registry, &engine.renderer);
        assert!(diags.is_empty(), "{diags:?}");
        engine.flows.insert(flow.expect("flow"));
    }
    let flow = engine.flows.get("company.team", "parent").expect("parent flow");
    let exec = launcher::launch(&engine, &flow, LaunchRequest::default()).await.expect("launch");
    Setup { engine, home, exec }
}

impl Setup {
    async fn load(&self) -> Execution {
        self.engine.state.load_execution(&self.exec.id).await.expect("load").expect("stored")
    }

    /// The end of the child of task `sub` (task run 1: created after `a`),
    /// under the ids the step derives for it.
    fn end(&self, state: StateType) -> ExecutionEvent {
        let tr = crate::executor::task_run_id(&self.exec.id, 1, "sub", None, None);
        let child = crate::executor::subflow_child_id(&self.exec.id, &tr);
        ExecutionEvent::SubflowEnded {
            execution_id: self.exec.id.clone(),
            task_run_id: tr,
            child_execution_id: child,
            state,
            outputs: Map::from_iter([("x".to_string(), json!(1))]),
            iteration: None,
        }
    }

    async fn success(&self, task_id: &str) -> ExecutionEvent {
        super::cache_tests::success(&self.load().await, task_id)
    }

    async fn sub(&self) -> crate::model::TaskRun {
        self.load().await.task_run_list.into_iter().find(|t| t.task_id == "sub").expect("sub's task run")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_childs_end_before_its_parents_save_is_asked_again_then_applied_once() {
    let s = setup(true).await;
    let (one, two) = (ExecutorService::new(s.engine.clone()), ExecutorService::new(s.engine.clone()));
    let opts = StepOptions::default();
    one.handle(&ExecutionEvent::Created { execution_id: s.exec.id.clone() }, opts).await.expect("created");
    let end = s.end(StateType::Success);

    // the end reaches instance two before the save recording the start: not
    // acknowledged (a lost end would leave the parent waiting), nothing saved
    let before = s.load().await.version;
    let early = two.handle(&end, opts).await;
    assert!(matches!(early, Err(ExecutorError::EarlyEnd(_))), "{early:?}");
    assert_eq!(s.load().await.version, before, "an early end saves nothing");

    // the save lands: sub RUNNING, its child's id recorded
    one.handle(&s.success("a").await, opts).await.expect("a's result");
    let sub = s.sub().await;
    assert_eq!(sub.state.current, StateType::Running);
    let ExecutionEvent::SubflowEnded { child_execution_id, .. } = &end else { unreachable!() };
    assert_eq!(sub.evaluated.as_ref().and_then(|e| e["executionId"].as_str()), Some(child_execution_id.as_str()));

    // redelivered: applied once
    two.handle(&end, opts).await.expect("the end, redelivered");
    let sub = s.sub().await;
    assert_eq!(sub.state.current, StateType::Success);
    assert_eq!(sub.outputs.as_ref().map(|o| o["outputs"]["x"].clone()), Some(json!(1)));
    let applied = s.load().await.version;
    // again, and to instance one, whose cached copy still has sub RUNNING
    two.handle(&end, opts).await.expect("a copy");
    one.handle(&end, opts).await.expect("a copy on an old cached copy");
    assert_eq!(s.load().await.version, applied, "a copy of the end changes nothing");

    one.handle(&s.success("after").await, opts).await.expect("after's result");
    let e = s.load().await;
    let _ = std::fs::remove_dir_all(&s.home);
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.task_run_list);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_does_not_wait_ends_before_its_parents_save_without_changing_its_task_run() {
    let s = setup(false).await;
    let (one, two) = (ExecutorService::new(s.engine.clone()), ExecutorService::new(s.engine.clone()));
    let opts = StepOptions::default();
    one.handle(&ExecutionEvent::Created { execution_id: s.exec.id.clone() }, opts).await.expect("created");
    // the child is created before the save that ends `sub`; it fails and
    // its end comes first: asked again, nothing saved
    let end = s.end(StateType::Failed);
    let early = two.handle(&end, opts).await;
    assert!(matches!(early, Err(ExecutorError::EarlyEnd(_))), "{early:?}");

    one.handle(&s.success("a").await, opts).await.expect("a's result");
    let ExecutionEvent::SubflowEnded { child_execution_id, .. } = &end else { unreachable!() };
    let child = s.engine.state.load_execution(child_execution_id).await.expect("load");
    assert!(child.is_some(), "the child is stored when the save lands");
    assert_eq!(s.sub().await.state.current, StateType::Success);
    let saved = s.load().await.version;

    // redelivered, twice: a task run that does not wait keeps its SUCCESS
    two.handle(&end, opts).await.expect("the end, redelivered");
    one.handle(&end, opts).await.expect("a copy");
    assert_eq!(s.sub().await.state.current, StateType::Success);
    assert_eq!(s.load().await.version, saved, "the end changes nothing");

    one.handle(&s.success("after").await, opts).await.expect("after's result");
    let e = s.load().await;
    let _ = std::fs::remove_dir_all(&s.home);
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.task_run_list);
}
