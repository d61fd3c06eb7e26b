//! The command-line reference: every `baton` command, its arguments and
//! options, walked from the clap definition (what `--help` prints), so a
//! new option is documented by its own doc comment. Hidden commands and
//! options are left out, and so is the version (it names a commit).

use clap::{Arg, ArgAction, Command};

use super::markdown::{cell, code, table};
use super::{MARK, Page};

/// The page for `command` (`baton`'s clap command).
pub fn page(command: &Command) -> Page {
    let mut command = command.clone();
    command.build();
    let name = command.get_name().to_string();
    let mut s = format!(
        "{MARK}\n# Command line\n\nEvery `{name}` command with its arguments and options, as `{name} … --help` \
         prints them. [The CLI guide](../guides/cli.md) shows them at work. An option with an environment \
         variable takes its value from it when it is not given.\n"
    );
    let globals: Vec<&Arg> = command.get_arguments().filter(|a| a.is_global_set() && shown(a)).collect();
    if !globals.is_empty() {
        s.push_str(&format!("\nOptions of every command:\n\n{}", args_table(&globals)));
    }
    let mut subs: Vec<(String, &Command)> = Vec::new();
    collect(&command, &name, &mut subs);
    s.push_str("\n## Commands\n\n");
    let rows: Vec<Vec<String>> =
        subs.iter().map(|(path, c)| vec![format!("[`{path}`](#{})", anchor(path)), cell(&about(c))]).collect();
    s.push_str(&table(&["command", "what it does"], &rows));
    for (path, c) in &subs {
        s.push_str(&format!("\n### {path}\n\n"));
        let long = c.get_long_about().or(c.get_about()).map(|a| a.to_string()).unwrap_or_default();
        if !long.is_empty() {
            s.push_str(&format!("{}\n\n", super::markdown::text(long.trim())));
        }
        s.push_str(&format!("```text\n{}\n```\n", usage(c, path)));
        let args: Vec<&Arg> = c.get_arguments().filter(|a| !a.is_global_set() && shown(a)).collect();
        if !args.is_empty() {
            s.push('\n');
            s.push_str(&args_table(&args));
        }
    }
    Page { path: "cli.md".into(), title: "Command line".into(), depth: 0, text: s }
}

/// Every visible subcommand, depth first, with its full name (`baton kv set`).
fn collect<'c>(c: &'c Command, path: &str, out: &mut Vec<(String, &'c Command)>) {
    for sub in c.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let p = format!("{path} {}", sub.get_name());
        out.push((p.clone(), sub));
        collect(sub, &p, out);
    }
}

/// The id mdBook gives the heading `### text`.
fn anchor(heading: &str) -> String {
    heading.to_lowercase().replace(' ', "-")
}

fn about(c: &Command) -> String {
    c.get_about().map(|a| a.to_string()).unwrap_or_default()
}

fn shown(a: &Arg) -> bool {
    !a.is_hide_set()
        && !matches!(a.get_action(), ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version)
}

/// `baton kv set [OPTIONS] --namespace <NAMESPACE> <KEY> <VALUE>`, from clap.
fn usage(c: &Command, path: &str) -> String {
    let mut c = c.clone().bin_name(path);
    let u = c.render_usage().to_string();
    u.strip_prefix("Usage: ").unwrap_or(&u).to_string()
}

fn args_table(args: &[&Arg]) -> String {
    let rows: Vec<Vec<String>> = args.iter().map(|a| vec![code(&spelling(a)), cell(&help(a))]).collect();
    table(&["argument", "meaning"], &rows)
}

/// `-i, --input <KEY=VALUE>` or `<FLOW>`.
fn spelling(a: &Arg) -> String {
    let value = || {
        let names: Vec<String> = a
            .get_value_names()
            .map_or_else(|| vec![a.get_id().as_str().to_uppercase()], |v| v.iter().map(|n| n.to_string()).collect());
        names.iter().map(|n| format!("<{n}>")).collect::<Vec<_>>().join(" ")
    };
    if a.is_positional() {
        let v = value();
        return if a.is_required_set() { v } else { format!("[{v}]") };
    }
    let mut names = Vec::new();
    if let Some(c) = a.get_short() {
        names.push(format!("-{c}"));
    }
    if let Some(l) = a.get_long() {
        names.push(format!("--{l}"));
    }
    let takes_value = matches!(a.get_action(), ArgAction::Set | ArgAction::Append);
    let mut s = names.join(", ");
    if takes_value {
        s.push(' ');
        s.push_str(&value());
    }
    s
}

/// The help text, with the possible values, the default and the
/// environment variable (its name, never its value).
fn help(a: &Arg) -> String {
    let mut s = a.get_long_help().or(a.get_help()).map(|h| h.to_string()).unwrap_or_default();
    let mut extra = Vec::new();
    let values: Vec<String> =
        a.get_possible_values().iter().filter(|v| !v.is_hide_set()).map(|v| format!("`{}`", v.get_name())).collect();
    if !values.is_empty() && !a.is_positional() {
        extra.push(format!("one of {}", values.join(", ")));
    }
    let defaults: Vec<String> = a.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
    let flag = matches!(a.get_action(), ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count);
    if !defaults.is_empty() && !flag {
        extra.push(format!("default `{}`", defaults.join(",")));
    }
    if a.is_required_set() && !a.is_positional() {
        extra.push("required".into());
    }
    if matches!(a.get_action(), ArgAction::Append) && !s.to_lowercase().contains("repeatable") {
        extra.push("repeatable".into());
    }
    if let Some(env) = a.get_env() {
        extra.push(format!("env `{}`", env.to_string_lossy()));
    }
    if !extra.is_empty() {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&format!("({})", extra.join("; ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    #[command(name = "tool", version = "1.0 (commit x)")]
    struct Cli {
        /// A global folder.
        #[arg(long, global = true, env = "TOOL_HOME")]
        home: Option<String>,
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        /// Run a thing.
        Run {
            /// The file.
            file: String,
            /// An input (repeatable).
            #[arg(short, long = "input", value_name = "KEY=VALUE")]
            inputs: Vec<String>,
            #[arg(long, default_value_t = 8)]
            workers: usize,
        },
        #[command(hide = true)]
        Secret,
    }

    #[test]
    fn commands_options_defaults_and_env_names_are_listed_and_the_version_and_hidden_ones_are_not() {
        let page = page(&<Cli as clap::CommandFactory>::command());
        let t = &page.text;
        assert!(t.contains("| `--home <HOME>` | A global folder (env `TOOL_HOME`) |"), "{t}");
        assert!(t.contains("| [`tool run`](#tool-run) | Run a thing |"), "{t}");
        assert!(t.contains("```text\ntool run [OPTIONS] <FILE>\n```"), "{t}");
        assert!(t.contains("| `-i, --input <KEY=VALUE>` | An input (repeatable) |"), "{t}");
        assert!(t.contains("| `--workers <WORKERS>` | (default `8`) |"), "{t}");
        assert!(!t.contains("secret") && !t.contains("commit") && !t.contains("--version"), "{t}");
    }
}
