//! Two things for the binaries and tests of this crate:
//!
//! - the commit they are built from, for `baton --version`: the short hash
//!   of `HEAD`, with `-dirty` when tracked files differ from it, or
//!   `unknown` outside a git checkout (a crates tarball) or without `git`,
//!   as `BUILD_GIT_COMMIT` (read by `env!`). The script runs again only
//!   when `HEAD` (or its reflog), the branch it names, the packed refs or
//!   the index move,
//!   or a source of the workspace's engine crates changes (which rebuilds
//!   this crate anyway): not on every build.
//! - with the `duckdb` feature linked to a prebuilt libduckdb
//!   (`DUCKDB_LIB_DIR`, set by `scripts/setup/duckdb.sh`), that folder in
//!   the rpath of the binaries and tests, so `baton` runs without
//!   `LD_LIBRARY_PATH`, and handed to the packages that depend on this
//!   one (`links` metadata: the `functions` binaries set the same rpath).
//!   Nothing to do without the feature or with `duckdb-bundled` (linked
//!   statically).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    let linked = std::env::var_os("CARGO_FEATURE_DUCKDB").is_some()
        && std::env::var_os("CARGO_FEATURE_DUCKDB_BUNDLED").is_none();
    if let (true, Some(dir)) = (linked, std::env::var_os("DUCKDB_LIB_DIR")) {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy());
        println!("cargo::metadata=duckdb_rpath={}", dir.to_string_lossy());
    }
    println!("cargo:rustc-env=BUILD_GIT_COMMIT={}", commit());
}

/// `git` in this crate's folder: its trimmed stdout, if it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The short hash of `HEAD` (`-dirty` when tracked files changed), or `unknown`.
fn commit() -> String {
    let Some(hash) = git(&["rev-parse", "--short=10", "HEAD"]) else {
        return "unknown".to_string();
    };
    watch_git();
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty { format!("{hash}-dirty") } else { hash }
}

/// Reruns this script when the commit or the dirty state may have changed.
fn watch_git() {
    let path = |args: &[&str]| git(args).map(PathBuf::from);
    // a worktree has its own HEAD and index; branches live in the common folder
    if let Some(dir) = path(&["rev-parse", "--absolute-git-dir"]) {
        rerun_if_exists(&dir.join("HEAD"));
        // written on every move of HEAD (commit, checkout, reset)
        rerun_if_exists(&dir.join("logs").join("HEAD"));
        rerun_if_exists(&dir.join("index"));
    }
    if let Some(common) = path(&["rev-parse", "--path-format=absolute", "--git-common-dir"]) {
        rerun_if_exists(&common.join("packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]).map(|b| common.join(b)) {
            // a branch only in packed-refs gets its own file on its next commit
            if branch.exists() {
                rerun_if_exists(&branch);
            } else if let Some(heads) = branch.parent() {
                rerun_if_exists(heads);
            }
        }
    }
    // an edit not yet staged: the engine crates' sources (this crate's too)
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    rerun_if_exists(&manifest.join("src"));
    if let Ok(entries) = std::fs::read_dir(&manifest) {
        let mut crates: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("src")).filter(|p| p.is_dir()).collect();
        crates.sort();
        for src in crates {
            rerun_if_exists(&src);
        }
    }
}

fn rerun_if_exists(p: &Path) {
    if p.exists() {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}
