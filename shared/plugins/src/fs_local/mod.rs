//! `io.kestra.plugin.fs.local.*` (plugin-fs's local tasks): `Copy`,
//! `Move`, `Delete`, `List`, `Download`/`Downloads` (local files into
//! internal storage), `Upload`/`Uploads` (stored files onto the local disk).
//! Every path is checked against the folders `BATON_LOCAL_ALLOWED_PATHS`
//! allows (Kestra's `allowed-paths`; none set, every task refuses): see
//! [`paths`]. This module owns what the tasks share: running disk work off
//! the async threads with its log lines kept for the task's log, the
//! listing walk and its bound (`MAX_LOCAL_FILES`), and full-match regular
//! expressions as Java's `String.matches`, and the `action` Downloads and
//! the `local.Trigger` take. [`watch`] is what the trigger (the runtime's
//! `triggers::fs_local`) does on disk.

mod copy_move;
mod delete;
mod download;
mod list;
mod paths;
mod upload;
pub mod watch;

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use crate::config::{MAX_LOCAL_ENTRIES, MAX_LOCAL_FILES};
use crate::{RunContext, TaskError};

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    r.register(*copy_move::COPY);
    r.register(*copy_move::MOVE);
    r.register(*delete::DELETE);
    r.register(*list::LIST);
    r.register(*download::DOWNLOAD);
    r.register(*download::DOWNLOADS);
    r.register(*upload::UPLOAD);
    r.register(*upload::UPLOADS);
}

/// What Downloads and the Trigger do with a file once stored (Kestra's
/// `Downloads.Action`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Delete,
    /// Into this folder, under the file's name.
    Move(String),
}

impl Action {
    /// `action` and `moveDirectory` as written (`MOVE` needs the folder).
    pub fn parse(action: Option<&str>, move_directory: Option<&str>) -> Result<Action, TaskError> {
        match action.map(|a| a.trim().to_ascii_uppercase()).as_deref() {
            None | Some("NONE") => Ok(Action::None),
            Some("DELETE") => Ok(Action::Delete),
            Some("MOVE") => match move_directory.map(str::trim).filter(|d| !d.is_empty()) {
                Some(d) => Ok(Action::Move(d.to_string())),
                None => {
                    Err(TaskError::property("moveDirectory", "moveDirectory must be specified when action is MOVE"))
                }
            },
            Some(a) => Err(TaskError::property("action", format!("'{a}' is not one of MOVE, DELETE, NONE"))),
        }
    }

    /// Does the action with each of `files`, each path checked again.
    fn perform(&self, allowed: &[PathBuf], files: &[PathBuf], j: &mut Journal) -> Result<(), TaskError> {
        for path in files {
            match self {
                Action::None => {}
                Action::Delete => {
                    let path = paths::resolve(allowed, &paths::absolute(path).to_string_lossy())?;
                    if path.exists() {
                        delete::delete_path(&path, false, j)?;
                    }
                }
                Action::Move(dir) => {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    let to = format!("{}/{name}", dir.trim_end_matches('/'));
                    copy_move::move_into(allowed, path, &to, j)?;
                }
            }
        }
        Ok(())
    }
}

/// Log lines written while disk work ran on a blocking thread, emitted to
/// the task's log once it is done.
#[derive(Default)]
pub struct Journal(Vec<(&'static str, String)>);

impl Journal {
    /// The lines, each with its level (`INFO`, `WARN`, `DEBUG`).
    pub fn lines(&self) -> &[(&'static str, String)] {
        &self.0
    }
    fn info(&mut self, m: String) {
        self.0.push(("INFO", m));
    }
    fn warn(&mut self, m: String) {
        self.0.push(("WARN", m));
    }
    fn debug(&mut self, m: String) {
        self.0.push(("DEBUG", m));
    }
}

/// Runs `work` on a blocking thread with the allowed folders, then logs
/// what it journaled (also when it failed).
async fn on_disk<T: Send + 'static>(
    cx: &RunContext,
    work: impl FnOnce(&[PathBuf], &mut Journal) -> Result<T, TaskError> + Send + 'static,
) -> Result<T, TaskError> {
    let allowed = paths::allowed(&cx.services.config.local_allowed_paths)?;
    let (result, journal) = tokio::task::spawn_blocking(move || {
        let mut j = Journal::default();
        let r = work(&allowed, &mut j);
        (r, j)
    })
    .await
    .map_err(|e| TaskError::failed(format!("the local filesystem work stopped: {e}")))?;
    for (level, line) in journal.0 {
        cx.log(level, &line);
    }
    result
}

/// An I/O error as a task failure naming what was done.
fn io_err(what: &str, path: &Path, e: std::io::Error) -> TaskError {
    TaskError::failed(format!("cannot {what} '{}': {e}", path.display()))
}

/// A regular expression matching whole strings, as Java's `String.matches`.
fn full_match(property: &str, written: &str) -> Result<regex::Regex, TaskError> {
    regex::Regex::new(&format!("^(?:{written})$"))
        .map_err(|e| TaskError::property(property, format!("Invalid regExp '{written}': {e}")))
}

/// Calls `f` with every entry under `start` (itself first; its children
/// only, or every depth when `recursive`), in a walk that follows no
/// symbolic link, a folder's entries by name.
fn visit(
    start: &Path,
    recursive: bool,
    mut f: impl FnMut(&Path, &Metadata) -> Result<(), TaskError>,
) -> Result<(), TaskError> {
    let mut stack = vec![(start.to_path_buf(), 0usize)];
    let mut read = 0usize;
    while let Some((path, depth)) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| io_err("read", &path, e))?;
        f(&path, &meta)?;
        if meta.is_dir() && (depth == 0 || recursive) {
            let mut children = Vec::new();
            for entry in std::fs::read_dir(&path).map_err(|e| io_err("list", &path, e))? {
                read += 1;
                if read > MAX_LOCAL_ENTRIES {
                    return Err(TaskError::failed(format!(
                        "'{}' holds more than {MAX_LOCAL_ENTRIES} entries to walk (MAX_LOCAL_ENTRIES): list a deeper folder",
                        start.display()
                    )));
                }
                children.push(entry.map_err(|e| io_err("list", &path, e))?.path());
            }
            children.sort();
            stack.extend(children.into_iter().rev().map(|c| (c, depth + 1)));
        }
    }
    Ok(())
}

/// The regular files [`visit`] meets that `keep` takes; fails past
/// `MAX_LOCAL_FILES`.
fn walk(
    start: &Path,
    recursive: bool,
    mut keep: impl FnMut(&Path) -> bool,
) -> Result<Vec<(PathBuf, Metadata)>, TaskError> {
    let mut found = Vec::new();
    visit(start, recursive, |path, meta| {
        if !meta.is_file() || !keep(path) {
            return Ok(());
        }
        if found.len() == MAX_LOCAL_FILES {
            return Err(TaskError::failed(format!(
                "'{}' holds more than {MAX_LOCAL_FILES} files to take (MAX_LOCAL_FILES): narrow it with regExp or a deeper folder",
                start.display()
            )));
        }
        found.push((path.to_path_buf(), meta.clone()));
        Ok(())
    })?;
    Ok(found)
}

/// Where a file of a folder goes in another: `to` joined with the path
/// relative to `from` (used by Copy and Move of folders).
fn rebase(from: &Path, to: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(from).map(|rel| to.join(rel)).unwrap_or_else(|_| to.to_path_buf())
}
