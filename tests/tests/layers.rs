//! The layers the compiler keeps, checked from `cargo metadata`: each
//! workspace crate depends only on the workspace crates below it (the
//! graph in `shared/README.md`), and the pure layers — the flow model, the
//! templates, the executor — have no runtime, store or cloud crate anywhere
//! in their dependency trees (no tokio, no SQLite, no HTTP client, no
//! Google crate), so `cargo build -p baton-executor` compiles none of them.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Every workspace crate and the workspace crates it may depend on
/// (normal, build and dev dependencies alike), bottom to top.
const ALLOWED: &[(&str, &[&str])] = &[
    ("baton-allocator", &[]),
    ("baton-derive", &[]),
    ("baton-model", &["baton-derive"]),
    ("baton-template", &["baton-model"]),
    ("baton-executor", &["baton-model", "baton-template"]),
    ("baton-backend", &["baton-model", "baton-executor"]),
    ("baton-local", &["baton-model", "baton-executor", "baton-backend"]),
    ("baton-gcp", &["baton-model", "baton-executor", "baton-backend"]),
    (
        "baton-plugins",
        &[
            "baton-model",
            "baton-template",
            "baton-executor",
            "baton-backend",
            "baton-gcp",
            "baton-derive",
            "baton-local",
        ],
    ),
    (
        "baton-runtime",
        &[
            "baton-model",
            "baton-template",
            "baton-executor",
            "baton-backend",
            "baton-local",
            "baton-gcp",
            "baton-plugins",
        ],
    ),
    (
        "shared",
        &[
            "baton-allocator",
            "baton-model",
            "baton-template",
            "baton-executor",
            "baton-backend",
            "baton-local",
            "baton-gcp",
            "baton-derive",
            "baton-plugins",
            "baton-runtime",
        ],
    ),
    ("functions", &["shared"]),
    ("e2e", &["shared", "baton-backend"]),
];

/// The crates the pure layers must not pull in, by name or name prefix.
const FORBIDDEN_IN_PURE: &[&str] = &[
    "tokio",
    "mio",
    "rusqlite",
    "libsqlite3-sys",
    "reqwest",
    "hyper",
    "axum",
    "google-",
    "gcp-",
    "gcloud-",
    "firestore",
    "yup-oauth2",
    "tonic",
    "git2",
    "duckdb",
    "postgres",
    "tokio-postgres",
];

/// The pure layers.
const PURE: &[&str] = &["baton-model", "baton-template", "baton-executor"];

struct Metadata {
    /// Package id → name.
    names: BTreeMap<String, String>,
    /// Workspace member names.
    members: BTreeSet<String>,
    /// Package name → the workspace crates it declares as dependencies.
    declared: BTreeMap<String, BTreeSet<String>>,
    /// Package id → ids of its normal (non-dev, non-build) dependencies, resolved.
    normal: BTreeMap<String, Vec<String>>,
}

fn metadata() -> Metadata {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    // this machine's platform only: the graph of every platform would need
    // crates no build here downloaded (and no test reaches the network)
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc).arg("-vV").output().expect("rustc -vV runs");
    let host = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    let out = Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &host,
            "--manifest-path",
            manifest,
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let names: BTreeMap<String, String> = v["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap_or("").to_string(), p["name"].as_str().unwrap_or("").to_string()))
        .collect();
    let member_ids: BTreeSet<&str> =
        v["workspace_members"].as_array().expect("members").iter().filter_map(Value::as_str).collect();
    let members: BTreeSet<String> = member_ids.iter().map(|id| names[*id].clone()).collect();
    let mut declared = BTreeMap::new();
    for p in v["packages"].as_array().expect("packages") {
        if !member_ids.contains(p["id"].as_str().unwrap_or("")) {
            continue;
        }
        let deps: BTreeSet<String> = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter_map(|d| d["name"].as_str())
            .filter(|n| members.contains(*n))
            .map(str::to_string)
            .collect();
        declared.insert(p["name"].as_str().unwrap_or("").to_string(), deps);
    }
    let mut normal = BTreeMap::new();
    for node in v["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let deps = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|d| d["dep_kinds"].as_array().is_some_and(|k| k.iter().any(|k| k["kind"].is_null())))
            .filter_map(|d| d["pkg"].as_str().map(str::to_string))
            .collect();
        normal.insert(node["id"].as_str().unwrap_or("").to_string(), deps);
    }
    Metadata { names, members, declared, normal }
}

#[test]
fn each_crate_depends_only_on_the_layers_below_it() {
    let m = metadata();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    for member in &m.members {
        let Some(ok) = allowed.get(member.as_str()) else {
            problems.push(format!("{member}: a workspace crate with no place in the layers (add it to ALLOWED)"));
            continue;
        };
        for dep in &m.declared[member] {
            if !ok.contains(&dep.as_str()) {
                problems.push(format!("{member} depends on {dep}, which is not below it"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_pure_layers_compile_no_runtime_store_or_cloud_crate() {
    let m = metadata();
    let id_of = |name: &str| m.names.iter().find(|(_, n)| *n == name).map(|(id, _)| id.clone()).expect(name);
    for pure in PURE {
        let mut seen = BTreeSet::new();
        let mut todo = vec![id_of(pure)];
        while let Some(id) = todo.pop() {
            if seen.insert(id.clone()) {
                todo.extend(m.normal.get(&id).into_iter().flatten().cloned());
            }
        }
        let bad: Vec<&str> = seen
            .iter()
            .map(|id| m.names[id].as_str())
            .filter(|n| FORBIDDEN_IN_PURE.iter().any(|f| if f.ends_with('-') { n.starts_with(f) } else { n == f }))
            .collect();
        assert!(bad.is_empty(), "{pure} pulls in {bad:?}");
        // the check sees the tree: the executor's holds the model and minijinja
        if *pure == "baton-executor" {
            let names: BTreeSet<&str> = seen.iter().map(|id| m.names[id].as_str()).collect();
            assert!(names.contains("baton-model") && names.contains("minijinja"), "{names:?}");
        }
    }
}

/// The crates `name` pulls in through normal dependencies.
fn normal_tree(m: &Metadata, name: &str) -> BTreeSet<String> {
    let id = m.names.iter().find(|(_, n)| *n == name).map(|(id, _)| id.clone()).expect(name);
    let mut seen = BTreeSet::new();
    let mut todo = vec![id];
    while let Some(id) = todo.pop() {
        if seen.insert(id.clone()) {
            todo.extend(m.normal.get(&id).into_iter().flatten().cloned());
        }
    }
    seen.iter().map(|id| m.names[id].clone()).collect()
}

/// The runtime sits below the API and the CLI: it uses no web framework
/// and no command-line crate (Google's gRPC crates bring axum along with
/// the `gcp` feature; the runtime itself never names it).
#[test]
fn the_runtime_uses_no_web_framework_or_cli_crate() {
    let m = metadata();
    let direct = |name: &str| -> BTreeSet<String> {
        let id = m.names.iter().find(|(_, n)| *n == name).map(|(id, _)| id.clone()).expect(name);
        m.normal[&id].iter().map(|d| m.names[d].clone()).collect()
    };
    let ui = ["axum", "tower-http", "hyper-util", "clap", "clap_complete", "indicatif", "console"];
    let runtime = direct("baton-runtime");
    let bad: Vec<&String> = runtime.iter().filter(|n| ui.contains(&n.as_str())).collect();
    assert!(bad.is_empty(), "baton-runtime depends on {bad:?}");
    assert!(runtime.contains("baton-plugins") && runtime.contains("tokio"), "{runtime:?}");
    assert!(direct("shared").contains("axum"), "the check sees the API's web framework above it");
    assert!(normal_tree(&m, "baton-runtime").contains("rusqlite"), "the runtime's tree holds the local backends");
}

/// The crates `baton` (the `shared` package) links in normal builds, with
/// `features` on: `cargo tree` of this machine's platform, offline.
fn cli_tree(features: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let mut cmd = Command::new(&cargo);
    cmd.args(["tree", "--offline", "--manifest-path", manifest, "-p", "shared", "-e", "normal", "--prefix", "none"]);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    let out = cmd.output().expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The local CLI builds without the Google crates unless asked
/// (`--features gcp`), and the check sees them when they are there.
#[test]
fn the_local_cli_links_no_google_crate_without_the_gcp_feature() {
    let google = |n: &&String| {
        ["google-", "gcp-", "firestore", "yup-oauth2", "jsonwebtoken", "baton-gcp"].iter().any(|g| n.starts_with(g))
    };
    let local = cli_tree(&[]);
    let bad: Vec<&String> = local.iter().filter(google).collect();
    assert!(bad.is_empty(), "the CLI without --features gcp links {bad:?}");
    assert!(local.contains("baton-plugins") && local.contains("rusqlite"), "{local:?}");
    let with_gcp = cli_tree(&["gcp"]);
    for needed in ["baton-gcp", "firestore", "google-cloud-storage", "google-cloud-pubsub", "gcp-bigquery-client"] {
        assert!(with_gcp.contains(needed), "--features gcp does not link {needed}");
    }
}
