//! Docs of the flowable tasks (run by the executor).

use crate::plugins::PropKind;
use crate::schema::{OutDoc, PropDoc, TypeDoc};

const TASKS: PropDoc = PropDoc::new("tasks", "The child tasks.").fixed();
const CONCURRENT: PropDoc = PropDoc::new("concurrent", "How many children run at once (0: all).").default("0").fixed();
const FOR_EACH: &[PropDoc] = &[
    TASKS,
    PropDoc::new("values", "The values to loop over: a list, or a JSON list as a string."),
    PropDoc::new("value", "The older name of `values`."),
    PropDoc::new("concurrencyLimit", "How many iterations run at once (0: all, 1: one after another).")
        .default("1")
        .fixed(),
    CONCURRENT,
];
const NAMESPACE: PropDoc = PropDoc::new("namespace", "The subflow's namespace.");
const FLOW_ID: PropDoc = PropDoc::new("flowId", "The subflow's id.");
const INPUTS: PropDoc = PropDoc::new("inputs", "The subflow's inputs.");
const LABELS: PropDoc = PropDoc::new("labels", "Labels of the subflow execution (mapping or list of {key, value}).");
const WAIT: PropDoc = PropDoc::new("wait", "Wait for the subflow execution to end.").default("true").fixed();
const TRANSMIT: PropDoc =
    PropDoc::new("transmitFailed", "Fail this task when the subflow execution fails (needs wait).")
        .default("true")
        .fixed();
const INHERIT: PropDoc =
    PropDoc::new("inheritLabels", "Give the subflow execution this execution's labels.").default("false").fixed();
const REVISION: PropDoc = PropDoc::new("revision", "Run this revision of the subflow rather than the latest.").fixed();
const SUBFLOW: &[PropDoc] = &[
    NAMESPACE,
    FLOW_ID,
    INPUTS,
    LABELS,
    WAIT,
    TRANSMIT,
    INHERIT,
    REVISION,
    PropDoc::new("outputs", "Templates rendered in the subflow execution when it ends (its tasks' outputs), added to this task's outputs."),
    PropDoc::new("restartBehavior", "On restart, retry the failed subflow execution or start a new one (Baton refuses to restart a failed Subflow in place: replay instead).")
        .values(&["RETRY_FAILED", "NEW_EXECUTION"])
        .fixed(),
];
const FOR_EACH_ITEM: &[PropDoc] = &[
    PropDoc::new("items", "The file of items to split into batches (a kestra:// URI)."),
    PropDoc::new("batch", "How to batch items: {rows, bytes, partitions, separator}.").fixed(),
    NAMESPACE,
    FLOW_ID,
    INPUTS,
    LABELS,
    WAIT,
    TRANSMIT,
    INHERIT,
    REVISION,
];

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new("io.kestra.plugin.core.flow.Sequential", "Run tasks one after another.", "Groups tasks that run in order; the group fails when one fails.")
        .example("id: steps\ntype: io.kestra.plugin.core.flow.Sequential\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: one\n")
        .props(&[TASKS]),
    TypeDoc::new("io.kestra.plugin.core.flow.Parallel", "Run tasks at the same time.", "Starts its child tasks together, at most `concurrent` at once.")
        .example("id: fan_out\ntype: io.kestra.plugin.core.flow.Parallel\nconcurrent: 2\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: b\n")
        .props(&[TASKS, CONCURRENT]),
    TypeDoc::new("io.kestra.plugin.core.flow.If", "Run tasks when a condition holds.", "Renders `condition`; runs `then` when it is true, else `else`.")
        .example("id: check\ntype: io.kestra.plugin.core.flow.If\ncondition: \"{{ execution.state == 'RUNNING' }}\"\nthen:\n  - id: yes\n    type: io.kestra.plugin.core.log.Log\n    message: running\n")
        .props(&[
            PropDoc::new("condition", "A template rendering true or false."),
            PropDoc::new("then", "Tasks run when the condition is true.").fixed(),
            PropDoc::new("else", "Tasks run when it is false.").fixed(),
        ]),
    TypeDoc::new("io.kestra.plugin.core.flow.Switch", "Run the tasks of the matching case.", "Renders `value` and runs the tasks of the case with that key, or `defaults`.")
        .example("id: route\ntype: io.kestra.plugin.core.flow.Switch\nvalue: \"{{ flow.namespace }}\"\ncases:\n  prod:\n    - id: p\n      type: io.kestra.plugin.core.log.Log\n      message: production\ndefaults:\n  - id: other\n    type: io.kestra.plugin.core.log.Log\n    message: elsewhere\n")
        .outputs(&[OutDoc::new("value", PropKind::String, "The rendered value.")])
        .props(&[
            PropDoc::new("value", "The template whose rendering picks the case."),
            PropDoc::new("cases", "Case key → tasks.").fixed(),
            PropDoc::new("defaults", "Tasks run when no case matches.").fixed(),
        ]),
    TypeDoc::new("io.kestra.plugin.core.flow.ForEach", "Run tasks once per value.", "Runs its tasks for each value; children read `{{ taskrun.value }}`.")
        .example("id: each\ntype: io.kestra.plugin.core.flow.ForEach\nvalues: [\"a\", \"b\"]\nconcurrencyLimit: 2\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"\n")
        .props(FOR_EACH),
    TypeDoc::new("io.kestra.plugin.core.flow.EachSequential", "Run tasks once per value, in order (deprecated).", "Kestra's older ForEach with one iteration at a time.")
        .example("id: each\ntype: io.kestra.plugin.core.flow.EachSequential\nvalue: [\"a\", \"b\"]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"\n")
        .props(FOR_EACH),
    TypeDoc::new("io.kestra.plugin.core.flow.EachParallel", "Run tasks once per value, together (deprecated).", "Kestra's older ForEach with the iterations in parallel.")
        .example("id: each\ntype: io.kestra.plugin.core.flow.EachParallel\nvalue: [\"a\", \"b\"]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"\n")
        .props(FOR_EACH),
    TypeDoc::new("io.kestra.plugin.core.flow.Loop", "Run tasks once per value (Kestra 2.0).", "Kestra 2.0's loop: children read `{{ item.value }}`, `{{ item.index }}` and `{{ item.key }}`.")
        .example("id: loop\ntype: io.kestra.plugin.core.flow.Loop\nvalues: [\"a\", \"b\"]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ item.value }}\"\n")
        .props(&[
            TASKS,
            PropDoc::new("values", "The values to loop over: a list, a map, a JSON string or a kestra:// file of lines."),
            PropDoc::new("concurrencyLimit", "How many iterations run at once (0: all).").default("0").fixed(),
            PropDoc::new("transmitFailed", "Fail the Loop when an iteration fails (otherwise a failed iteration is counted and the Loop goes on)."),
            PropDoc::new("outputs", "Outputs each iteration declares (a list of {id, value, type}), read with loopOutputs()."),
            PropDoc::new("fetchType", "FETCH keeps each iteration's outputs inline; STORE writes them to an internal-storage file (10 MiB at most) and gives its uri; AUTO (default) stores when values is a kestra:// file, else fetches."),
            PropDoc::new("breakWhen", "Rendered after each iteration (with item, iteration.state, iteration.outputs): when truthy no other iteration starts."),
        ]),
    TypeDoc::new("io.kestra.plugin.core.flow.WorkingDirectory", "Run tasks in one shared folder.", "Its runnable children run on one worker in the same working directory, so files written by one are there for the next.")
        .example("id: wd\ntype: io.kestra.plugin.core.flow.WorkingDirectory\ntasks:\n  - id: write\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - echo hi > hello.txt\n")
        .outputs(&[OutDoc::new("outputFiles", PropKind::Map, "The files matching `outputFiles` after the last task: name → kestra:// URI.")])
        .props(&[
            TASKS,
            PropDoc::new("inputFiles", "Files written into the folder before the first task: name → content (a kestra:// URI is copied)."),
            PropDoc::new("outputFiles", "Glob patterns of the files stored after the last task (`outputs.<id>.outputFiles`)."),
            PropDoc::new("namespaceFiles", "Copy the namespace's files into the folder first: {enabled, include, exclude}."),
            PropDoc::new("cache", "Keep files between executions: {patterns (globs), ttl}; restored before the first task."),
        ]),
    TypeDoc::new("io.kestra.plugin.core.flow.Subflow", "Start an execution of another flow.", "Starts the named flow with inputs and labels, waits for it by default and exposes its outputs.")
        .example("id: child\ntype: io.kestra.plugin.core.flow.Subflow\nnamespace: company.team\nflowId: cleanup\nwait: true\ninputs:\n  day: \"{{ execution.startDate }}\"\n")
        .outputs(&[
            OutDoc::new("executionId", PropKind::String, "The subflow execution's id."),
            OutDoc::new("state", PropKind::String, "Its final state (when waited for)."),
            OutDoc::new("outputs", PropKind::Map, "Its outputs (when waited for)."),
        ])
        .props(SUBFLOW),
    TypeDoc::new("io.kestra.plugin.core.flow.Pause", "Pause the execution until resumed.", "Pauses until someone resumes it (UI, API, Resume task) or `pauseDuration` elapses, then acts as `behavior` says.")
        .example("id: approve\ntype: io.kestra.plugin.core.flow.Pause\npauseDuration: PT1H\nbehavior: RESUME\n")
        .outputs(&[OutDoc::new("onResume", PropKind::Map, "The inputs given on resume.")])
        .props(&[
            PropDoc::new("delay", "The older name of pauseDuration.").fixed(),
            PropDoc::new("pauseDuration", "Act after this long without a resume.").fixed(),
            PropDoc::new("behavior", "What happens when pauseDuration elapses.").values(&["RESUME", "WARN", "FAIL", "CANCEL"]).default("\"RESUME\"").fixed(),
            PropDoc::new("onResume", "Inputs asked for when resuming, as flow inputs.").fixed(),
            PropDoc::new("tasks", "Deprecated: tasks run after the pause.").fixed(),
        ]),
    TypeDoc::new("io.kestra.plugin.core.flow.AllowFailure", "Let tasks fail without failing the execution.", "Runs its tasks in order; a failure among them ends it WARNING.")
        .example("id: best_effort\ntype: io.kestra.plugin.core.flow.AllowFailure\ntasks:\n  - id: may_fail\n    type: io.kestra.plugin.core.execution.Fail\n")
        .props(&[TASKS]),
    TypeDoc::new("io.kestra.plugin.core.flow.WaitFor", "Repeat tasks until a condition holds.", "Runs its tasks, then renders `condition`; repeats until it is true or checkFrequency's limits are reached.")
        .example("id: poll\ntype: io.kestra.plugin.core.flow.WaitFor\ncondition: \"{{ outputs.ping.code == 200 }}\"\ncheckFrequency:\n  interval: PT10S\n  maxIterations: 30\ntasks:\n  - id: ping\n    type: io.kestra.plugin.core.http.Request\n    uri: https://example.com/ready\n    allowFailed: true\n")
        .outputs(&[OutDoc::new("iterationCount", PropKind::Integer, "How many times the tasks ran.")])
        .props(&[
            TASKS,
            PropDoc::new("condition", "A template; the loop ends when it renders true."),
            PropDoc::new("checkFrequency", "{interval, maxIterations, maxDuration} of the loop.").fixed(),
            PropDoc::new("failOnMaxReached", "Fail (rather than succeed) when a limit is reached.").default("false").fixed(),
        ]),
    TypeDoc::new("io.kestra.plugin.core.flow.LoopUntil", "Repeat tasks until a condition holds.", "WaitFor's successor (Kestra 0.23): runs its tasks, then renders `condition`; repeats until it is true or checkFrequency's limits are reached — by default no limits, a minute apart.")
        .example("id: loop\ntype: io.kestra.plugin.core.flow.LoopUntil\ncondition: \"{{ outputs.return.value == '4' }}\"\ncheckFrequency:\n  interval: PT1S\ntasks:\n  - id: return\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.loop.iterationCount }}\"\n")
        .outputs(&[OutDoc::new("iterationCount", PropKind::Integer, "How many times the tasks ran.")])
        .props(&[
            TASKS,
            PropDoc::new("condition", "A template; the loop ends when it renders true."),
            PropDoc::new("checkFrequency", "{interval, maxIterations, maxDuration} of the loop.").default("{interval: PT1M}").fixed(),
            PropDoc::new("failOnMaxReached", "Fail (rather than succeed) when a limit is reached.").default("false").fixed(),
        ]),
    TypeDoc::new("io.kestra.plugin.core.flow.Dag", "Run tasks by their dependencies.", "Each entry is {task, dependsOn}; a task starts once the tasks it depends on are done.")
        .example("id: graph\ntype: io.kestra.plugin.core.flow.Dag\ntasks:\n  - task:\n      id: extract\n      type: io.kestra.plugin.core.log.Log\n      message: extract\n  - task:\n      id: load\n      type: io.kestra.plugin.core.log.Log\n      message: load\n    dependsOn: [extract]\n")
        .props(&[PropDoc::new("tasks", "The entries: {task, dependsOn: [ids]}.").fixed(), CONCURRENT]),
    TypeDoc::new("io.kestra.plugin.core.execution.Exit", "End the execution now.", "Ends the execution in `state`, killing what still runs.")
        .example("id: done\ntype: io.kestra.plugin.core.execution.Exit\nstate: SUCCESS\n")
        .props(&[PropDoc::new("state", "The execution's final state (CANCELED in 1.x, CANCELLED in 2.0).").values(&["SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED", "CANCELLED"]).default("\"SUCCESS\"")]),
    TypeDoc::new("io.kestra.plugin.core.flow.ForEachItem", "Run a subflow per batch of a file's items.", "Splits a file of items into batches and starts the subflow once per batch, with the batch as an input file.")
        .example("id: per_batch\ntype: io.kestra.plugin.core.flow.ForEachItem\nitems: \"{{ outputs.report.uri }}\"\nbatch:\n  rows: 100\nnamespace: company.team\nflowId: process_batch\ninputs:\n  file: \"{{ taskrun.items }}\"\n")
        .outputs(&[
            OutDoc::new("numberOfBatches", PropKind::Integer, "How many batches were made."),
            OutDoc::new("subflowOutputs", PropKind::String, "A file of the subflow executions' outputs."),
        ])
        .props(FOR_EACH_ITEM),
];
