//! `baton test --record CASE [PATH...]`: finds the test file holding case
//! CASE among the paths, runs the case's flow once for real on a throwaway
//! home (the case's inputs and files, none of its task fixtures), and
//! writes the fixtures of every task that touched the outside world into
//! that case of the test file (`unittest::record`, `unittest::write`).
//! Files the case reads from outside the test — a FILE input's local path,
//! a `kestra://` input of the user's home — are inlined first
//! ([`inline`](super::inline)), and the namespace files the run read from
//! the user's home are recorded (`unittest::nsfiles`), so the recorded
//! test is hermetic.
//! The rest of the file stays as written; when the case cannot be replaced
//! in place, the whole test goes to `<name>.recorded.test.yaml` beside it.
//! Exit: 0 recorded, 1 the run or the writing failed, 2 nothing to record.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use shared::model::Flow;
use shared::plugins::Registry;
use shared::template::Renderer;
use shared::unittest::nsfiles::ReadThrough;
use shared::unittest::record::{Recording, record_case};
use shared::unittest::{TestSuite, is_test_document, parse_source, write};

use super::inline::{Inlined, files_ref, inline_inputs};
use super::{Parsed, TestArgs, beside, open_test_home_with, show, yaml_files};

pub(super) async fn record(a: &TestArgs, case_id: &str) -> i32 {
    match run(a, case_id).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

async fn run(a: &TestArgs, case_id: &str) -> Result<i32, String> {
    let paths = if a.paths.is_empty() { vec![PathBuf::from(".")] } else { a.paths.clone() };
    let mut files = Vec::new();
    for p in paths.iter().chain(a.flows.iter()) {
        if !p.exists() {
            return Err(format!("{} does not exist", p.display()));
        }
        yaml_files(p, &mut files)?;
    }
    files.sort();
    files.dedup();
    let registry = Registry::builtin();
    let renderer = Renderer::new();
    let mut holders: Vec<(PathBuf, String, TestSuite)> = Vec::new();
    let mut flows: HashMap<(String, String), Parsed> = HashMap::new();
    for path in &files {
        let Ok(source) = shared::yaml::read_file(path) else { continue };
        let Ok((root, _)) = shared::yaml::parse(&source) else { continue };
        if !is_test_document(&root) {
            if let Some((key, parsed)) = beside::read_flow(path, &registry, &renderer) {
                flows.insert(key, parsed);
            }
            continue;
        }
        let name = path.display().to_string();
        let (suite, diags) = parse_source(&name, &source);
        let Some(suite) = suite.filter(|s| s.test_cases.iter().any(|c| c.id == case_id)) else { continue };
        if !diags.is_empty() {
            let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
            return Err(format!("{name} is not a valid test file:\n{}", shown.join("\n")));
        }
        holders.push((path.clone(), source, suite));
    }
    let (path, source, suite) = match holders.len() {
        0 => return Err(format!("no test file under {} has a case '{case_id}'", show(&paths))),
        1 => holders.remove(0),
        _ => {
            let where_: Vec<PathBuf> = holders.iter().map(|(p, _, _)| p.clone()).collect();
            return Err(format!("several test files have a case '{case_id}' ({}): name one", show(&where_)));
        }
    };
    beside::add_flows_beside(std::iter::once((path.as_path(), &suite)), &mut flows, &registry, &renderer);
    let key = (suite.namespace.clone(), suite.flow_id.clone());
    let flow = match flows.get(&key) {
        None => {
            return Err(format!(
                "flow {}.{} of {} not found among the flows of {} (give its folder with --flows)",
                key.0,
                key.1,
                path.display(),
                show(&paths)
            ));
        }
        Some((Some(f), d)) if d.is_empty() => Arc::new(f.clone()),
        Some((_, d)) => {
            let shown: Vec<String> = d.iter().map(ToString::to_string).collect();
            return Err(format!("the flow {}.{} cannot run for real:\n{}", key.0, key.1, shown.join("\n")));
        }
    };
    let Some(index) = suite.test_cases.iter().position(|c| c.id == case_id) else {
        return Err(format!("no case '{case_id}' in {}", path.display()));
    };
    let mut case = suite.test_cases[index].clone();
    let home = crate::home::resolve(std::env::var_os("BATON_HOME").map(PathBuf::from));
    let inlined = match inline_inputs(&flow, &mut case, &home) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: recording case '{case_id}' failed: {e}");
            return Ok(1);
        }
    };
    let case = &case;
    println!("recording {} › {} › {case_id}: running {}.{} for real …", path.display(), suite.id, key.0, key.1);
    // namespace files the run reads come from the user's home, noted
    let home_storage = home.join("storage");
    let home_storage = match home_storage.is_dir() {
        true => shared::backend::local::FsStorage::new(&home_storage)
            .map(|s| Arc::new(s) as Arc<dyn shared::backend::Storage>)
            .ok(),
        false => None,
    };
    let mut reads = None;
    let (embedded, _remove) = open_test_home_with(a.jobs, |inner| {
        let through = Arc::new(ReadThrough::new(inner, home_storage));
        reads = Some(through.clone());
        through
    })?;
    for (f, diags) in flows.into_values() {
        if let Some(f) = f.filter(|_| diags.is_empty()) {
            embedded.engine.flows.insert(f);
        }
    }
    let timeout = Duration::from_secs(a.timeout);
    let recorded = record_case(&embedded, &flow, &suite, case, timeout, reads.as_deref()).await;
    embedded.shutdown();
    let rec = match recorded {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: recording case '{case_id}' failed: {e}");
            return Ok(1);
        }
    };
    report(&rec, &inlined);
    match save(&path, &source, index, &rec, &inlined, &flow) {
        Ok(written) => {
            println!(
                "wrote {} task fixture(s) and {} file(s) into {}",
                rec.tasks.len(),
                rec.files.len() + rec.namespace_files.len() + inlined.len(),
                written
            );
            println!("run it offline with: baton test {}", path.display());
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(1)
        }
    }
}

/// What the run did, task by task.
fn report(rec: &Recording, inlined: &[Inlined]) {
    println!("execution {} ended {:?}", rec.execution_id, rec.state);
    for i in inlined {
        println!("  inlined input {} as file {} ({} bytes)", i.input, i.name, i.content.len());
    }
    for t in &rec.tasks {
        let value = t.value.as_ref().map(|v| format!(" [{v}]")).unwrap_or_default();
        let keys: Vec<&str> = t.outputs.keys().map(String::as_str).collect();
        println!("  recorded {}{value}: {:?}, outputs {}", t.id, t.state, keys.join(", "));
    }
    for (name, content) in &rec.files {
        println!("  captured file {name} ({} bytes)", content.len());
    }
    for (path, content) in &rec.namespace_files {
        println!("  captured namespace file {path} ({} bytes)", content.len());
    }
    if !rec.not_recorded.is_empty() {
        println!("  ran for real, not recorded (no outside effect): {}", rec.not_recorded.join(", "));
    }
    if rec.state.is_failed() {
        println!("warning: the execution failed; the fixtures record the failure");
    }
}

/// Writes the recording into the test file (or a new one beside it) and
/// checks it still reads against its flow. The path written.
fn save(
    path: &Path,
    source: &str,
    index: usize,
    rec: &Recording,
    inlined: &[Inlined],
    flow: &Flow,
) -> Result<String, String> {
    let (root, _) = shared::yaml::parse(source).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut case = write::merged_case(&root, index, &rec.tasks, &rec.files, &rec.namespace_files)
        .ok_or_else(|| format!("{}: testCases[{index}] is not a mapping", path.display()))?;
    put_inlined(&mut case, inlined, rec)
        .ok_or_else(|| format!("{}: testCases[{index}].fixtures is not a mapping", path.display()))?;
    let (target, text) = match write::splice_case(source, index, &case) {
        Some(text) => (path.to_path_buf(), text),
        None => {
            let mut whole = root.clone();
            if let Some(slot) = whole.get_mut("testCases").and_then(|c| c.get_mut(index)) {
                *slot = case;
            }
            let header = format!(
                "{} with case '{}' recorded by `baton test --record`\n(its layout could not be edited in place: review, then replace the original)",
                path.display(),
                rec_case_id(&root, index)
            );
            let text = write::document(&whole, &header)
                .ok_or_else(|| format!("{}: the recorded test cannot be written as YAML", path.display()))?;
            (recorded_name(path), text)
        }
    };
    let name = target.display().to_string();
    let (suite, diags) = parse_source(&name, &text);
    let problems: Vec<String> = match &suite {
        Some(s) if diags.is_empty() => {
            shared::unittest::check::check(&name, &text, s, flow).iter().map(ToString::to_string).collect()
        }
        _ => diags.iter().map(ToString::to_string).collect(),
    };
    if !problems.is_empty() {
        return Err(format!("the recorded test would not read back, nothing written:\n{}", problems.join("\n")));
    }
    std::fs::write(&target, text).map_err(|e| format!("cannot write {name}: {e}"))?;
    Ok(name)
}

/// The inlined inputs into `case`: each file under a name no recorded
/// output file took, the input naming it.
fn put_inlined(case: &mut serde_json::Value, inlined: &[Inlined], rec: &Recording) -> Option<()> {
    use serde_json::{Map, Value};
    if inlined.is_empty() {
        return Some(());
    }
    let fx = case.as_object_mut()?.entry("fixtures").or_insert_with(|| Value::Object(Map::new()));
    let fx = fx.as_object_mut()?;
    for i in inlined {
        let name =
            if rec.files.iter().any(|(n, _)| *n == i.name) { format!("input_{}", i.name) } else { i.name.clone() };
        let files = fx.entry("files").or_insert_with(|| Value::Object(Map::new()));
        files.as_object_mut()?.insert(name.clone(), Value::String(i.content.clone()));
        let inputs = fx.entry("inputs").or_insert_with(|| Value::Object(Map::new()));
        inputs.as_object_mut()?.insert(i.input.clone(), Value::String(files_ref(&name)));
    }
    Some(())
}

fn rec_case_id(root: &serde_json::Value, index: usize) -> String {
    root.pointer(&format!("/testCases/{index}/id")).and_then(|v| v.as_str()).unwrap_or_default().to_string()
}

/// `x.test.yaml` → `x.recorded.test.yaml`; `x.yml` → `x.recorded.test.yml`.
fn recorded_name(path: &Path) -> PathBuf {
    let file = path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
    let (stem, ext) = match file.rsplit_once('.') {
        Some((s, e)) => (s.to_string(), e.to_string()),
        None => (file.clone(), "yaml".to_string()),
    };
    let stem = stem.strip_suffix(".test").unwrap_or(&stem).to_string();
    path.with_file_name(format!("{stem}.recorded.test.{ext}"))
}
