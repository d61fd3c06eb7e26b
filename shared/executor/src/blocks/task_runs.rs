//! The executor's task runs as the walk meets them: found in the index,
//! created, marked changed, given a state or a failure, rendered a context
//! for, advanced by their own state, and dispatched to a worker group.

use super::*;

/// How many jobs one step emits with their whole template context as one
/// tree, which the worker renders against as it is; past them a job holds
/// only its own entries, as JSON text, beside the ones the step's jobs
/// share (`JobContext::Parts`): a step starting a ForEach's 1,000 units
/// builds the execution's entries once, not 1,000 times, and holds 1,000
/// short strings, not 1,000 trees of a few kilobytes each. A chain's step
/// emits one job: serializing its context and parsing it back cost ~4 % of
/// a chain's CPU for nothing.
pub(crate) const TREES_A_STEP: u32 = 64;

impl<'a> Stepper<'a> {
    pub(super) fn find(&self, task_id: &str, parent: Option<&str>, value: Option<&str>) -> Option<usize> {
        let found = self.index.find(&self.exec.task_run_list, task_id, parent, value);
        if found.is_none() {
            self.index.missed_slot(&self.exec.task_run_list, task_id, parent, value, self.unit_walked);
        }
        found
    }

    pub(super) fn mark(&mut self, idx: usize) {
        let id = self.exec.task_run_list[idx].id.clone();
        if self.changed_set.insert(id.clone()) {
            self.changed.push(id);
        }
    }

    pub(super) fn create(&mut self, task: &'a Task, parent: Option<&str>, value: Option<&str>) -> usize {
        let id = ids::task_run_id(&self.exec.id, self.exec.task_run_list.len(), &task.id, parent, value);
        let tr = TaskRun {
            id,
            execution_id: self.exec.id.clone(),
            namespace: self.exec.namespace.clone(),
            flow_id: self.exec.flow_id.clone(),
            task_id: task.id.clone(),
            parent_task_run_id: parent.map(str::to_string),
            value: value.map(str::to_string),
            attempts: Default::default(),
            outputs: None,
            state: State::new(StateType::Created, self.now),
            iteration: Some(u32::try_from(self.exec.task_run_list.len()).unwrap_or(u32::MAX)),
            next_retry_date: None,
            error: None,
            evaluated: None,
        };
        let idx = self.exec.task_run_list.len();
        self.index.add(&self.exec.task_run_list, &tr);
        self.exec.task_run_list.push(tr);
        self.mark(idx);
        if let Some(cond) = &task.run_if {
            let ctx = self.task_context(task, idx);
            match self.env.render(cond, &ctx) {
                Ok(s) if !truthy(&s) => self.set_state(idx, StateType::Skipped),
                Ok(_) => {}
                Err(e) => self.fail(idx, format!("runIf of task '{}': {e}", task.id)),
            }
        }
        idx
    }

    pub(super) fn set_state(&mut self, idx: usize, s: StateType) {
        let now = self.now;
        self.exec.task_run_list[idx].state.set(s, now);
        self.mark(idx);
    }

    pub(super) fn fail(&mut self, idx: usize, error: String) {
        let tr = &self.exec.task_run_list[idx];
        self.actions.push(Action::Log {
            task_run_id: Some(tr.id.clone()),
            task_id: Some(tr.task_id.clone()),
            level: "ERROR",
            message: error.clone(),
        });
        self.exec.task_run_list[idx].error = Some(error);
        self.set_state(idx, StateType::Failed);
    }

    /// The template context for a task run (or the execution).
    pub(super) fn context(&self, idx: Option<usize>) -> Value {
        self.context_with(idx, &OutputRefs::All)
    }

    /// The template context of the task run at `idx` for rendering the
    /// properties of `task`: the outputs they name (`output_refs`).
    pub(super) fn task_context(&self, task: &Task, idx: usize) -> Value {
        self.context_with(Some(idx), &output_refs(task, self.flow))
    }

    /// The template context with the outputs of the tasks `refs` names.
    pub(super) fn context_with(&self, idx: Option<usize>, refs: &OutputRefs) -> Value {
        let mut ctx = self.context_without_envs(idx, refs);
        ctx["envs"] = self.env.envs();
        ctx
    }

    /// [`Self::context_with`] without `envs` (what a job carries: the
    /// worker sets its own).
    fn context_without_envs(&self, idx: Option<usize>, refs: &OutputRefs) -> Value {
        let mut ctx = context::shared_entries(self.flow, &self.exec);
        if let Value::Object(own) = self.own_context(idx, refs) {
            ctx.extend(own);
        }
        Value::Object(ctx)
    }

    /// What a partly loaded execution must load for the outputs `refs` reads.
    fn note_needs(&self, refs: &OutputRefs) {
        let index = &self.index;
        match refs {
            OutputRefs::None => {}
            // every task run's outputs (`context::outputs_in`)
            OutputRefs::All => index.need_all(),
            OutputRefs::Tasks(ids) if index.is_partial() => {
                ids.iter().for_each(|id| index.need(Need::Task(id.clone())))
            }
            OutputRefs::Tasks(_) => {}
        }
    }

    /// The context entries of the task run at `idx` that its step's other
    /// jobs do not share (see [`Self::shared_context`]), read as
    /// [`Self::context_with`] reads them.
    fn own_context(&self, idx: Option<usize>, refs: &OutputRefs) -> Value {
        let (list, index) = (&self.exec.task_run_list, &self.index);
        self.note_needs(refs);
        let runs = |id: &str| index.position(list, id).map(|i| &list[i]);
        let reads = |task_id: &str| refs.reads(task_id);
        let reads = (*refs != OutputRefs::None).then_some(&reads as &dyn Fn(&str) -> bool);
        context::build_own(self.flow, &self.exec, idx.map(|i| &list[i]), &runs, reads)
    }

    /// The context entries that come from the execution alone, built once
    /// a step (again if the step changed the execution's state or labels).
    fn shared_context(&mut self) -> Arc<Map<String, Value>> {
        let exec = &self.exec;
        if let Some(kept) = &self.shared_context
            && kept.state == exec.state.current
            && kept.histories == exec.state.histories.len()
            && kept.labels == exec.labels
        {
            return Arc::clone(&kept.entries);
        }
        let entries = Arc::new(context::shared_entries(self.flow, exec));
        self.shared_context = Some(SharedContext {
            state: exec.state.current,
            histories: exec.state.histories.len(),
            labels: exec.labels.clone(),
            entries: Arc::clone(&entries),
        });
        entries
    }

    pub(super) fn advance(&mut self, task: &'a Task, idx: usize) -> Block {
        let current = self.exec.task_run_list[idx].state.current;
        if current.is_terminal() {
            return Block::Done(normalize(current));
        }
        let Some(flowable) = &task.flowable else {
            return self.advance_runnable(task, idx);
        };
        let kind = flowable.kind();
        // a Pause goes from CREATED to PAUSED (Kestra's histories)
        if current == StateType::Created && kind != FlowableKind::Pause {
            self.set_state(idx, StateType::Running);
        }
        // the closed dispatch: each kind's rule, its properties typed
        let inner = match flowable {
            Flowable::Sequential | Flowable::AllowFailure => self.children(task, idx),
            Flowable::WorkingDirectory(_) => self.children(task, idx),
            Flowable::Parallel(_) => self.parallel(task, idx, flowable.concurrency()),
            Flowable::If(spec) => self.if_(task, idx, spec),
            Flowable::Switch(spec) => self.switch(task, idx, spec),
            Flowable::ForEach(spec) | Flowable::EachSequential(spec) | Flowable::EachParallel(spec) => {
                self.for_each(task, idx, spec, flowable.concurrency())
            }
            Flowable::Loop(spec) => self.loop_(task, idx, spec),
            Flowable::Subflow(_) => self.subflow(task, idx),
            Flowable::Pause(spec) => self.pause(task, idx, spec),
            Flowable::WaitFor(spec) => self.wait_for(task, idx, spec, false),
            Flowable::LoopUntil(spec) => self.wait_for(task, idx, spec, true),
            Flowable::Dag(_) => self.dag(task, idx, flowable.concurrency()),
            Flowable::Exit(spec) => self.exit(task, idx, spec),
            Flowable::ForEachItem(_) => self.for_each_item(task, idx),
        };
        let inner = match inner {
            Block::Running => return Block::Running,
            Block::Done(s) => s,
        };
        // the flowable's own errors / finally handlers
        let (tr_id, value) = {
            let tr = &self.exec.task_run_list[idx];
            (tr.id.clone(), tr.value.clone())
        };
        let mut state = inner;
        // a Loop's errors and finally run in each iteration (executor::loops)
        let own_handlers = !matches!(flowable, Flowable::Loop(_));
        if state == StateType::Failed && own_handlers && !task.errors.is_empty() {
            match self.sequence(&task.errors, Some(&tr_id), value.as_deref()) {
                Block::Running => return Block::Running,
                Block::Done(_) => state = StateType::Failed,
            }
        }
        if own_handlers && !task.finally.is_empty() {
            match self.sequence(&task.finally, Some(&tr_id), value.as_deref()) {
                Block::Running => return Block::Running,
                Block::Done(f) => state = worst(state, f),
            }
        }
        if self.exec.task_run_list[idx].state.is_terminal() {
            return Block::Done(normalize(self.exec.task_run_list[idx].state.current));
        }
        let mut final_state = state;
        // an AllowFailure's failure (after its errors ran) is a WARNING
        if final_state == StateType::Failed && (task.allow_failure || kind == FlowableKind::AllowFailure) {
            final_state = StateType::Warning;
        }
        if final_state == StateType::Warning && task.allow_warning {
            final_state = StateType::Success;
        }
        self.set_state(idx, final_state);
        Block::Done(normalize(final_state))
    }

    pub(super) fn advance_runnable(&mut self, task: &Task, idx: usize) -> Block {
        let tr = &self.exec.task_run_list[idx];
        // a RETRYING task run whose next attempt is already out (not started
        // yet) waits for it: another step must not dispatch one more
        let retry_out = tr.attempts.last().is_some_and(|a| !a.state.is_terminal());
        match tr.state.current {
            StateType::Created if tr.attempts.is_empty() => self.dispatch(task, idx, false),
            // restarted in place (executor::restart): the next attempt now
            StateType::Restarted if !retry_out => self.dispatch(task, idx, false),
            StateType::Retrying if !retry_out => match tr.next_retry_date {
                Some(at) if at > self.now => self.actions.push(Action::WakeAt(at)),
                _ => self.dispatch(task, idx, false),
            },
            _ => {
                let pending = tr.attempts.last().is_some_and(|a| a.state.current == StateType::Created);
                if self.opts.redispatch_pending && pending {
                    self.dispatch(task, idx, true);
                }
            }
        }
        // its job is out (dispatched or running) until the result comes
        if self.exec.task_run_list[idx].attempts.last().is_some_and(|a| !a.state.is_terminal()) {
            self.jobs_out += 1;
        }
        Block::Running
    }

    /// Creates the next attempt (or re-sends the pending one) and emits its job.
    pub(super) fn dispatch(&mut self, task: &Task, idx: usize, resend: bool) {
        if !resend {
            let now = self.now;
            let tr = &mut self.exec.task_run_list[idx];
            // most task runs have one attempt: room for one, not Vec's four
            tr.attempts.reserve_exact(1);
            tr.attempts.push(Attempt { state: State::new(StateType::Created, now), worker_id: None, log_file: None });
            tr.next_retry_date = None;
            self.mark(idx);
        }
        // when nothing this task renders can reach `outputs`, don't build or ship them
        let refs = output_refs(task, self.flow);
        let context = if self.trees_left > 0 {
            self.trees_left -= 1;
            JobContext::Tree(self.context_without_envs(Some(idx), &refs))
        } else {
            let shared = self.shared_context();
            JobContext::parts(self.own_context(Some(idx), &refs), &shared)
        };
        let tr = &self.exec.task_run_list[idx];
        let job = WorkerJob {
            execution_id: self.exec.id.clone(),
            task_run_id: tr.id.clone(),
            attempt: tr.attempts.len() as u32,
            namespace: self.exec.namespace.clone(),
            flow_id: self.exec.flow_id.clone(),
            flow_revision: self.exec.flow_revision,
            task: JobTask {
                id: task.id.clone(),
                kind: task.kind.clone(),
                props: task.props.clone(),
                description: task.description.clone(),
                timeout_ms: task.timeout.map(|d| d.num_milliseconds()),
                log_level: task.log_level.clone(),
                log_to_file: task.log_to_file,
                task_cache: task.task_cache.clone(),
            },
            context,
            secret_inputs: self.secret_inputs(),
            claimed_by: None,
            new_attempt: !resend,
            opened: None,
        };
        self.actions.push(Action::Dispatch { group: self.env.worker_group(&task.kind), job: Box::new(job) });
    }
}
