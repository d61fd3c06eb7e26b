//! `baton flows …` (also spelt `baton flow …`, as Kestra's CLI has it):
//! `push DIR` (push.rs), `validate PATH…` (as `baton validate`), `list` and
//! `delete NAMESPACE ID` on a server, and Kestra's `flow namespace update
//! NAMESPACE DIR`, which pushes a folder whose flows are all in NAMESPACE.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::push::{Target, authed, push_dir, send, target};

/// Where the server is and how to authenticate.
#[derive(Args)]
pub struct ServerArgs {
    /// The server's URL (e.g. http://127.0.0.1:8080).
    #[arg(long, value_name = "URL", conflicts_with = "gcp", required_unless_present = "gcp")]
    server: Option<String>,
    /// The GCP deployment: its API URL from Terraform's `api_url` output, an identity token from gcloud.
    #[arg(long)]
    gcp: bool,
    /// The Terraform folder --gcp reads `api_url` from.
    #[arg(long, value_name = "DIR", default_value = "terraform")]
    terraform: PathBuf,
    /// Basic auth for --server, user:password.
    #[arg(long, value_name = "USER:PASSWORD", env = "BATON_SERVER_BASIC_AUTH", hide_env_values = true)]
    user: Option<String>,
    /// A bearer token (for --gcp: instead of gcloud's identity token).
    #[arg(long, env = "BATON_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl ServerArgs {
    fn target(self) -> anyhow::Result<Target> {
        target(self.server, self.gcp, &self.terraform, self.user, self.token)
    }
}

#[derive(Subcommand)]
pub enum FlowsCommand {
    /// Validate every flow of DIR, then upload them, one call per namespace
    /// (Kestra's `flow namespace update`). Nothing is uploaded if a flow is invalid.
    Push {
        /// The folder of flows (*.yml, *.yaml, searched recursively).
        dir: PathBuf,
        #[command(flatten)]
        to: ServerArgs,
        /// Delete the flows of the pushed namespaces that are not in DIR.
        #[arg(long)]
        delete: bool,
    },
    /// Validate flow files or folders, as `baton validate` (Kestra's `flow validate`).
    Validate {
        /// Files or folders (*.yml, *.yaml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The Kestra dialect: `auto`, `1` or `2` (see `baton validate`).
        #[arg(long, env = "BATON_DIALECT", default_value = "auto", value_parser = super::args::parse_dialect)]
        dialect: shared::dialect::Policy,
    },
    /// List the flows on a server: namespace, id, revision, triggers.
    List {
        #[command(flatten)]
        from: ServerArgs,
        /// Only this namespace (and those under it).
        #[arg(long)]
        namespace: Option<String>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete one flow on a server.
    Delete {
        namespace: String,
        id: String,
        #[command(flatten)]
        from: ServerArgs,
    },
    /// Kestra's `flow namespace update NAMESPACE DIR`.
    #[command(subcommand)]
    Namespace(NamespaceCommand),
}

#[derive(Subcommand)]
pub enum NamespaceCommand {
    /// Push the flows of DIR, all of NAMESPACE, as `flows push` does.
    Update {
        namespace: String,
        dir: PathBuf,
        #[command(flatten)]
        to: ServerArgs,
        /// Delete the namespace's flows that are not in DIR.
        #[arg(long)]
        delete: bool,
    },
}

pub async fn flows(cmd: FlowsCommand) -> i32 {
    match cmd {
        FlowsCommand::Push { dir, to, delete } => push_dir(&dir, to.target(), delete, None).await,
        FlowsCommand::Validate { paths, dialect } => super::validate::validate(&paths, dialect),
        FlowsCommand::Namespace(NamespaceCommand::Update { namespace, dir, to, delete }) => {
            push_dir(&dir, to.target(), delete, Some(&namespace)).await
        }
        FlowsCommand::List { from, namespace, json } => report(list(from, namespace.as_deref(), json).await),
        FlowsCommand::Delete { namespace, id, from } => report(delete(from, &namespace, &id).await),
    }
}

fn report(r: anyhow::Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().user_agent("baton").build()?)
}

async fn list(from: ServerArgs, namespace: Option<&str>, json: bool) -> anyhow::Result<()> {
    let t = from.target()?;
    let base = t.url.trim_end_matches('/').to_string();
    let text = send(authed(client()?.get(format!("{base}/api/v1/flows")), &t), &base).await?;
    let flows: Vec<Value> = serde_json::from_str(&text)?;
    let under = |ns: &str| namespace.is_none_or(|n| ns == n || ns.starts_with(&format!("{n}.")));
    let flows: Vec<&Value> = flows.iter().filter(|f| under(f["namespace"].as_str().unwrap_or_default())).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&flows)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = flows
        .iter()
        .map(|f| {
            let triggers: Vec<&str> =
                f["triggers"].as_array().into_iter().flatten().filter_map(|t| t["id"].as_str()).collect();
            vec![
                f["namespace"].as_str().unwrap_or_default().to_string(),
                f["id"].as_str().unwrap_or_default().to_string(),
                f["revision"].as_u64().map(|r| r.to_string()).unwrap_or_default(),
                if f["disabled"] == Value::Bool(true) { "disabled".into() } else { String::new() },
                triggers.join(", "),
            ]
        })
        .collect();
    let width = super::table::terminal_width();
    for line in super::table::render(&["NAMESPACE", "ID", "REVISION", "DISABLED", "TRIGGERS"], &rows, 4, width) {
        println!("{line}");
    }
    eprintln!("{} flow(s)", rows.len());
    Ok(())
}

async fn delete(from: ServerArgs, namespace: &str, id: &str) -> anyhow::Result<()> {
    let t = from.target()?;
    let base = t.url.trim_end_matches('/').to_string();
    let url = format!("{base}/api/v1/flows/{namespace}/{id}");
    send(authed(client()?.delete(url), &t), &base).await?;
    println!("deleted {namespace}.{id}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::args::Command;
    use crate::suggest::parse_from;

    use super::*;

    fn flows_of(args: &[&str]) -> FlowsCommand {
        match parse_from(args.iter().copied()).map(|c| c.command) {
            Ok(Command::Flows { command }) => command,
            Ok(_) => panic!("{args:?}: not a flows command"),
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    #[test]
    fn kestra_s_spellings_are_aliases() {
        assert!(matches!(flows_of(&["baton", "flow", "validate", "flows/"]), FlowsCommand::Validate { .. }));
        assert!(matches!(flows_of(&["baton", "flows", "validate", "a.yml", "b.yml"]), FlowsCommand::Validate { .. }));
        let cmd = flows_of(&["baton", "flow", "namespace", "update", "company.team", "flows/", "--server", "http://x"]);
        assert!(
            matches!(cmd, FlowsCommand::Namespace(NamespaceCommand::Update { ref namespace, .. }) if namespace == "company.team")
        );
        assert!(matches!(flows_of(&["baton", "flows", "list", "--server", "http://x"]), FlowsCommand::List { .. }));
        assert!(matches!(
            flows_of(&["baton", "flow", "delete", "company.team", "hello", "--server", "http://x"]),
            FlowsCommand::Delete { .. }
        ));
        assert!(parse_from(["baton", "flows", "list"]).is_err(), "a server is required");
    }
}
