//! Parsing the command line with a "did you mean" for short typos clap's
//! own similarity measure misses (`rn` for `run`): an unknown subcommand
//! one edit (or one swap) away from a real one gets clap's usual tip.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use super::args::Cli;

/// Parses `std::env::args`, exiting with clap's message on an error.
pub fn parse() -> Cli {
    parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

/// Parses `args` (the program name first).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let mut cmd = Cli::command();
    match cmd.try_get_matches_from_mut(args.clone()) {
        Ok(m) => Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd)),
        Err(mut e) => {
            if e.kind() == ErrorKind::InvalidSubcommand && e.get(ContextKind::SuggestedSubcommand).is_none() {
                let typed = match e.get(ContextKind::InvalidSubcommand) {
                    Some(ContextValue::String(s)) => s.clone(),
                    _ => return Err(e),
                };
                let names = names_at(&cmd, &args, &typed);
                let near: Vec<String> = names.into_iter().filter(|n| near(&typed, n)).collect();
                if !near.is_empty() {
                    e.insert(ContextKind::SuggestedSubcommand, ContextValue::Strings(near));
                }
            }
            Err(e)
        }
    }
}

/// The subcommand names at the level where `typed` was given: the command
/// reached by the words before it.
fn names_at(root: &clap::Command, args: &[std::ffi::OsString], typed: &str) -> Vec<String> {
    let mut cmd = root;
    for a in args.iter().skip(1) {
        let a = a.to_string_lossy();
        if a == typed {
            break;
        }
        if let Some(sub) = cmd.find_subcommand(&*a) {
            cmd = sub;
        }
    }
    cmd.get_subcommands().filter(|c| !c.is_hide_set()).map(|c| c.get_name().to_string()).collect()
}

/// One insertion, deletion, substitution or swap of neighbours apart.
fn near(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let i = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[i..], &b[i..]);
    match ra.len().cmp(&rb.len()) {
        std::cmp::Ordering::Less => ra == &rb[1..],
        std::cmp::Ordering::Greater => &ra[1..] == rb,
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..] || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_is_near() {
        assert!(near("rn", "run") && near("rnu", "run") && near("runn", "run") && near("kb", "kv"));
        assert!(!near("run", "run") && !near("xyz", "run") && !near("r", "run"));
    }

    #[test]
    fn a_short_typo_gets_clap_s_tip() {
        let e = parse_from(["baton", "rn", "flow.yml"]).err().expect("an error");
        let text = e.to_string();
        assert!(text.contains("'run'"), "{text}");
        let e = parse_from(["baton", "executions", "lst"]).err().expect("an error");
        assert!(e.to_string().contains("'list'"), "{e}");
    }
}
