//! `io.kestra.plugin.fs.local.Copy` and `…local.Move`: a file or a folder
//! from `from` to `to`, both in the allowed folders. A file goes into `to`
//! when `to` is an existing folder; an existing target fails the task
//! unless `overwrite` (default false). A folder is copied (or moved) entry
//! by entry, an existing target file skipped with a warning unless
//! `overwrite`; a folder never goes into itself. Move renames when it can
//! and copies then deletes across devices; after a folder is moved its
//! source is removed whole, as Kestra's. No outputs.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::paths::{check, resolve};
use super::{Journal, io_err, on_disk, rebase, visit};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Copy a local file or folder.
///
/// Copies `from` to `to` on the local filesystem; both must lie in the folders BATON_LOCAL_ALLOWED_PATHS allows.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.fs.local.Copy",
    group = "core",
    example = "id: copy\ntype: io.kestra.plugin.fs.local.Copy\nfrom: /data/files/input/data.csv\nto: /data/files/backup/data.csv\noverwrite: true\n"
)]
struct Props {
    /// The file or folder to copy (or move).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// Where it goes on the local filesystem.
    #[serde(deserialize_with = "de::string_lenient")]
    to: String,
    /// Replace what exists at the destination; when false, an existing target file fails the task (a file) or is skipped (in a folder).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    overwrite: Option<bool>,
}

/// Move a local file or folder.
///
/// Moves `from` to `to` on the local filesystem; both must lie in the folders BATON_LOCAL_ALLOWED_PATHS allows.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.fs.local.Move",
    group = "core",
    props = Props,
    example = "id: move\ntype: io.kestra.plugin.fs.local.Move\nfrom: /data/files/incoming/data.csv\nto: /data/files/archive/\n"
)]
struct MoveDecl;

#[derive(Debug)]
struct Transfer {
    from: String,
    to: String,
    overwrite: bool,
    moving: bool,
}

fn build(props: &Map<String, Value>, moving: bool) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(Transfer { from: p.from, to: p.to, overwrite: p.overwrite.unwrap_or(false), moving }))
}

#[async_trait]
impl RunnableTask for Transfer {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (from, to, overwrite, moving) = (self.from.clone(), self.to.clone(), self.overwrite, self.moving);
        on_disk(cx, move |allowed, j| {
            let source = resolve(allowed, &from)?;
            let target = resolve(allowed, &to)?;
            if !source.exists() {
                return Err(TaskError::failed(format!("Source path does not exist: {}", source.display())));
            }
            let t = Target { allowed, overwrite };
            match (source.is_dir(), moving) {
                (true, false) => t.copy_dir(&source, &target, j),
                (false, false) => t.copy_file(&source, &target, j),
                (true, true) => t.move_dir(&source, &target, j),
                (false, true) => t.move_file(&source, &target, j),
            }
        })
        .await?;
        Ok(TaskOutput::default())
    }
}

struct Target<'a> {
    allowed: &'a [PathBuf],
    overwrite: bool,
}

impl Target<'_> {
    fn copy_file(&self, source: &Path, target: &Path, j: &mut Journal) -> Result<(), TaskError> {
        if !source.is_file() || std::fs::File::open(source).is_err() {
            return Err(TaskError::failed(format!(
                "Source file is not a regular or readable file: {}",
                source.display()
            )));
        }
        let target = into_folder(source, target);
        check(self.allowed, &target)?;
        if target.exists() && !self.overwrite {
            return Err(TaskError::failed(format!(
                "Target file already exists: {} . Set 'overwrite: true' to replace the existing file.",
                target.display()
            )));
        }
        make_parent(&target)?;
        std::fs::copy(source, &target).map_err(|e| io_err("copy to", &target, e))?;
        j.info(format!("Copied file from '{}' to '{}'", source.display(), target.display()));
        Ok(())
    }

    fn copy_dir(&self, source: &Path, target: &Path, j: &mut Journal) -> Result<(), TaskError> {
        if target.starts_with(source) {
            return Err(TaskError::failed("Cannot copy a directory into itself or its subdirectory"));
        }
        if !target.exists() {
            std::fs::create_dir_all(target).map_err(|e| io_err("create", target, e))?;
        } else if !target.is_dir() {
            return Err(TaskError::failed(format!("Cannot copy a directory to a file: {}", target.display())));
        }
        self.each_entry(source, target, j, false)?;
        j.info(format!("Copied directory from '{}' to '{}'", source.display(), target.display()));
        Ok(())
    }

    fn move_file(&self, source: &Path, target: &Path, j: &mut Journal) -> Result<(), TaskError> {
        let target = into_folder(source, target);
        check(self.allowed, &target)?;
        if target.exists() && !self.overwrite {
            return Err(TaskError::failed(format!(
                "Target file already exists : {}.\nSet 'overwrite: true' to replace the existing file.",
                target.display()
            )));
        }
        make_parent(&target)?;
        if std::fs::rename(source, &target).is_err() {
            std::fs::copy(source, &target).map_err(|e| io_err("move to", &target, e))?;
            std::fs::remove_file(source).map_err(|e| io_err("delete", source, e))?;
        }
        j.info(format!("Moved file from '{}' to '{}'", source.display(), target.display()));
        Ok(())
    }

    fn move_dir(&self, source: &Path, target: &Path, j: &mut Journal) -> Result<(), TaskError> {
        if !target.exists() {
            make_parent(target)?;
            if std::fs::rename(source, target).is_ok() {
                j.info(format!("Moved directory from '{}' to '{}'", source.display(), target.display()));
                return Ok(());
            }
            std::fs::create_dir_all(target).map_err(|e| io_err("create", target, e))?;
        } else if !target.is_dir() {
            return Err(TaskError::failed(format!("Cannot move a directory to a file: {}", target.display())));
        } else if target.starts_with(source) {
            return Err(TaskError::failed("Cannot move a directory into itself or its subdirectory"));
        }
        self.each_entry(source, target, j, true)?;
        // what remains of the source goes, deepest first, as Kestra's
        let mut left = Vec::new();
        visit(source, true, |p, _| {
            left.push(p.to_path_buf());
            Ok(())
        })?;
        for p in left.iter().rev() {
            let gone = if p.is_dir() && !p.is_symlink() { std::fs::remove_dir(p) } else { std::fs::remove_file(p) };
            if let Err(e) = gone {
                j.warn(format!("Failed to delete {}: {e}", p.display()));
            }
        }
        j.info(format!("Moved directory from '{}' to '{}'", source.display(), target.display()));
        Ok(())
    }

    /// Copies (or moves) each entry of folder `source` into `target`.
    fn each_entry(&self, source: &Path, target: &Path, j: &mut Journal, moving: bool) -> Result<(), TaskError> {
        visit(source, true, |entry, meta| {
            let dest = rebase(source, target, entry);
            if meta.is_dir() {
                return std::fs::create_dir_all(&dest).map_err(|e| io_err("create", &dest, e));
            }
            check(self.allowed, &dest)?;
            if dest.exists() && !self.overwrite {
                j.warn(format!("Target file already exists. Skipping existing file: {}", dest.display()));
                return Ok(());
            }
            // a symbolic link is not followed out of the folder
            if !meta.is_file() {
                j.info(format!("Skipping non-regular or unreadable file: {}", entry.display()));
                return Ok(());
            }
            make_parent(&dest)?;
            let verb = if moving { "moving" } else { "copying" };
            std::fs::copy(entry, &dest)
                .map_err(|e| TaskError::failed(format!("Error {verb} {}: {e}", entry.display())))?;
            if moving {
                std::fs::remove_file(entry).map_err(|e| io_err("delete", entry, e))?;
                j.debug(format!("Moved '{}' to '{}'", entry.display(), dest.display()));
            } else {
                j.info(format!("Copied '{}' to '{}'", entry.display(), dest.display()));
            }
            Ok(())
        })
    }
}

/// Moves the file `source` to `to`, replacing what is there (what
/// Downloads' action MOVE does with each file).
pub(super) fn move_into(allowed: &[PathBuf], source: &Path, to: &str, j: &mut Journal) -> Result<(), TaskError> {
    let source = resolve(allowed, &source.to_string_lossy())?;
    let target = resolve(allowed, to)?;
    if !source.exists() {
        return Err(TaskError::failed(format!("Source path does not exist: {}", source.display())));
    }
    Target { allowed, overwrite: true }.move_file(&source, &target, j)
}

/// `target`, or the source's name inside it when it is a folder.
fn into_folder(source: &Path, target: &Path) -> PathBuf {
    if target.is_dir() { target.join(source.file_name().unwrap_or_default()) } else { target.to_path_buf() }
}

/// Creates the folder `path` goes in.
fn make_parent(path: &Path) -> Result<(), TaskError> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => std::fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e)),
        None => Ok(()),
    }
}

pub static COPY: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(|p| build(p, false)));
pub static MOVE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<MoveDecl>(|p| build(p, true)));
