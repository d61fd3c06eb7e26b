//! `baton flows push DIR (--server URL | --gcp) [--delete]`: Kestra's `flow
//! namespace update` for a folder. Every flow of DIR is validated here
//! first (every problem listed, as `baton validate` lists them); if any
//! flow is invalid, or two files declare the same flow, nothing is
//! uploaded. Then each namespace's flows go up in one `POST
//! /api/v1/flows/{namespace}` (multi-document YAML), which the server
//! validates whole before writing any; with `--delete` the namespace's
//! flows absent from DIR are deleted, as Kestra's `--delete` does
//! (namespaces DIR has no flow in are left alone).
//!
//! All or nothing, as far as Kestra's API allows: before any upload, the
//! server validates every flow of every namespace in one `POST
//! /api/v1/flows/validate` (its plugins and dialect may differ from this
//! binary's; a refused credential fails here too), so nothing is written
//! unless the server accepts them all. Kestra has no transaction across
//! namespaces, so an upload can still fail mid-way (the network, the
//! server's disk): the error then lists exactly which namespaces were
//! pushed and which were not, and pushing again is safe (an update with
//! the same flows changes nothing).
//!
//! Flow unit test files beside the flows (`baton test`'s `*.test.yaml`, any
//! YAML with `flowId` and `testCases`) go up after the flows, through
//! Kestra's test routes: `POST /api/v1/tests`, or `PUT
//! /api/v1/tests/{namespace}/{id}` when the suite exists. An invalid test
//! file stops the push before anything is uploaded, as an invalid flow does.
//!
//! `--gcp` reads the API's URL from Terraform (`terraform -chdir=DIR output
//! -raw api_url`) and authenticates with `gcloud auth print-identity-token`
//! (or `BATON_API_TOKEN`); `--server` takes basic auth from `--user` or
//! `BATON_SERVER_BASIC_AUTH`.
//!
//! Exit codes: 0 pushed, 1 an invalid flow or a refused upload, 2 a bad
//! argument (no flow in DIR, no URL).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;
use shared::plugins::Registry;
use shared::template::Renderer;
use shared::validate::validate_paths_with;

/// The flows to push: namespace → (id, source) of each of its flows.
type ByNamespace = BTreeMap<String, Vec<(String, String)>>;

/// Where to push and how to authenticate.
pub struct Target {
    pub url: String,
    basic: Option<(String, String)>,
    bearer: Option<String>,
}

/// `baton flows push DIR`: validated here, checked by the server, pushed
/// namespace by namespace. `only`: the one namespace DIR's flows must all
/// be in (Kestra's `flow namespace update NAMESPACE DIR`).
pub async fn push_dir(dir: &Path, target: anyhow::Result<Target>, delete: bool, only: Option<&str>) -> i32 {
    if !dir.is_dir() {
        eprintln!("error: {} is not a folder", dir.display());
        return 2;
    }
    let by_namespace = match validated(dir) {
        Ok(Some(f)) => f,
        Ok(None) => return 1,
        Err(e) => {
            eprintln!("error: {e:#}");
            return 2;
        }
    };
    if let Some(ns) = only {
        let others: Vec<&str> = by_namespace.keys().map(String::as_str).filter(|n| *n != ns).collect();
        if !others.is_empty() {
            eprintln!(
                "error: {} holds flows of other namespaces than {ns} ({}): `flow namespace update` pushes one namespace; \
                 `baton flows push {}` pushes every namespace of a folder",
                dir.display(),
                others.join(", "),
                dir.display()
            );
            return 2;
        }
    }
    let target = match target {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e:#}");
            return 2;
        }
    };
    let tests = match test_files(dir) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e:#}");
            return 2;
        }
    };
    let pushed = async {
        push(&target, &by_namespace, delete).await?;
        push_tests(&target, &tests).await
    };
    match pushed.await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// The flows of `dir` by namespace, as (id, source); `None` (after listing
/// every problem) when one is invalid or declared twice.
fn validated(dir: &Path) -> anyhow::Result<Option<ByNamespace>> {
    let registry = Registry::builtin();
    let renderer = Renderer::new();
    let results = validate_paths_with(&[dir.to_path_buf()], &registry, &renderer, shared::dialect::Policy::AUTO);
    anyhow::ensure!(!results.is_empty(), "no *.yml or *.yaml flow in {}", dir.display());
    let mut out: ByNamespace = BTreeMap::new();
    let mut seen: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
    let mut bad = 0;
    for (path, report) in &results {
        if !report.diagnostics.is_empty() {
            bad += 1;
            eprintln!("✗ {}", path.display());
            for d in &report.diagnostics {
                eprintln!("{d}");
            }
            continue;
        }
        let Some(flow) = &report.flow else { continue };
        let key = (flow.namespace.clone(), flow.id.clone());
        if let Some(first) = seen.get(&key) {
            bad += 1;
            eprintln!(
                "✗ {}: flow {}.{} is also declared by {}",
                path.display(),
                flow.namespace,
                flow.id,
                first.display()
            );
            continue;
        }
        seen.insert(key, path.clone());
        let source = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        out.entry(flow.namespace.clone()).or_default().push((flow.id.clone(), source));
    }
    if bad > 0 {
        eprintln!("{} flow(s) checked, {bad} invalid: nothing was pushed", results.len());
        return Ok(None);
    }
    Ok(Some(out))
}

/// A test file to push: its namespace, id, path and source.
type TestFile = (String, String, PathBuf, String);

/// The flow unit test files under `dir` (already checked by [`validated`]).
fn test_files(dir: &Path) -> anyhow::Result<Vec<TestFile>> {
    let mut paths = Vec::new();
    shared::validate::collect_yaml(dir, &mut paths).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut out = Vec::new();
    for path in paths {
        let Ok(source) = shared::yaml::read_file(&path) else { continue };
        let is_test = shared::yaml::parse(&source).is_ok_and(|(root, _)| shared::unittest::is_test_document(&root));
        if !is_test {
            continue;
        }
        if let (Some(suite), _) = shared::unittest::parse_source(&path.display().to_string(), &source) {
            out.push((suite.namespace, suite.id, path, source));
        }
    }
    Ok(out)
}

/// Creates each test suite, or updates it when the server has it.
async fn push_tests(t: &Target, tests: &[TestFile]) -> anyhow::Result<()> {
    if tests.is_empty() {
        return Ok(());
    }
    let http = reqwest::Client::builder().user_agent("baton").build()?;
    let base = t.url.trim_end_matches('/');
    let mut done = 0usize;
    for (namespace, id, path, source) in tests {
        let created = request(&http, t, &format!("{base}/api/v1/tests")).body(source.clone()).send().await;
        let resp = created.with_context(|| format!("cannot reach {base}"))?;
        let status = resp.status().as_u16();
        let outcome = match status {
            409 => {
                let put = http.put(format!("{base}/api/v1/tests/{namespace}/{id}"));
                let put = authed(put.header("content-type", "application/x-yaml"), t).body(source.clone());
                send(put, base).await.map(|_| ())
            }
            404 | 405 => Err(anyhow::anyhow!(
                "HTTP {status}: the server has no flow unit test routes (Baton and Kestra's Enterprise Edition have them)"
            )),
            s if (200..300).contains(&s) => Ok(()),
            _ => {
                let text = resp.text().await.unwrap_or_default();
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let message = v.get("message").and_then(Value::as_str).map_or(text.clone(), str::to_string);
                Err(anyhow::anyhow!("HTTP {status}: {message}"))
            }
        };
        if let Err(e) = outcome {
            anyhow::bail!(
                "test suite {namespace}.{id} ({}): {e}\nthe flows were pushed; {done} of {} test suite(s) were",
                path.display(),
                tests.len()
            );
        }
        done += 1;
    }
    println!("{done} test suite(s) pushed");
    Ok(())
}

pub fn target(
    server: Option<String>,
    gcp: bool,
    terraform: &Path,
    user: Option<String>,
    token: Option<String>,
) -> anyhow::Result<Target> {
    let basic = match user {
        Some(u) => {
            let (name, password) = u.split_once(':').context("--user must be written user:password")?;
            Some((name.to_string(), password.to_string()))
        }
        None => None,
    };
    if let Some(url) = server {
        return Ok(Target { url, basic, bearer: token });
    }
    anyhow::ensure!(gcp, "give --server URL or --gcp");
    let url = command_output(
        "terraform",
        &[&format!("-chdir={}", terraform.display()), "output", "-raw", "api_url"],
        "the API's URL (is the deployment applied? see docs/src/gcp/deploy.md)",
    )?;
    let bearer = match token {
        Some(t) => t,
        None => command_output("gcloud", &["auth", "print-identity-token"], "an identity token (gcloud auth login)")?,
    };
    Ok(Target { url, basic: None, bearer: Some(bearer) })
}

/// The trimmed stdout of `program args`, or an error saying what it was for.
fn command_output(program: &str, args: &[&str], what: &str) -> anyhow::Result<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program} for {what}"))?;
    anyhow::ensure!(
        out.status.success(),
        "{program} {} failed ({what}): {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    anyhow::ensure!(!text.is_empty(), "{program} {} printed nothing ({what})", args.join(" "));
    Ok(text)
}

/// A request to the server with `t`'s credentials.
fn request(http: &reqwest::Client, t: &Target, url: &str) -> reqwest::RequestBuilder {
    authed(http.post(url).header("content-type", "application/x-yaml"), t)
}

/// `req` with `t`'s credentials.
pub fn authed(mut req: reqwest::RequestBuilder, t: &Target) -> reqwest::RequestBuilder {
    if let Some((u, p)) = &t.basic {
        req = req.basic_auth(u, Some(p));
    }
    if let Some(b) = &t.bearer {
        req = req.bearer_auth(b);
    }
    req
}

/// `flows` as one multi-document YAML.
fn documents<'a>(flows: impl Iterator<Item = &'a (String, String)>) -> String {
    flows.map(|(_, s)| if s.ends_with('\n') { s.clone() } else { format!("{s}\n") }).collect::<Vec<_>>().join("---\n")
}

/// Sends `req`; the body of a 2xx, else an error with the server's message.
pub async fn send(req: reqwest::RequestBuilder, base: &str) -> anyhow::Result<String> {
    let resp = req.send().await.with_context(|| format!("cannot reach {base}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = v.get("message").and_then(Value::as_str).map_or(text.clone(), str::to_string);
        anyhow::bail!("HTTP {}: {message}", status.as_u16());
    }
    Ok(text)
}

/// The server validates every flow before anything is uploaded; an error
/// (listing each refused flow) means nothing was pushed.
async fn preflight(http: &reqwest::Client, t: &Target, base: &str, by_namespace: &ByNamespace) -> anyhow::Result<()> {
    let all = documents(by_namespace.values().flatten());
    let text = send(request(http, t, &format!("{base}/api/v1/flows/validate")).body(all), base)
        .await
        .map_err(|e| anyhow::anyhow!("the server could not validate the flows ({e}): nothing was pushed"))?;
    let answers: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    let refused: Vec<String> = answers
        .iter()
        .filter_map(|v| {
            let c = v.get("constraints").and_then(Value::as_str)?;
            let name = format!("{}.{}", v["namespace"].as_str().unwrap_or("?"), v["flow"].as_str().unwrap_or("?"));
            Some(format!("✗ {name} (refused by the server):\n{c}"))
        })
        .collect();
    anyhow::ensure!(
        refused.is_empty(),
        "{}\n{} flow(s) refused by the server: nothing was pushed",
        refused.join("\n"),
        refused.len()
    );
    Ok(())
}

async fn push(t: &Target, by_namespace: &ByNamespace, delete: bool) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().user_agent("baton").build()?;
    let base = t.url.trim_end_matches('/');
    preflight(&http, t, base, by_namespace).await?;
    let mut pushed: Vec<String> = Vec::new();
    for (i, (namespace, flows)) in by_namespace.iter().enumerate() {
        let url = format!("{base}/api/v1/flows/{namespace}?delete={delete}");
        let text = match send(request(&http, t, &url).body(documents(flows.iter())), base).await {
            Ok(text) => text,
            Err(e) => {
                let not: Vec<String> = by_namespace
                    .iter()
                    .skip(i)
                    .map(|(ns, f)| {
                        format!("{ns} ({} flow(s){})", f.len(), if ns == namespace { ", failed" } else { "" })
                    })
                    .collect();
                let done = if pushed.is_empty() { "none".to_string() } else { pushed.join(", ") };
                anyhow::bail!(
                    "namespace {namespace}: {e}\npushed: {done}\nnot pushed: {}\n(pushing again is safe: unchanged flows stay as they are)",
                    not.join(", ")
                );
            }
        };
        let answered: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
        let deleted: Vec<&str> =
            answered.iter().filter(|f| f["deleted"] == Value::Bool(true)).filter_map(|f| f["id"].as_str()).collect();
        let gone = if deleted.is_empty() { String::new() } else { format!("; deleted {}", deleted.join(", ")) };
        println!("{namespace}: {} flow(s) pushed{gone}", flows.len());
        pushed.push(format!("{namespace} ({} flow(s))", flows.len()));
    }
    Ok(())
}
