//! What `io.kestra.plugin.fs.local.Trigger` does on disk (the runtime's
//! `triggers::fs_local` declares the trigger, `runtime::events::fs_local`
//! polls it): the regular files of the watched folder, each with the state
//! key and version Kestra's stateful trigger gives it — the file's identity
//! (device and inode, as Java's `fileKey`) and its modification time in
//! milliseconds with its URI — and the `action` done once a batch's
//! execution exists. Every path is checked against `BATON_LOCAL_ALLOWED_PATHS`
//! as the tasks' are. Blocking: call it off the async threads.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::list::file_json;
use super::paths::{self, file_uri, normalize, resolve};
use super::{Action, Journal, full_match, walk};
use crate::TaskError;

/// A watched folder: what the trigger lists and what it does after.
#[derive(Debug, Clone)]
pub struct Watch {
    from: String,
    pattern: Option<regex::Regex>,
    recursive: bool,
    action: Action,
}

/// One regular file of the watched folder.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    /// The file's identity, as Java's `fileKey`: `(dev=…,ino=…)`.
    pub key: String,
    /// What changes when the file does: modification time (ms) and URI.
    pub version: String,
    /// Kestra's local `File` model of it (its `uri` the `file://` one).
    pub file: Value,
}

impl Watch {
    /// The watch of folder `from` (`regExp` matching the walked path
    /// whole, sub-folders with `recursive`), doing `action` after. A MOVE
    /// into the watched folder itself is refused: the moved files would be
    /// listed again as changed, and fire again, forever.
    pub fn new(from: &str, reg_exp: Option<&str>, recursive: bool, action: Action) -> Result<Watch, TaskError> {
        let pattern = reg_exp.map(|r| full_match("regExp", r)).transpose()?;
        if let Action::Move(dir) = &action {
            let (to, watched) = (normalize(Path::new(dir)), normalize(Path::new(from)));
            if to == watched || (recursive && to.starts_with(&watched)) {
                return Err(TaskError::property(
                    "moveDirectory",
                    format!(
                        "'{dir}' is watched by the trigger itself ('{from}'{}): moved files would trigger again",
                        if recursive { ", recursive" } else { "" }
                    ),
                ));
            }
        }
        Ok(Watch { from: from.to_string(), pattern, recursive, action })
    }

    /// The regular files now in the folder (every depth with `recursive`),
    /// by path; at most `MAX_LOCAL_FILES`. `allowed` is the setting's
    /// folders (none: the refusal every fs.local task gives).
    pub fn scan(&self, allowed: &[PathBuf]) -> Result<Vec<Found>, TaskError> {
        let allowed = paths::allowed(allowed)?;
        let dir = resolve(&allowed, &self.from)?;
        if !dir.is_dir() {
            return Err(TaskError::failed(format!("Source path does not exist or is not a folder: {}", dir.display())));
        }
        let files =
            walk(&dir, self.recursive, |p| self.pattern.as_ref().is_none_or(|re| re.is_match(&p.to_string_lossy())))?;
        Ok(files
            .into_iter()
            .map(|(path, meta)| {
                let uri = file_uri(&path);
                let millis = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis());
                Found {
                    key: format!("(dev={:x},ino={})", meta.dev(), meta.ino()),
                    version: format!("{millis}_{uri}"),
                    file: file_json(&path, &meta),
                    path,
                }
            })
            .collect())
    }

    /// Does the action with `files` (those of a batch whose execution
    /// exists); what it logged. A file already gone was moved or deleted
    /// by an earlier try of the same batch and is passed over.
    pub fn finish(&self, allowed: &[PathBuf], files: &[PathBuf]) -> Result<Journal, TaskError> {
        let allowed = paths::allowed(allowed)?;
        let present: Vec<PathBuf> = files.iter().filter(|p| p.exists()).cloned().collect();
        let mut j = Journal::default();
        self.action.perform(&allowed, &present, &mut j)?;
        Ok(j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("baton-watch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("in/sub")).expect("mkdir");
        d
    }

    #[test]
    fn scans_keys_versions_and_moves_what_it_found() {
        let d = tmp("scan");
        std::fs::write(d.join("in/a.csv"), "a").expect("write");
        std::fs::write(d.join("in/b.txt"), "b").expect("write");
        std::fs::write(d.join("in/sub/c.csv"), "c").expect("write");
        let from = d.join("in").display().to_string();
        let to = d.join("done").display().to_string();
        let w = Watch::new(&from, Some(".*\\.csv"), false, Action::Move(to.clone())).expect("watch");
        let allowed = vec![d.clone()];
        let found = w.scan(&allowed).expect("scan");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].key.starts_with("(dev=") && found[0].version.ends_with("/in/a.csv"), "{found:?}");
        assert_eq!(found[0].file["name"], "a.csv");
        let again = w.scan(&allowed).expect("scan");
        assert_eq!((&again[0].key, &again[0].version), (&found[0].key, &found[0].version));
        let paths: Vec<PathBuf> = found.iter().map(|f| f.path.clone()).collect();
        w.finish(&allowed, &paths).expect("move");
        assert!(d.join("done/a.csv").exists() && !d.join("in/a.csv").exists());
        // a second try of the same batch passes over what is gone
        w.finish(&allowed, &paths).expect("again");
        // recursive takes the sub-folder
        let r = Watch::new(&from, Some(".*\\.csv"), true, Action::None).expect("watch");
        assert_eq!(r.scan(&allowed).expect("scan").len(), 1);
        // outside the allowed folders, and without the setting
        assert!(w.scan(&[d.join("elsewhere")]).is_err());
        assert!(w.scan(&[]).unwrap_err().to_string().contains("BATON_LOCAL_ALLOWED_PATHS"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn refuses_to_move_into_what_it_watches() {
        let moved = |to: &str, recursive: bool| Watch::new("/data/in", None, recursive, Action::Move(to.into()));
        assert!(moved("/data/in", false).is_err());
        assert!(moved("/data/in/done/", true).is_err());
        assert!(moved("/data/in/done", false).is_ok());
        assert!(moved("/data/done", true).is_ok());
        assert!(Watch::new("/data/in", Some("("), false, Action::None).is_err());
    }
}
