//! What `PushFlows` and `PushNamespaceFiles` share (plugin-git's
//! `AbstractPushTask`): clone `branch` (created from the default branch when
//! the remote lacks it, or unborn in an empty repository), write the
//! resources under `gitDirectory`, remove with `delete` (the default) the
//! files there that the instance no longer has (only those the globs
//! match, when given), stage, and — unless `dryRun` — commit and push.
//! Either way the diff file is written: an ION file, one row per changed
//! file, `{changes:"3",file:"_flows/f.yml",deletions:"-5",additions:"+10"}`,
//! counted per edit as Kestra does (lines added past those removed are
//! additions, the reverse deletions, a like-for-like replacement changes).
//! The Git work is libgit2's (`git2`), blocking, run on the blocking pool.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use super::fetch::{self, GitError, Remote, redact};
use crate::{Declare, TaskError, de};

/// The push properties, `#[serde(flatten)]`ed into each push task's.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub(super) struct PushProps {
    /// The branch (created from the default branch when missing).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"main\"")]
    pub branch: Option<String>,
    /// The commit message (Kestra's default names the namespace).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub commit_message: Option<String>,
    /// Write the diff file only: no commit, no push.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    pub dry_run: Option<bool>,
    /// The commit author's email (with a name: the author; else the Git configuration's).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub author_email: Option<String>,
    /// The commit author's name (default `username`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub author_name: Option<String>,
    /// Remove from Git the files of `gitDirectory` the instance no longer has.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    pub delete: Option<bool>,
}

impl PushProps {
    /// The branch pushed to.
    pub fn branch(&self) -> String {
        self.branch.clone().filter(|b| !b.trim().is_empty()).unwrap_or_else(|| "main".to_string())
    }

    /// The push of `files` to `git_dir` these properties describe
    /// (`message`: Kestra's default commit message).
    pub fn job(
        &self,
        git: &super::Connection,
        git_dir: String,
        files: Vec<(String, PathBuf)>,
        globs: Option<GlobSet>,
        message: String,
    ) -> Job {
        // the author: authorName (else username) with authorEmail, when both
        // are known (else the Git configuration's, as Kestra leaves it)
        let name = self.author_name.clone().or_else(|| git.username.clone());
        Job {
            remote: git.remote(),
            branch: self.branch(),
            git_dir,
            files,
            globs,
            delete: self.delete.unwrap_or(true),
            dry_run: self.dry_run.unwrap_or(false),
            message: self.commit_message.clone().unwrap_or(message),
            author: name.zip(self.author_email.clone()),
        }
    }
}

/// One push: where, what, and how.
pub(super) struct Job {
    pub remote: Remote,
    pub branch: String,
    /// The folder inside the repository (normalised, `""` for the root).
    pub git_dir: String,
    /// (path under `git_dir`, local file holding the content).
    pub files: Vec<(String, PathBuf)>,
    /// Which files of `git_dir` `delete` may remove (`None`: all).
    pub globs: Option<GlobSet>,
    pub delete: bool,
    pub dry_run: bool,
    pub message: String,
    /// (name, email) when both are known.
    pub author: Option<(String, String)>,
}

/// What a push did.
pub(super) struct Pushed {
    /// The commit pushed (`None`: a dry run, or nothing changed).
    pub commit_id: Option<String>,
    /// The ION rows of the diff file.
    pub diff: String,
    pub changed: usize,
    /// The branch did not exist and was created.
    pub created_branch: bool,
}

/// Globs as Kestra's `PathMatcher("glob:…")`: `*` stays inside a folder,
/// `**` crosses folders. A string holding a JSON list is that list.
pub(super) fn globs(field: &str, raw: &[String]) -> Result<Option<GlobSet>, TaskError> {
    let list: Vec<String> = match raw {
        [one] => serde_json::from_str::<Vec<String>>(one).unwrap_or_else(|_| vec![one.clone()]),
        many => many.to_vec(),
    };
    if list.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for g in &list {
        let glob = GlobBuilder::new(g)
            .literal_separator(true)
            .build()
            .map_err(|e| TaskError::property(field, format!("'{g}' is not a glob: {e}")))?;
        b.add(glob);
    }
    b.build().map(Some).map_err(|e| TaskError::property(field, e.to_string()))
}

/// Kestra's link to a commit: the repository's web address, `/commit/` and the id.
pub(super) fn commit_url(url: &str, commit: &str) -> String {
    let base = redact(url);
    let base = base.trim_end_matches('/').trim_end_matches(".git");
    let sub = if base.contains("bitbucket.org") { "commits" } else { "commit" };
    format!("{base}/{sub}/{commit}")
}

fn git_failed(url: &str) -> impl Fn(git2::Error) -> GitError + '_ {
    move |e| GitError::Other { url: url.to_string(), branch: String::new(), message: e.message().to_string() }
}

/// Runs `job` in the empty or missing folder `work`. Blocking.
pub(super) fn run(job: &Job, work: &Path) -> Result<Pushed, GitError> {
    let url = redact(&job.remote.url);
    let err = git_failed(&url);
    let (repo, created_branch) = fetch::clone_for_push(&job.remote, &job.branch, work)?;
    let base = if job.git_dir.is_empty() { work.to_path_buf() } else { work.join(&job.git_dir) };
    std::fs::create_dir_all(&base).map_err(|e| GitError::Other {
        url: url.clone(),
        branch: job.branch.clone(),
        message: format!("cannot create gitDirectory '{}': {e}", job.git_dir),
    })?;
    let io =
        |e: std::io::Error| GitError::Other { url: url.clone(), branch: job.branch.clone(), message: e.to_string() };

    // the files Git has there that the instance no longer has
    let mut removed = Vec::new();
    if job.delete {
        let keep: std::collections::HashSet<&str> = job.files.iter().map(|(rel, _)| rel.as_str()).collect();
        for (rel, abs) in fetch::tree_files(&base).map_err(io)? {
            if keep.contains(rel.as_str()) || rel.ends_with(".kestraignore") {
                continue;
            }
            let name = rel.rsplit('/').next().unwrap_or(&rel);
            let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
            let full = if job.git_dir.is_empty() { rel.clone() } else { format!("{}/{rel}", job.git_dir) };
            if job.globs.as_ref().is_none_or(|g| g.is_match(&full) || g.is_match(name) || g.is_match(stem)) {
                std::fs::remove_file(&abs).map_err(io)?;
                removed.push(full);
            }
        }
    }
    for (rel, from) in &job.files {
        let to = base.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::copy(from, &to).map_err(io)?;
    }

    // stage what changed under gitDirectory
    let mut index = repo.index().map_err(&err)?;
    let spec = if job.git_dir.is_empty() { "*".to_string() } else { format!("{}/*", job.git_dir) };
    index.add_all([spec.as_str()], git2::IndexAddOption::DEFAULT, None).map_err(&err)?;
    index.update_all([spec.as_str()], None).map_err(&err)?;
    index.write().map_err(&err)?;
    let head_tree = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let diff = repo.diff_tree_to_index(head_tree.as_ref(), Some(&index), None).map_err(&err)?;
    let (rows, changed) = diff_rows(&diff).map_err(&err)?;
    if job.dry_run || changed == 0 {
        return Ok(Pushed { commit_id: None, diff: rows, changed, created_branch });
    }

    // commit and push
    let tree = repo.find_tree(index.write_tree().map_err(&err)?).map_err(&err)?;
    let sig = match &job.author {
        Some((name, email)) => git2::Signature::now(name, email),
        None => repo.signature().or_else(|_| git2::Signature::now("baton", "baton@localhost")),
    }
    .map_err(&err)?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let refname = format!("refs/heads/{}", job.branch);
    let commit = repo.commit(Some(&refname), &sig, &sig, &job.message, &tree, &parents).map_err(&err)?;
    fetch::push_branch(&repo, &job.remote, &job.branch)?;
    Ok(Pushed { commit_id: Some(commit.to_string()), diff: rows, changed, created_branch })
}

/// Counts one edit (`run`: lines removed, lines added) as Kestra does.
fn settle(run: &mut (usize, usize), counts: &mut (usize, usize, usize)) {
    let (a, b) = std::mem::take(run);
    match b.cmp(&a) {
        std::cmp::Ordering::Greater => counts.0 += b - a,
        std::cmp::Ordering::Less => counts.1 += a - b,
        std::cmp::Ordering::Equal => counts.2 += b,
    }
}

/// The diff file's rows, sorted by path, and how many files changed.
fn diff_rows(diff: &git2::Diff<'_>) -> Result<(String, usize), git2::Error> {
    let mut rows = Vec::new();
    for i in 0..diff.deltas().len() {
        let Some(delta) = diff.get_delta(i) else { continue };
        let file = if delta.status() == git2::Delta::Deleted { delta.old_file() } else { delta.new_file() };
        let path = file.path().map(|p| p.to_string_lossy().replace('\\', "/")).unwrap_or_default();
        // (additions, deletions, changes)
        let mut counts = (0usize, 0usize, 0usize);
        if let Some(patch) = git2::Patch::from_diff(diff, i)? {
            for h in 0..patch.num_hunks() {
                // an edit: a run of removed and added lines between context lines
                let mut run = (0usize, 0usize);
                for l in 0..patch.num_lines_in_hunk(h)? {
                    match patch.line_in_hunk(h, l)?.origin() {
                        '-' => run.0 += 1,
                        '+' => run.1 += 1,
                        '=' | '>' | '<' => {}
                        _ => settle(&mut run, &mut counts),
                    }
                }
                settle(&mut run, &mut counts);
            }
        }
        let (additions, deletions, changes) = counts;
        rows.push((path, additions, deletions, changes));
    }
    rows.sort();
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let text = rows
        .iter()
        .map(|(file, a, d, c)| {
            format!(
                "{{changes:{},file:{},deletions:{},additions:{}}}\n",
                q(&c.to_string()),
                q(file),
                q(&format!("-{d}")),
                q(&format!("+{a}"))
            )
        })
        .collect();
    Ok((text, rows.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_commit_links_read_as_kestra_s() {
        let g = globs("flows", &["my_*".to_string()]).expect("globs").expect("some");
        assert!(g.is_match("my_flow") && !g.is_match("other") && !g.is_match("a/my_flow"));
        let g = globs("flows", &["[\"a\", \"b*\"]".to_string()]).expect("globs").expect("some");
        assert!(g.is_match("a") && g.is_match("bee"));
        let g = globs("files", &["**".to_string()]).expect("globs").expect("some");
        assert!(g.is_match("scripts/x/y.py"));
        assert!(globs("files", &[]).expect("none").is_none());
        assert!(globs("files", &["a[".to_string()]).expect_err("bad").to_string().contains("'files'"));
        assert_eq!(commit_url("https://u:t@github.com/o/r.git", "abc"), "https://github.com/o/r/commit/abc");
        assert_eq!(commit_url("https://bitbucket.org/o/r", "abc"), "https://bitbucket.org/o/r/commits/abc");
    }
}
