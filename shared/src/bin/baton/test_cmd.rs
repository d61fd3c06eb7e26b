//! `baton test [PATH...]`: flow unit tests in Kestra's format. Finds the
//! test files (YAML with `flowId` and `testCases`) and the flows among the
//! paths (folders are searched), checks each test file against its flow,
//! then runs every case as its own transient execution on a throwaway
//! embedded home (never the user's executions), several at once, and
//! prints each case's result: the failed assertion, the expected and the
//! actual value and the task run it came from. `--junit FILE` writes a
//! JUnit XML report. Exit: 0 every case passed, 1 a case failed, 2 a test
//! file (or the flow it names) is invalid or none was found.
//!
//! `--record CASE` runs one case's flow for real and writes the fixtures of
//! the tasks that touched the outside world into its test file
//! (`test_cmd/record.rs`); `--watch` re-runs the cases of a flow when it
//! or its test file changes (`test_cmd/watch.rs`).

mod beside;
mod inline;
mod record;
mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use shared::model::Flow;
use shared::plugins::Registry;
use shared::runtime::embedded::{Embedded, LocalOptions};
use shared::runtime::secrets::{Secrets, envs_map};
use shared::template::Renderer;
use shared::unittest::{CaseOutcome, CaseState, TestSuite, check, is_test_document, parse_source, run_case};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Test files, or folders holding test files and their flows (searched
    /// recursively). Default: the current folder.
    pub paths: Vec<PathBuf>,
    /// Also load the flows of this folder (the flows tested, the subflows they call).
    #[arg(long = "flows", value_name = "DIR")]
    pub flows: Vec<PathBuf>,
    /// Write a JUnit XML report of every case to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// How many cases run at once.
    #[arg(long, short = 'j', default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Seconds one case's execution may take before it is killed and the case fails.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// Fail a case when one of its task fixtures was never used (the
    /// execution never reached that task); by default it is a warning.
    #[arg(long)]
    pub strict: bool,
    /// Run case CASE's flow once for real (its inputs and files, no mocks)
    /// and write into its test file a fixture for every task that touched
    /// the outside world (HTTP, databases, cloud, scripts), with the files
    /// they produced, so the test then runs offline.
    #[arg(long, value_name = "CASE", conflicts_with_all = ["watch", "junit"])]
    pub record: Option<String>,
    /// Keep running: re-run the cases of a flow each time the flow file or
    /// its test file changes (checked every 500 ms); Ctrl-C stops.
    #[arg(long)]
    pub watch: bool,
    /// Print the JSON Schema (draft-07) of the test file format and exit:
    /// every key and assertion operator `baton test` reads (Kestra's
    /// deprecated operator names marked `deprecated`), from the same key
    /// registry that validates test files; the server serves it at
    /// `GET /api/v1/plugins/schemas/test`.
    #[arg(long, conflicts_with_all = ["paths", "flows", "junit", "record", "watch", "strict"])]
    pub schema: bool,
}

/// The most YAML files one `baton test` reads.
const MAX_FILES: usize = 10_000;

/// One test file read and checked.
struct Loaded {
    path: PathBuf,
    suite: TestSuite,
    flow: Arc<Flow>,
}

pub async fn test(a: TestArgs) -> i32 {
    if a.schema {
        let schema = shared::unittest::schema::test_schema();
        return match serde_json::to_string_pretty(&schema) {
            Ok(text) => {
                println!("{text}");
                0
            }
            Err(e) => {
                eprintln!("error: the test file schema: {e}");
                2
            }
        };
    }
    if let Some(case) = &a.record {
        return record::record(&a, case).await;
    }
    if a.watch {
        return watch::watch(a).await;
    }
    run_tests(&a, None).await
}

/// One pass of `baton test` over `a.paths` (only the test files of `only`
/// when given: `--watch` re-runs those a change touched): exit 0, 1 or 2.
async fn run_tests(a: &TestArgs, only: Option<&[PathBuf]>) -> i32 {
    let paths = if a.paths.is_empty() { vec![PathBuf::from(".")] } else { a.paths.clone() };
    let mut files = Vec::new();
    for p in paths.iter().chain(a.flows.iter()) {
        if !p.exists() {
            eprintln!("error: {} does not exist", p.display());
            return 2;
        }
        if let Err(e) = yaml_files(p, &mut files) {
            eprintln!("error: {e}");
            return 2;
        }
    }
    files.sort();
    files.dedup();
    let registry = Registry::builtin();
    let renderer = Renderer::new();
    let mut bad = 0usize;
    let mut tests: Vec<(PathBuf, String, TestSuite)> = Vec::new();
    let mut flows: HashMap<(String, String), Parsed> = HashMap::new();
    for path in &files {
        let Ok(source) = shared::yaml::read_file(path) else { continue };
        let Ok((root, _)) = shared::yaml::parse(&source) else { continue };
        if is_test_document(&root) {
            if only.is_some_and(|o| !o.contains(path)) {
                continue;
            }
            let name = path.display().to_string();
            match parse_source(&name, &source) {
                (Some(suite), diags) if diags.is_empty() => tests.push((path.clone(), source, suite)),
                (_, diags) => {
                    bad += 1;
                    println!("✗ {name}: invalid test file");
                    for d in diags {
                        println!("{d}");
                    }
                }
            }
        } else if root.get("id").is_some() && root.get("namespace").is_some() {
            let name = path.display().to_string();
            let (Some(ns), Some(id)) = (root["namespace"].as_str(), root["id"].as_str()) else { continue };
            let key = (ns.to_string(), id.to_string());
            flows.insert(key, shared::validate::validate_source(&name, &source, &registry, &renderer));
        }
    }
    beside::add_flows_beside(tests.iter().map(|(p, _, s)| (p.as_path(), s)), &mut flows, &registry, &renderer);
    if tests.is_empty() && bad == 0 {
        eprintln!("error: no test file (YAML with flowId and testCases) found in {}", show(&paths));
        return 2;
    }
    let mut loaded = Vec::new();
    let mut arcs: HashMap<(String, String), Arc<Flow>> = HashMap::new();
    for (path, source, suite) in tests {
        let name = path.display().to_string();
        let key = (suite.namespace.clone(), suite.flow_id.clone());
        let flow = match flows.get(&key).map(|(f, d)| usable(f.as_ref(), d, &suite)) {
            None => {
                bad += 1;
                println!(
                    "✗ {name}: flow {}.{} not found among the flows of {} (give its folder with --flows)",
                    key.0,
                    key.1,
                    show(&paths)
                );
                continue;
            }
            Some(Err(diags)) => {
                bad += 1;
                println!("✗ {name}: the flow {}.{} it tests is invalid:", key.0, key.1);
                for d in diags {
                    println!("{d}");
                }
                continue;
            }
            Some(Ok(f)) => arcs.entry(key).or_insert_with(|| Arc::new(f.clone())).clone(),
        };
        let diags = check::check(&name, &source, &suite, &flow);
        if !diags.is_empty() {
            bad += 1;
            println!("✗ {name}: does not fit flow {}.{}", flow.namespace, flow.id);
            for d in diags {
                println!("{d}");
            }
            continue;
        }
        loaded.push(Loaded { path, suite, flow });
    }
    let started = Instant::now();
    let outcomes = match run_all(a, &loaded, flows).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (l, o) in &outcomes {
        match o.state {
            CaseState::Success => passed += 1,
            CaseState::Failed => failed += 1,
            CaseState::Skipped => skipped += 1,
        }
        print_case(&loaded[*l], o);
    }
    if let Some(path) = &a.junit {
        let xml = junit(&loaded, &outcomes);
        if let Err(e) = std::fs::write(path, xml) {
            eprintln!("error: cannot write the JUnit report {}: {e}", path.display());
            return 2;
        }
    }
    let invalid = if bad > 0 { format!(", {bad} invalid test file(s)") } else { String::new() };
    println!(
        "{} case(s): {passed} passed, {failed} failed, {skipped} skipped{invalid} in {} ms",
        outcomes.len(),
        started.elapsed().as_millis()
    );
    if bad > 0 {
        2
    } else if failed > 0 {
        1
    } else {
        0
    }
}

/// Runs every case on one throwaway home, `--jobs` at once, in file order.
async fn run_all(
    a: &TestArgs,
    loaded: &[Loaded],
    flows: HashMap<(String, String), Parsed>,
) -> Result<Vec<(usize, CaseOutcome)>, String> {
    if loaded.is_empty() {
        return Ok(Vec::new());
    }
    let (embedded, _remove) = open_test_home(a.jobs)?;
    // every valid flow, so that Subflow tasks find the flows they call
    for (f, diags) in flows.into_values() {
        if let Some(f) = f.filter(|_| diags.is_empty()) {
            embedded.engine.flows.insert(f);
        }
    }
    for l in loaded {
        // a flow usable only with its tests' mocks
        if embedded.engine.flows.get(&l.flow.namespace, &l.flow.id).is_none() {
            embedded.engine.flows.insert(Flow::clone(&l.flow));
        }
    }
    let timeout = Duration::from_secs(a.timeout);
    let embedded_ref = &embedded;
    let jobs = loaded.iter().enumerate().flat_map(|(i, l)| l.suite.test_cases.iter().map(move |c| (i, l, c))).map(
        |(i, l, c)| async move {
            let flow = embedded_ref.engine.flows.get(&l.flow.namespace, &l.flow.id).unwrap_or_else(|| l.flow.clone());
            (i, run_case(embedded_ref, &flow, &l.suite, c, timeout).await)
        },
    );
    let mut outcomes: Vec<(usize, CaseOutcome)> =
        futures::stream::iter(jobs).buffered(usize::from(a.jobs)).collect().await;
    if a.strict {
        for (_, o) in &mut outcomes {
            if o.state == CaseState::Success && !o.warnings.is_empty() {
                o.state = CaseState::Failed;
                o.errors.append(&mut o.warnings);
            }
        }
    }
    embedded.shutdown();
    Ok(outcomes)
}

/// A throwaway embedded home for test executions (removed when the guard
/// drops): never the user's `BATON_HOME`.
fn open_test_home(jobs: u16) -> Result<(Embedded, shared::plugins::context::RemoveOnDrop), String> {
    open_test_home_with(jobs, |s| s)
}

/// [`open_test_home`] with its storage seen through `storage`.
fn open_test_home_with(
    jobs: u16,
    storage: impl FnOnce(Arc<dyn shared::backend::Storage>) -> Arc<dyn shared::backend::Storage>,
) -> Result<(Embedded, shared::plugins::context::RemoveOnDrop), String> {
    let home = std::env::temp_dir().join(format!("baton-test-{}", uuid::Uuid::new_v4()));
    let remove = shared::plugins::context::RemoveOnDrop(home.clone());
    let embedded = Embedded::open_local_with(
        LocalOptions {
            secrets: Secrets::from_vars(std::env::vars()),
            envs: envs_map(std::env::vars()),
            plugins: shared::plugins::PluginConfig::from_env(),
            ..LocalOptions::throwaway(home.clone(), usize::from(jobs))
        },
        storage,
    )
    .map_err(|e| format!("cannot open a test home in {}: {e}", home.display()))?;
    Ok((embedded, remove))
}

/// A flow file read: the flow (when it could be read) and its problems.
type Parsed = (Option<Flow>, Vec<shared::validate::Diagnostic>);

/// The flow a suite may test: a valid one, or one whose only problems are
/// tasks of a plugin family this build leaves out (`gcp`…) that every case
/// of the suite mocks (they never run). Else its problems.
fn usable<'f>(
    flow: Option<&'f Flow>,
    diags: &[shared::validate::Diagnostic],
    suite: &TestSuite,
) -> Result<&'f Flow, Vec<String>> {
    let shown = || diags.iter().map(ToString::to_string).collect::<Vec<_>>();
    let Some(flow) = flow else { return Err(shown()) };
    let mocked_everywhere = |task: &str| {
        suite.test_cases.iter().filter(|c| !c.disabled).all(|c| c.fixtures.tasks.iter().any(|t| t.id == task))
    };
    let excused = |d: &shared::validate::Diagnostic| {
        let Some(id) = d.task_id.as_deref() else { return false };
        let left_out = flow
            .all_tasks()
            .into_iter()
            .find(|t| t.id == id)
            .is_some_and(|t| shared::plugins::left_out(&t.type_).is_some());
        left_out && d.message.starts_with("unknown task type") && mocked_everywhere(id)
    };
    if diags.iter().all(excused) { Ok(flow) } else { Err(shown()) }
}

fn show(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Every `*.yml`/`*.yaml` at `p` (a file, or a folder searched recursively).
fn yaml_files(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if p.is_file() {
        out.push(p.to_path_buf());
    } else {
        shared::validate::collect_yaml(p, out).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    }
    if out.len() > MAX_FILES {
        return Err(format!("more than {MAX_FILES} YAML files under the paths given: name fewer"));
    }
    Ok(())
}

/// `PASSED suite › case (12 ms)`, and for a failure each failed assertion.
fn print_case(l: &Loaded, o: &CaseOutcome) {
    let word = match o.state {
        CaseState::Success => "PASSED ",
        CaseState::Failed => "FAILED ",
        CaseState::Skipped => "SKIPPED",
    };
    let about = o.description.as_ref().map(|d| format!(" — {d}")).unwrap_or_default();
    println!(
        "{word} {}.{} › {} › {}{about} ({} ms)",
        l.flow.namespace,
        l.flow.id,
        l.suite.id,
        o.case_id,
        o.duration.as_millis()
    );
    if o.state == CaseState::Skipped {
        return;
    }
    for e in &o.errors {
        println!("    error: {e}");
    }
    for a in o.assertions.iter().filter(|a| !a.result.is_success) {
        let r = &a.result;
        let what = r.description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default();
        println!("    ✗ {}{what}: {}", r.operator, r.error_message.as_deref().unwrap_or("failed"));
        println!("      assertion: {} {} {}", r.value, r.operator, shared::model::flow::scalar_string(&r.expected));
        println!("      expected:  {}", shared::model::flow::scalar_string(&r.expected));
        println!("      actual:    {}", r.actual.as_deref().unwrap_or("null"));
        if let Some(t) = &a.task_run {
            println!("      from:      {t}");
        }
    }
    if o.state == CaseState::Failed
        && let (Some(id), Some(st)) = (&o.execution_id, o.execution_state)
    {
        println!("      execution: {id} ({st:?}) of {}", l.path.display());
    }
    for w in &o.warnings {
        println!("    warning: {w}");
    }
}

/// The JUnit XML report: a `<testsuite>` per test file, a `<testcase>` per case.
fn junit(loaded: &[Loaded], outcomes: &[(usize, CaseOutcome)]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"baton test\">\n");
    for (i, l) in loaded.iter().enumerate() {
        let mine: Vec<&CaseOutcome> = outcomes.iter().filter(|(j, _)| *j == i).map(|(_, o)| o).collect();
        let failures = mine.iter().filter(|o| o.state == CaseState::Failed).count();
        let skipped = mine.iter().filter(|o| o.state == CaseState::Skipped).count();
        let time: f64 = mine.iter().map(|o| o.duration.as_secs_f64()).sum();
        let class = format!("{}.{}.{}", l.flow.namespace, l.flow.id, l.suite.id);
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time:.3}\" file=\"{}\">\n",
            esc(&class),
            mine.len(),
            esc(&l.path.display().to_string())
        ));
        for o in mine {
            xml.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                esc(&class),
                esc(&o.case_id),
                o.duration.as_secs_f64()
            ));
            match o.state {
                CaseState::Success => xml.push_str("/>\n"),
                CaseState::Skipped => xml.push_str(">\n      <skipped/>\n    </testcase>\n"),
                CaseState::Failed => {
                    let mut lines: Vec<String> = o.errors.clone();
                    for a in o.assertions.iter().filter(|a| !a.result.is_success) {
                        let r = &a.result;
                        lines.push(format!(
                            "{}: {}\nexpected: {}\nactual: {}{}",
                            r.operator,
                            r.error_message.as_deref().unwrap_or("failed"),
                            shared::model::flow::scalar_string(&r.expected),
                            r.actual.as_deref().unwrap_or("null"),
                            a.task_run.as_ref().map(|t| format!("\nfrom: {t}")).unwrap_or_default()
                        ));
                    }
                    let message = lines.first().and_then(|l| l.lines().next()).unwrap_or("failed").to_string();
                    xml.push_str(&format!(
                        ">\n      <failure message=\"{}\" type=\"AssertionFailure\">{}</failure>\n    </testcase>\n",
                        esc(&message),
                        esc(&lines.join("\n\n"))
                    ));
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// XML text and attribute escaping (control characters XML 1.0 forbids dropped).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}
