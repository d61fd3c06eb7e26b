//! `cloudbuild.yaml` against the `Dockerfile`: every function image is
//! built, pushed and deployed, and the images are small and run as non-root.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::terraform::{repo, variable_default};

struct Stage {
    name: String,
    from: String,
    lines: Vec<String>,
}

/// The Dockerfile's stages, with their `FROM` image (or parent stage).
fn dockerfile_stages() -> Vec<Stage> {
    let src = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let mut stages: Vec<Stage> = Vec::new();
    let mut joined = String::new();
    for raw in src.lines() {
        let line = raw.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(l) = line.strip_suffix('\\') {
            joined.push_str(l);
            joined.push(' ');
            continue;
        }
        joined.push_str(line);
        let full = std::mem::take(&mut joined);
        let words: Vec<&str> = full.split_whitespace().collect();
        if words.first().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            let name = match words.as_slice() {
                [_, _, kw, name, ..] if kw.eq_ignore_ascii_case("AS") => name.to_string(),
                _ => format!("#{}", stages.len()),
            };
            stages.push(Stage { name, from: words.get(1).copied().unwrap_or_default().to_string(), lines: Vec::new() });
        } else if let Some(s) = stages.last_mut() {
            s.lines.push(full);
        }
    }
    stages
}

/// Every instruction a target runs, its parents' first.
fn stage_chain<'a>(stages: &'a [Stage], name: &str) -> Vec<&'a Stage> {
    let mut chain = Vec::new();
    let mut cur = stages.iter().find(|s| s.name == name);
    while let Some(s) = cur {
        chain.push(s);
        cur = stages.iter().find(|p| p.name == s.from);
    }
    chain.reverse();
    chain
}

#[test]
fn cloudbuild_builds_pushes_and_deploys_every_function_image() {
    let src = std::fs::read_to_string(repo().join("cloudbuild.yaml")).expect("cloudbuild.yaml");
    let (doc, _) = shared::yaml::parse(&src).expect("cloudbuild.yaml is YAML");
    let steps = doc["steps"].as_array().expect("steps");
    let substitutions = doc["substitutions"].as_object().expect("substitutions");
    let step = |id: &str| steps.iter().find(|s| s["id"] == json!(id)).unwrap_or_else(|| panic!("no step {id}"));
    let args = |s: &Value| -> Vec<String> {
        s["args"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };

    // every user substitution used is declared with a default, and every declared one is used
    let mut used = BTreeSet::new();
    let mut rest = src.as_str();
    while let Some(i) = rest.find("${_") {
        let tail = &rest[i + 2..];
        let end = tail.find('}').expect("closing brace");
        used.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    let declared: BTreeSet<String> = substitutions.keys().cloned().collect();
    assert_eq!(used, declared, "substitutions used vs declared");

    // the test suite gates the images
    let test = step("test");
    assert!(args(test).join(" ").contains("bash scripts/test.sh"), "the test step runs scripts/test.sh");

    // one image per function, from a Dockerfile target of the same name
    let worker_groups: Vec<String> = variable_default("worker_groups")
        .as_array()
        .expect("worker_groups default")
        .iter()
        .map(|g| g.as_str().expect("group").to_string())
        .collect();
    let mut wanted: BTreeSet<String> = ["executor", "scheduler", "api"].iter().map(|s| s.to_string()).collect();
    wanted.extend(worker_groups.iter().map(|g| format!("worker-{g}")));
    let stages = dockerfile_stages();
    let registry = "${_REGION}-docker.pkg.dev/$PROJECT_ID/${_REPO}/";
    let mut built = BTreeSet::new();
    for s in steps {
        let a = args(s);
        if a.first().map(String::as_str) != Some("build") {
            continue;
        }
        let target = a.iter().skip_while(|x| *x != "--target").nth(1).expect("docker build --target").clone();
        assert!(
            stages.iter().any(|st| st.name == target),
            "cloudbuild builds target '{target}', which the Dockerfile does not define"
        );
        let tag = a.iter().skip_while(|x| *x != "--tag").nth(1).expect("--tag").clone();
        if target == "build" {
            continue;
        }
        assert_eq!(tag, format!("{registry}{target}:$SHORT_SHA"), "image of target {target}");
        assert!(s["waitFor"].as_array().is_some_and(|w| w.contains(&json!("build"))), "{target} waits for the build");
        built.insert(target);
    }
    assert_eq!(built, wanted, "images built vs the functions terraform deploys");

    // pushed before the deploy, and listed as the build's images
    let push = step("push");
    let push_script = args(push).join(" ");
    for image in &wanted {
        assert!(push_script.contains(image.as_str()), "push step misses {image}");
        assert!(
            push["waitFor"].as_array().is_some_and(|w| w.contains(&json!(format!("image-{image}")))),
            "push waits for image-{image}"
        );
    }
    let images: BTreeSet<String> =
        doc["images"].as_array().expect("images").iter().map(|i| i.as_str().expect("image").to_string()).collect();
    let expected_images: BTreeSet<String> = wanted.iter().map(|t| format!("{registry}{t}:$SHORT_SHA")).collect();
    assert_eq!(images, expected_images);

    // the deploy is terraform apply with this build's tag, after the push
    let deploy = step("deploy");
    assert_eq!(deploy["waitFor"], json!(["push"]));
    assert_eq!(deploy["dir"], json!("terraform"));
    let script = args(deploy).join(" ");
    assert!(script.contains("terraform apply") && script.contains("-var=\"image_tag=$SHORT_SHA\""), "{script}");
    assert!(script.contains("-backend-config=\"bucket=${_TF_STATE_BUCKET}\""), "{script}");
}

#[test]
fn function_images_are_small_and_run_as_non_root() {
    let stages = dockerfile_stages();
    for target in
        ["executor", "scheduler", "api", "worker-core", "worker-scripts", "worker-jdbc", "worker-gcp", "worker-dbt"]
    {
        let chain = stage_chain(&stages, target);
        assert!(!chain.is_empty(), "no Dockerfile target {target}");
        let base = &chain[0].from;
        assert!(
            base.contains("distroless") || base.contains("RUNTIME_IMAGE") || base.contains("-slim"),
            "{target} is based on {base}, not a small image"
        );
        let user = chain
            .iter()
            .rev()
            .flat_map(|s| s.lines.iter().rev())
            .find_map(|l| l.strip_prefix("USER "))
            .unwrap_or_else(|| panic!("{target} sets no USER"));
        let user = user.trim();
        assert!(!user.starts_with("root") && !user.starts_with("0"), "{target} runs as {user}");
        let lines: Vec<&String> = chain.iter().flat_map(|s| s.lines.iter()).collect();
        assert!(lines.iter().any(|l| l.starts_with("ENTRYPOINT")), "{target} has no ENTRYPOINT");
        if let Some(group) = target.strip_prefix("worker-") {
            assert!(
                lines.iter().any(|l| l.contains(&format!("BATON_WORKER_GROUP={group}"))),
                "{target} does not set BATON_WORKER_GROUP={group}"
            );
        }
    }
    let arg_default = |name: &str| -> String {
        let src = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
        src.lines()
            .find_map(|l| l.strip_prefix(&format!("ARG {name}=")).map(str::to_string))
            .unwrap_or_else(|| panic!("ARG {name} has no default"))
    };
    assert!(arg_default("RUNTIME_IMAGE").contains("distroless"), "the runtime base is distroless");

    // every `cargo build -p functions --bin X` names a binary of the functions crate
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let manifest = std::fs::read_to_string(repo().join("functions/Cargo.toml")).expect("functions/Cargo.toml");
    assert!(manifest.contains("name = \"functions\""), "the Dockerfile builds package `functions`");
    let words: Vec<&str> = dockerfile.split_whitespace().collect();
    let bins: BTreeSet<&str> = words.windows(2).filter(|w| w[0] == "--bin").map(|w| w[1]).collect();
    assert_eq!(bins, BTreeSet::from(["api", "executor", "scheduler", "worker"]));
    for bin in bins {
        let dir = repo().join("functions/src/bin");
        assert!(
            dir.join(bin).join("main.rs").exists() || dir.join(format!("{bin}.rs")).exists(),
            "the Dockerfile builds --bin {bin}, which functions/ does not have"
        );
    }

    // what the special workers need
    let scripts: String = stage_chain(&stages, "worker-scripts").iter().flat_map(|s| s.lines.clone()).collect();
    for tool in ["bash", "wget", "python3", "gzip"] {
        assert!(scripts.contains(tool), "worker-scripts lacks {tool}");
    }
    let jdbc: String = stage_chain(&stages, "worker-jdbc").iter().flat_map(|s| s.lines.clone()).collect();
    assert!(jdbc.contains("libduckdb.so"), "worker-jdbc lacks libduckdb");
    assert!(jdbc.contains("build-duckdb"), "worker-jdbc's worker is not the DuckDB build");
}
