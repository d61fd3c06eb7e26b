//! Python `dependencies`: installed once into a cached virtualenv under
//! the home (a tiny local wheel, no network), also when `BATON_HOME` is a
//! relative path.

use std::path::{Path, PathBuf};

use serde_json::json;
use shared::model::StateType;

use crate::support::harness;

/// Builds a tiny pure-Python wheel in `dir` (no network needed to install it).
fn tiny_wheel(dir: &Path) -> PathBuf {
    let wheel = dir.join("batonhello-1.0-py3-none-any.whl");
    let script = format!(
        r#"
import zipfile
with zipfile.ZipFile({path:?}, "w") as z:
    z.writestr("batonhello/__init__.py", "def greet():\n    return 'hello from a wheel'\n")
    z.writestr("batonhello-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: batonhello\nVersion: 1.0\n")
    z.writestr("batonhello-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: baton-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("batonhello-1.0.dist-info/RECORD", "")
"#,
        path = wheel.display().to_string()
    );
    let ok = std::process::Command::new("python3").args(["-c", &script]).status().expect("python3");
    assert!(ok.success());
    wheel
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_dependencies_install_once_into_a_cached_virtualenv() {
    let h = harness();
    let wheel = tiny_wheel(&std::env::temp_dir());
    let yaml = format!(
        r#"
id: deps
namespace: test
tasks:
  - id: use_dep
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    dependencies:
      - {wheel}
    script: |
      import batonhello, sys
      print(batonhello.greet(), "in", sys.prefix)
"#,
        wheel = wheel.display()
    );
    let first = h.run(&yaml, json!({})).await;
    assert_eq!(first.state.current, StateType::Success, "{:?}", first.error);
    let second = h.run(&yaml, json!({})).await;
    assert_eq!(second.state.current, StateType::Success, "{:?}", second.error);
    let _ = std::fs::remove_file(&wheel);
    let logs1 = h.logs(&first.id).await;
    let logs2 = h.logs(&second.id).await;
    let cache = h.home.join("cache").join("python-venvs");
    assert!(
        logs1.iter().any(|l| l.starts_with("hello from a wheel in ") && l.contains(cache.to_str().unwrap())),
        "{logs1:?}"
    );
    assert!(logs1.iter().any(|l| l.starts_with("Installing Python dependencies")), "{logs1:?}");
    assert!(!logs2.iter().any(|l| l.starts_with("Installing Python dependencies")), "cached: {logs2:?}");
    assert!(logs2.iter().any(|l| l.starts_with("hello from a wheel in ")), "{logs2:?}");
}

/// A relative `BATON_HOME` is the same folder for every task: `baton run`
/// resolves it once, so a Python task's virtualenv lands under it (it used
/// to land at a doubled path, relative to the task's working directory).
#[test]
fn a_relative_baton_home_holds_the_python_virtualenv() {
    let dir = std::env::temp_dir().join(format!("baton-relhome-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let wheel = tiny_wheel(&dir);
    let flow = dir.join("deps.yaml");
    let yaml = format!(
        "id: deps\nnamespace: test\ntasks:\n  - id: use_dep\n    type: io.kestra.plugin.scripts.python.Script\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    dependencies:\n      - {}\n    script: |\n      import batonhello, sys\n      print(batonhello.greet(), 'in', sys.prefix)\n",
        wheel.display()
    );
    std::fs::write(&flow, yaml).expect("flow");
    let out = std::process::Command::new(crate::support::baton_bin())
        .current_dir(&dir)
        .env("BATON_HOME", "rel-home")
        .env_remove("BATON_CACHE_DIR")
        .args(["run", "deps.yaml"])
        .output()
        .expect("baton run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let venvs = dir.join("rel-home").join("cache").join("python-venvs");
    assert!(venvs.is_dir(), "the virtualenv is under the home: {stderr}");
    assert!(stderr.contains(&format!("hello from a wheel in {}", venvs.display())), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
