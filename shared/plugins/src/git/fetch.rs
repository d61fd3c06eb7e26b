//! Cloning one branch of a remote repository with libgit2 (`git2`), over
//! smart HTTP(S), with optional username/password, shallow by default.
//! Failures are sorted into what a user can act on — unreachable host,
//! rejected credentials, missing branch — and always name the URL with any
//! credentials removed.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use git2::{ErrorClass, ErrorCode};

/// Where to clone from and how to authenticate.
#[derive(Clone)]
pub struct Remote {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("url", &redact(&self.url)).finish_non_exhaustive()
    }
}

/// Why a clone failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot reach the Git repository {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Git repository {url} rejected the credentials{user}")]
    Auth { url: String, user: String },
    #[error("branch '{branch}' does not exist in the Git repository {url}")]
    BranchNotFound { url: String, branch: String },
    #[error("cloning the Git repository {url} (branch '{branch}') failed: {message}")]
    Other { url: String, branch: String, message: String },
}

/// `url` without the `user:password@` part.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_string(),
    }
}

/// Credentials written in the URL (`https://user:token@host/…`), if any.
fn url_credentials(url: &str) -> (Option<String>, Option<String>) {
    let Some((_, rest)) = url.split_once("://") else { return (None, None) };
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.rsplit_once('@') {
        Some((user_info, _)) => match user_info.split_once(':') {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
            None => (Some(user_info.to_string()), None),
        },
        None => (None, None),
    }
}

/// Clones `branch` (the remote's default branch when `None`) of `remote`
/// into the empty or missing folder `into`, `depth` commits deep (`None`:
/// full history). Returns the checked-out commit id. Blocking: call it
/// from `spawn_blocking`.
pub fn clone_branch(
    remote: &Remote,
    branch: Option<&str>,
    depth: Option<u32>,
    into: &Path,
) -> Result<String, GitError> {
    let url = redact(&remote.url);
    let auth = Auth::of(remote);
    let callbacks = auth.callbacks();
    let mut fetch = git2::FetchOptions::new();
    fetch.remote_callbacks(callbacks);
    if let Some(d) = depth.filter(|d| *d > 0) {
        fetch.depth(i32::try_from(d).unwrap_or(i32::MAX));
    }
    let mut builder = git2::build::RepoBuilder::new();
    builder.fetch_options(fetch);
    if let Some(b) = branch {
        builder.branch(b);
    }
    let plain_url = strip_credentials(&remote.url);
    let result = builder.clone(&plain_url, into);
    let branch_name = branch.unwrap_or("(default)").to_string();
    let repo = result.map_err(|e| auth.classify(&e, &url, &branch_name))?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| GitError::Other {
        url: url.clone(),
        branch: branch_name.clone(),
        message: e.message().to_string(),
    })?;
    Ok(head.id().to_string())
}

/// The credentials of a remote (properties first, then the URL's) and how
/// often they were asked for: a second ask means they were rejected.
struct Auth {
    username: Option<String>,
    password: Option<String>,
    attempts: Cell<u32>,
}

impl Auth {
    fn of(remote: &Remote) -> Auth {
        let (url_user, url_password) = url_credentials(&remote.url);
        Auth {
            username: remote.username.clone().or(url_user),
            password: remote.password.clone().or(url_password),
            attempts: Cell::new(0),
        }
    }

    fn callbacks(&self) -> git2::RemoteCallbacks<'_> {
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.credentials(|_url, user_from_url, allowed| {
            self.attempts.set(self.attempts.get() + 1);
            if self.attempts.get() > 1 || !allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) {
                return Err(git2::Error::new(ErrorCode::Auth, ErrorClass::Http, "credentials rejected"));
            }
            let user = self.username.as_deref().or(user_from_url).unwrap_or("");
            match (&self.password, user.is_empty()) {
                (Some(p), _) => git2::Cred::userpass_plaintext(user, p),
                (None, false) => git2::Cred::userpass_plaintext(user, ""),
                (None, true) => Err(git2::Error::new(ErrorCode::Auth, ErrorClass::Http, "credentials required")),
            }
        });
        callbacks
    }

    fn classify(&self, e: &git2::Error, url: &str, branch: &str) -> GitError {
        classify(e, url, branch, self.attempts.get(), self.username.as_deref())
    }
}

/// Clones `remote` into `into` for a push to `branch`: its history when the
/// remote has the branch, else a new local branch from the default one (or
/// an unborn branch in an empty repository). Returns the repository and
/// whether the branch is new. Blocking.
pub fn clone_for_push(remote: &Remote, branch: &str, into: &Path) -> Result<(git2::Repository, bool), GitError> {
    let url = redact(&remote.url);
    let auth = Auth::of(remote);
    let mut fetch = git2::FetchOptions::new();
    fetch.remote_callbacks(auth.callbacks());
    let mut builder = git2::build::RepoBuilder::new();
    builder.fetch_options(fetch);
    let repo = builder.clone(&strip_credentials(&remote.url), into).map_err(|e| auth.classify(&e, &url, branch))?;
    let other = |e: git2::Error| GitError::Other {
        url: url.clone(),
        branch: branch.to_string(),
        message: e.message().to_string(),
    };
    let local = format!("refs/heads/{branch}");
    let created = {
        let (start, created) = match repo.find_reference(&format!("refs/remotes/origin/{branch}")) {
            Ok(r) => (Some(r.peel_to_commit().map_err(other)?), false),
            Err(_) => (repo.head().ok().and_then(|h| h.peel_to_commit().ok()), true),
        };
        if let Some(commit) = start {
            if repo.find_branch(branch, git2::BranchType::Local).is_err() {
                repo.branch(branch, &commit, false).map_err(other)?;
            }
            repo.set_head(&local).map_err(other)?;
            repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force())).map_err(other)?;
        } else {
            // an empty repository: the first commit makes the branch
            repo.set_head(&local).map_err(other)?;
        }
        created
    };
    Ok((repo, created))
}

/// Pushes local `branch` to the same branch of `remote`; a rejected update
/// (not a fast-forward: someone pushed meanwhile) is an error naming it.
pub fn push_branch(repo: &git2::Repository, remote: &Remote, branch: &str) -> Result<(), GitError> {
    let url = redact(&remote.url);
    let auth = Auth::of(remote);
    let rejected = std::cell::RefCell::new(None::<String>);
    let mut callbacks = auth.callbacks();
    callbacks.push_update_reference(|name, status| {
        if let Some(why) = status {
            *rejected.borrow_mut() = Some(format!("{name}: {why}"));
        }
        Ok(())
    });
    let mut opts = git2::PushOptions::new();
    opts.remote_callbacks(callbacks);
    let mut origin = repo.find_remote("origin").map_err(|e| auth.classify(&e, &url, branch))?;
    let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
    origin.push(&[spec.as_str()], Some(&mut opts)).map_err(|e| auth.classify(&e, &url, branch))?;
    drop(origin);
    drop(opts);
    if let Some(why) = rejected.into_inner() {
        return Err(GitError::Other {
            url,
            branch: branch.to_string(),
            message: format!("the push was rejected ({why}): the branch changed meanwhile; run the task again"),
        });
    }
    Ok(())
}

/// The URL libgit2 is given: credentials go through the callback instead.
fn strip_credentials(url: &str) -> String {
    let (user, _) = url_credentials(url);
    if user.is_some() { redact(url) } else { url.to_string() }
}

fn classify(e: &git2::Error, url: &str, branch: &str, attempts: u32, user: Option<&str>) -> GitError {
    let message = e.message().to_string();
    let lower = message.to_ascii_lowercase();
    let user = user.map(|u| format!(" for user '{u}'")).unwrap_or_default();
    if e.code() == ErrorCode::Auth
        || attempts > 1
        || lower.contains("authentication")
        || lower.contains("401")
        || lower.contains("403")
    {
        return GitError::Auth { url: url.to_string(), user };
    }
    if e.class() == ErrorClass::Reference
        || (lower.contains("reference") && lower.contains("not found"))
        || lower.contains("remote branch")
    {
        return GitError::BranchNotFound { url: url.to_string(), branch: branch.to_string() };
    }
    if matches!(e.class(), ErrorClass::Net | ErrorClass::Os | ErrorClass::Ssl | ErrorClass::Http)
        || lower.contains("failed to connect")
        || lower.contains("could not resolve")
        || lower.contains("404")
    {
        return GitError::Unreachable { url: url.to_string(), reason: message };
    }
    GitError::Other { url: url.to_string(), branch: branch.to_string(), message }
}

/// Every file of a checked-out tree under `dir` (`.git` excluded), as
/// (path relative to `dir` with `/` separators, absolute path), sorted.
pub fn tree_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            if entry.file_name() == ".git" {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file()
                && let Some(rel) = baton_backend::nsfiles::relative_to(dir, &entry.path())
            {
                out.push((rel, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(redact("https://user:tok@github.com/a/b.git"), "https://github.com/a/b.git");
        assert_eq!(redact("https://github.com/a/b"), "https://github.com/a/b");
        assert_eq!(redact("http://u@127.0.0.1:8080/r.git"), "http://127.0.0.1:8080/r.git");
        assert_eq!(url_credentials("https://user:tok@h/x"), (Some("user".into()), Some("tok".into())));
        assert_eq!(url_credentials("https://h/x@y"), (None, None));
        let r = Remote { url: "https://u:secret@h/r".into(), username: None, password: Some("p".into()) };
        assert!(!format!("{r:?}").contains("secret"));
    }

    #[test]
    fn an_unreachable_repository_is_named_without_credentials() {
        let dir = std::env::temp_dir().join(format!("baton-git-{}", uuid::Uuid::new_v4()));
        // a port nothing listens on
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let remote =
            Remote { url: format!("http://bob:hunter2@127.0.0.1:{port}/r.git"), username: None, password: None };
        let err = clone_branch(&remote, Some("main"), Some(1), &dir).expect_err("nothing listens");
        let msg = err.to_string();
        assert!(matches!(err, GitError::Unreachable { .. }), "{msg}");
        assert!(msg.contains(&format!("http://127.0.0.1:{port}/r.git")) && !msg.contains("hunter2"), "{msg}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
