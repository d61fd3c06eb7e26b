//! Task properties Kestra deprecated in 1.x and 2.0 removes, rewritten to
//! their replacements (the families of kestra-migrate's rules of the same
//! names): a Pause's `delay` → `pauseDuration`; the JDBC and BigQuery
//! `fetch`/`fetchOne`/`store` booleans → `fetchType`; the HTTP client's
//! flat `options` (`basicAuthUser`/`basicAuthPassword` → `auth`,
//! `connectTimeout`/`readTimeout` → `timeout`, `proxy*` → `proxy`,
//! `logLevel` → `logs`; `readIdleTimeout`, `connectionPoolIdleTimeout`,
//! `maxContentLength`, which Kestra ignores, removed); a script or dbt
//! task's `runner`/`docker` → `taskRunner` and `containerImage`; the dbt
//! tasks before `DbtCLI` (reported with the command to write); a flow id
//! Kestra reserves (`pause`, `kill`, `search`…) gets a `_flow` suffix.

use crate::migrate::tree::Node;
use crate::migrate::{Cx, walk};

/// A scalar written for a flow mapping: numbers and booleans as they are,
/// anything else as a JSON string (valid YAML in flow context).
fn flow_scalar(n: &Node) -> String {
    let s = n.str().unwrap_or_default();
    if !s.is_empty() && (s.parse::<i64>().is_ok() || s == "true" || s == "false") {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

/// `{a: x, b: y}` from (key, node) pairs.
fn flow_map(pairs: &[(&str, &Node)]) -> String {
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {}", flow_scalar(v))).collect();
    format!("{{{}}}", body.join(", "))
}

/// Replaces the first of `old` (block entries of `m`) by `new_key: value`
/// and removes the others. Returns false (nothing done) when `m` is flow
/// style or `new_key` is already there.
fn fold(cx: &mut Cx, m: &Node, old: &[(&str, &Node, &Node)], new_key: &str, value: String) -> bool {
    if m.is_flow(cx.src) || m.get(new_key).is_some() || old.is_empty() {
        return false;
    }
    let (_, k0, v0) = old[0];
    cx.replace(k0, new_key);
    cx.replace(v0, value);
    for (_, k, v) in &old[1..] {
        cx.remove_entry(k, v);
    }
    true
}

/// Flow ids Kestra reserves since 1.0 (they collide with API routes).
const RESERVED_IDS: &[&str] = &[
    "text",
    "pause",
    "resume",
    "force-run",
    "change-status",
    "kill",
    "executions",
    "search",
    "source",
    "disable",
    "enable",
];

pub fn apply(cx: &mut Cx) {
    let root = cx.root;
    if let Some(id) = root.get("id")
        && let Some(name) = id.str().filter(|n| RESERVED_IDS.contains(n))
    {
        let new = format!("{}_flow", name.replace('-', "_"));
        cx.replace(id, new.clone());
        cx.changed(
            id.start,
            format!("flow id '{name}' is reserved since Kestra 1.0: now '{new}' (update the Subflow flowId and dependsOn entries that name it)"),
        );
    }
    for m in walk::typed_maps(root) {
        let ty = m.get_str("type").unwrap_or_default().to_string();
        if ty.ends_with("core.flow.Pause") {
            pause_delay(cx, m);
        }
        if ty.contains(".jdbc.") || ty.ends_with("gcp.bigquery.Query") {
            fetch_type(cx, m);
        }
        if ty.contains(".http.")
            && let Some(o) = m.get("options")
        {
            http_options(cx, o);
        }
        if ty.starts_with("io.kestra.plugin.scripts.") || ty.starts_with("io.kestra.plugin.dbt.") {
            script_runner(cx, m);
        }
        if ty == "io.kestra.plugin.fs.local.Delete" {
            local_delete_recursive(cx, m);
        }
        if let Some(cmd) = legacy_dbt(&ty) {
            cx.manual(
                m.start,
                format!("{ty} is removed in 2.0: use io.kestra.plugin.dbt.cli.DbtCLI with commands: [\"{cmd}\"] (its flags from this task's properties)"),
            );
        }
    }
}

fn pause_delay(cx: &mut Cx, m: &Node) {
    if let Some((k, _)) = m.entry("delay")
        && m.get("pauseDuration").is_none()
    {
        cx.replace(k, "pauseDuration");
        cx.changed(k.start, "Pause delay is pauseDuration in 2.0");
    }
}

/// Kestra resolves `fetch`, then `fetchOne`, then `store`, then `fetchType`.
fn fetch_type(cx: &mut Cx, m: &Node) {
    let flags: Vec<(&str, &Node, &Node)> = ["fetch", "fetchOne", "store"]
        .iter()
        .filter_map(|f| m.entry(f).map(|(k, v)| (*f, k, v)))
        .filter(|(_, _, v)| v.str().is_some())
        .collect();
    if flags.is_empty() {
        return;
    }
    let winner = flags.iter().find(|(_, _, v)| v.str() == Some("true")).map(|(f, _, _)| *f);
    let Some(winner) = winner else {
        // only false flags: they said nothing
        for (f, k, v) in &flags {
            cx.remove_entry(k, v);
            cx.changed(k.start, format!("{f}: false is removed in 2.0 (fetchType says it)"));
        }
        return;
    };
    let kind = match winner {
        "fetch" => "FETCH",
        "fetchOne" => "FETCH_ONE",
        _ => "STORE",
    };
    if let Some((k, _)) = m.entry("fetchType") {
        for (_, fk, fv) in &flags {
            cx.remove_entry(fk, fv);
        }
        cx.replace(m.get("fetchType").unwrap_or(k), kind);
        cx.changed(k.start, format!("{winner}: true is fetchType: {kind} in 2.0"));
    } else if fold(cx, m, &flags, "fetchType", kind.to_string()) {
        cx.changed(flags[0].1.start, format!("{winner}: true is fetchType: {kind} in 2.0"));
    }
}

fn entries<'a>(o: &'a Node, keys: &[&'static str]) -> Vec<(&'static str, &'a Node, &'a Node)> {
    keys.iter().filter_map(|f| o.entry(f).map(|(k, v)| (*f, k, v))).collect()
}

fn http_options(cx: &mut Cx, o: &Node) {
    if !o.is_map() {
        return;
    }
    if o.is_flow(cx.src) {
        if !entries(
            o,
            &["basicAuthUser", "basicAuthPassword", "connectTimeout", "readTimeout", "proxyType", "logLevel"],
        )
        .is_empty()
        {
            cx.manual(o.start, "these HTTP options are removed in 2.0: write them as a block map and migrate again (auth, timeout, proxy)");
        }
        return;
    }
    let auth = entries(o, &["basicAuthUser", "basicAuthPassword"]);
    if !auth.is_empty() {
        let mut pairs = Vec::new();
        for (f, _, v) in &auth {
            pairs.push((if *f == "basicAuthUser" { "username" } else { "password" }, *v));
        }
        let value = format!("{{type: BASIC, {}", &flow_map(&pairs)[1..]);
        if fold(cx, o, &auth, "auth", value) {
            cx.changed(auth[0].1.start, "HTTP options basicAuthUser/basicAuthPassword are options.auth {type: BASIC, username, password} in 2.0");
        } else {
            cx.manual(auth[0].1.start, "options.auth is already set: remove basicAuthUser/basicAuthPassword");
        }
    }
    let timeouts = entries(o, &["connectTimeout", "readTimeout"]);
    if !timeouts.is_empty() {
        let pairs: Vec<(&str, &Node)> = timeouts
            .iter()
            .map(|(f, _, v)| (if *f == "readTimeout" { "readIdleTimeout" } else { "connectTimeout" }, *v))
            .collect();
        if fold(cx, o, &timeouts, "timeout", flow_map(&pairs)) {
            cx.changed(
                timeouts[0].1.start,
                "HTTP options connectTimeout/readTimeout are options.timeout {connectTimeout, readIdleTimeout} in 2.0",
            );
        } else {
            cx.manual(timeouts[0].1.start, "options.timeout is already set: move connectTimeout/readTimeout into it");
        }
    }
    let proxy = entries(o, &["proxyType", "proxyAddress", "proxyPort", "proxyUsername", "proxyPassword"]);
    if !proxy.is_empty() {
        let names: Vec<String> = proxy.iter().map(|(f, _, _)| lower_first(&f["proxy".len()..])).collect();
        let pairs: Vec<(&str, &Node)> = names.iter().zip(&proxy).map(|(n, (_, _, v))| (n.as_str(), *v)).collect();
        if fold(cx, o, &proxy, "proxy", flow_map(&pairs)) {
            cx.changed(
                proxy[0].1.start,
                "HTTP options proxy* are options.proxy {type, address, port, username, password} in 2.0",
            );
        } else {
            cx.manual(proxy[0].1.start, "options.proxy is already set: move the proxy* options into it");
        }
    }
    if let Some((k, v)) = o.entry("logLevel") {
        let logs = match v.str().unwrap_or_default().to_ascii_uppercase().as_str() {
            "TRACE" => Some("[REQUEST_HEADERS, REQUEST_BODY, RESPONSE_HEADERS, RESPONSE_BODY]"),
            "DEBUG" => Some("[REQUEST_HEADERS, RESPONSE_HEADERS]"),
            "INFO" => Some("[RESPONSE_HEADERS]"),
            _ => None,
        };
        match logs {
            Some(l) if o.get("logs").is_none() => {
                cx.replace(k, "logs");
                cx.replace(v, l);
                cx.changed(k.start, "HTTP option logLevel is options.logs in 2.0");
            }
            _ => {
                cx.remove_entry(k, v);
                cx.changed(k.start, "HTTP option logLevel is removed in 2.0 (it logged nothing at this level)");
            }
        }
    }
    for key in ["readIdleTimeout", "connectionPoolIdleTimeout", "maxContentLength"] {
        if let Some((k, v)) = o.entry(key) {
            cx.remove_entry(k, v);
            cx.changed(k.start, format!("HTTP option {key} is removed in 2.0 (Kestra 1.x ignored it)"));
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_lowercase().to_string() + c.as_str()).unwrap_or_default()
}

const PROCESS: &str = "io.kestra.plugin.core.runner.Process";
const DOCKER: &str = "io.kestra.plugin.scripts.runner.docker.Docker";

/// `runner: PROCESS|DOCKER` and `docker: {image, …}` → `taskRunner` and
/// `containerImage` (the other docker options go to the Docker runner).
fn script_runner(cx: &mut Cx, m: &Node) {
    let runner = m.entry("runner");
    let docker = m.entry("docker");
    if runner.is_none() && docker.is_none() {
        return;
    }
    if m.get("taskRunner").is_some() || m.is_flow(cx.src) {
        let at = runner.or(docker).map(|(k, _)| k.start).unwrap_or(m.start);
        cx.manual(
            at,
            "runner/docker are removed in 2.0: remove them (taskRunner is set) or write the task as a block map",
        );
        return;
    }
    let process = runner.and_then(|(_, v)| v.str()).is_some_and(|r| r.trim().eq_ignore_ascii_case("PROCESS"));
    let mut runner_pairs: Vec<(&str, &Node)> = Vec::new();
    let mut image: Option<&Node> = None;
    if let Some((dk, dv)) = docker {
        for (k, v) in dv.entries() {
            match (k.str(), v.str()) {
                (Some("image"), Some(_)) => image = Some(v),
                (Some(name), Some(_)) if !process => runner_pairs.push((name, v)),
                (Some(_), Some(_)) => {}
                _ => {
                    cx.manual(k.start, "this docker option is not a scalar: move it under taskRunner (type: io.kestra.plugin.scripts.runner.docker.Docker) by hand");
                    return;
                }
            }
        }
        let _ = dk;
    }
    let ty = if process { PROCESS } else { DOCKER };
    let mut value = format!("{{type: {ty}");
    for (k, v) in &runner_pairs {
        value.push_str(&format!(", {k}: {}", flow_scalar(v)));
    }
    value.push('}');
    match (runner, docker) {
        (Some((rk, rv)), Some((dk, dv))) => {
            cx.replace(rk, "taskRunner");
            cx.replace(rv, value);
            match image.filter(|_| m.get("containerImage").is_none()) {
                Some(i) => {
                    cx.replace(dk, "containerImage");
                    set_value(cx, dk, dv, &flow_scalar(i));
                }
                None => {
                    cx.remove_entry(dk, dv);
                }
            }
            cx.changed(rk.start, format!("runner/docker are taskRunner ({ty}) and containerImage in 2.0"));
        }
        (Some((rk, rv)), None) => {
            cx.replace(rk, "taskRunner");
            cx.replace(rv, value);
            cx.changed(rk.start, format!("runner is taskRunner ({ty}) in 2.0"));
        }
        (None, Some((dk, dv))) => {
            cx.replace(dk, "taskRunner");
            match image.filter(|_| m.get("containerImage").is_none()) {
                Some(i) => {
                    // the image moves to containerImage, written after the runner
                    let text = format!("{value}\n{}containerImage: {}", indent_of(cx.src, dk), flow_scalar(i));
                    set_value(cx, dk, dv, &text);
                }
                None => set_value(cx, dk, dv, &value),
            }
            cx.changed(dk.start, format!("docker is taskRunner ({ty}) and containerImage in 2.0"));
        }
        (None, None) => {}
    }
}

/// Kestra 2.0's `fs.local.Delete` deletes a folder's content only with
/// `recursive: true` (1.x did by default): written where it was left out,
/// so the task keeps deleting what it did (kestra-migrate's
/// setLocalDeleteRecursive; on a file it changes nothing).
fn local_delete_recursive(cx: &mut Cx, m: &Node) {
    if m.get("recursive").is_some() {
        return;
    }
    let Some((k, _)) = m.entry("type") else { return };
    let why = "fs.local.Delete deletes a folder's content only with recursive: true in 2.0 (1.x did by default)";
    if m.is_flow(cx.src) {
        cx.manual(k.start, format!("{why}: add recursive: true if from is a folder"));
        return;
    }
    // on the line after the type's (a new line first when it ends the text)
    let end = crate::migrate::tree::line_end(cx.src, k.end);
    let entry = format!("{}recursive: true", indent_of(cx.src, k));
    let text = if cx.src[..end].ends_with('\n') { format!("{entry}\n") } else { format!("\n{entry}") };
    cx.edits.push(end, end, text);
    cx.changed(k.start, format!("{why}: recursive: true written"));
}

/// Sets the value of the entry `k: v` to `text` (a block value is
/// replaced from the key's end, so the new value sits on the key's line).
fn set_value(cx: &mut Cx, k: &Node, v: &Node, text: &str) {
    cx.edits.push(k.end, v.end, format!(": {text}"));
}

/// The spaces before `n` on its line.
fn indent_of(src: &str, n: &Node) -> String {
    let start = crate::migrate::tree::line_start(src, n.start);
    src[start..n.start].chars().map(|c| if c == '-' { ' ' } else { c }).collect()
}

/// The dbt command a pre-DbtCLI dbt task ran.
fn legacy_dbt(ty: &str) -> Option<&'static str> {
    let short = ty.strip_prefix("io.kestra.plugin.dbt.cli.")?;
    Some(match short {
        "Build" => "dbt build",
        "Run" => "dbt run",
        "Test" => "dbt test",
        "Compile" => "dbt compile",
        "Seed" => "dbt seed",
        "Snapshot" => "dbt snapshot",
        "Freshness" => "dbt source freshness",
        "List" => "dbt ls",
        "Deps" => "dbt deps",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, found};

    #[test]
    fn a_reserved_flow_id_is_renamed() {
        let m = check(
            "id: force-run # the id\nnamespace: n\ntasks: []\n",
            "id: force_run_flow # the id\nnamespace: n\ntasks: []\n",
        );
        assert_eq!(found(&m), ["legacy:1"]);
        check("id: pauser\nnamespace: n\ntasks: []\n", "id: pauser\nnamespace: n\ntasks: []\n");
    }

    #[test]
    fn pause_delay_and_fetch_flags() {
        let src = "id: f\nnamespace: n\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Pause\n    delay: PT1S # short\n  - id: q\n    type: io.kestra.plugin.jdbc.postgresql.Query\n    url: jdbc:postgresql://h/db\n    sql: select 1\n    store: false\n    fetchOne: true\n  - id: r\n    type: io.kestra.plugin.gcp.bigquery.Query\n    sql: select 1\n    fetch: false\n";
        let out = "id: f\nnamespace: n\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Pause\n    pauseDuration: PT1S # short\n  - id: q\n    type: io.kestra.plugin.jdbc.postgresql.Query\n    url: jdbc:postgresql://h/db\n    sql: select 1\n    fetchType: FETCH_ONE\n  - id: r\n    type: io.kestra.plugin.gcp.bigquery.Query\n    sql: select 1\n";
        let m = check(src, out);
        assert_eq!(found(&m), ["legacy:6", "legacy:12", "legacy:16"]);
    }

    #[test]
    fn http_options_fold_into_auth_timeout_proxy_and_logs() {
        let src = "id: f\nnamespace: n\ntasks:\n  - id: h\n    type: io.kestra.plugin.core.http.Request\n    uri: http://x\n    options:\n      basicAuthUser: \"{{ secret('U') }}\"\n      readTimeout: PT5S\n      basicAuthPassword: p,w\n      connectTimeout: PT1S\n      proxyAddress: proxy.local\n      proxyPort: 3128\n      maxContentLength: 10\n      logLevel: DEBUG\n";
        let out = "id: f\nnamespace: n\ntasks:\n  - id: h\n    type: io.kestra.plugin.core.http.Request\n    uri: http://x\n    options:\n      auth: {type: BASIC, username: \"{{ secret('U') }}\", password: \"p,w\"}\n      timeout: {connectTimeout: \"PT1S\", readIdleTimeout: \"PT5S\"}\n      proxy: {address: \"proxy.local\", port: 3128}\n      logs: [REQUEST_HEADERS, RESPONSE_HEADERS]\n";
        let m = check(src, out);
        assert_eq!(found(&m), ["legacy:8", "legacy:11", "legacy:12", "legacy:14", "legacy:15"]);
    }

    #[test]
    fn a_local_delete_keeps_deleting_recursively() {
        let src = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.fs.local.Delete # tidy\n    from: /data/done\n  - type: io.kestra.plugin.fs.local.Delete\n    id: b\n    from: /data/x.csv\n    recursive: false\n";
        let out = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.fs.local.Delete # tidy\n    recursive: true\n    from: /data/done\n  - type: io.kestra.plugin.fs.local.Delete\n    id: b\n    from: /data/x.csv\n    recursive: false\n";
        let m = check(src, out);
        assert_eq!(found(&m), ["legacy:5"]);
    }

    #[test]
    fn script_runner_and_docker_become_task_runner_and_container_image() {
        let src = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands: [ls]\n  - id: b\n    type: io.kestra.plugin.scripts.python.Script\n    runner: DOCKER\n    docker:\n      image: python:3.12\n      pullPolicy: NEVER\n    script: print(1)\n  - id: c\n    type: io.kestra.plugin.scripts.shell.Commands\n    docker:\n      image: ubuntu\n    commands: [ls]\n  - id: d\n    type: io.kestra.plugin.dbt.cli.Build\n";
        let out = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner: {type: io.kestra.plugin.core.runner.Process}\n    commands: [ls]\n  - id: b\n    type: io.kestra.plugin.scripts.python.Script\n    taskRunner: {type: io.kestra.plugin.scripts.runner.docker.Docker, pullPolicy: \"NEVER\"}\n    containerImage: \"python:3.12\"\n    script: print(1)\n  - id: c\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner: {type: io.kestra.plugin.scripts.runner.docker.Docker}\n    containerImage: \"ubuntu\"\n    commands: [ls]\n  - id: d\n    type: io.kestra.plugin.dbt.cli.Build\n";
        let m = check(src, out);
        assert_eq!(found(&m), ["legacy:6", "legacy:10", "legacy:17", "legacy:20!"]);
        assert!(m.findings[3].message.contains("DbtCLI with commands: [\"dbt build\"]"), "{}", m.findings[3].message);
    }
}
