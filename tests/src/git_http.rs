//! A Git server over smart HTTP on a random 127.0.0.1 port, for the Git
//! and dbt tests: each request is handed to the real `git http-backend`
//! CGI program (the one `git` ships), so clients take the real network
//! path (`info/refs?service=git-upload-pack`, then `POST git-upload-pack`).
//! Optional HTTP Basic credentials: a request without the right ones gets
//! `401` with a `WWW-Authenticate` challenge, as a private host answers.
//! Plain threads; the server lives as long as the process.
//!
//! [`make_repo`] builds a repository from a list of files with the `git`
//! command line (test set-up only; Baton itself uses libgit2).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;

/// A running server.
#[derive(Debug, Clone)]
pub struct GitServer {
    /// `http://127.0.0.1:PORT`; a repository `x.git` under the root is
    /// `{base}/x.git`.
    pub base: String,
}

/// Serves the bare repositories under `root`; with `credentials`
/// (`user`, `password`) every request must carry them.
pub fn serve_git(root: impl Into<PathBuf>, credentials: Option<(&str, &str)>) -> GitServer {
    let root = root.into();
    let expected = credentials
        .map(|(u, p)| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind a local port: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("local addr: {e}"));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(sock) = conn else { continue };
            let (root, expected) = (root.clone(), expected.clone());
            std::thread::spawn(move || {
                let _ = handle(sock, &root, expected.as_deref());
            });
        }
    });
    GitServer { base: format!("http://{addr}") }
}

fn handle(mut sock: TcpStream, root: &Path, expected: Option<&str>) -> std::io::Result<()> {
    let mut reader = BufReader::new(sock.try_clone()?);
    loop {
        let mut first = String::new();
        if reader.read_line(&mut first)? == 0 {
            return Ok(());
        }
        let mut parts = first.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("GET").to_string(), parts.next().unwrap_or("/").to_string());
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
                break;
            }
            if let Some((k, v)) = line.trim_end().split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(n, 0);
            reader.read_exact(&mut body)?;
        } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            read_chunked(&mut reader, &mut body)?;
        }
        if let Some(want) = expected
            && header("authorization").as_deref() != Some(want)
        {
            let msg = "authentication required\n";
            write!(
                sock,
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: {}\r\n\r\n{msg}",
                msg.len()
            )?;
            continue;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let mut cgi = Command::new("git");
        cgi.arg("http-backend")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GIT_PROJECT_ROOT", root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("REQUEST_METHOD", &method)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            .env("CONTENT_LENGTH", body.len().to_string())
            .env("REMOTE_USER", "tester")
            .env("REMOTE_ADDR", "127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(ct) = header("content-type") {
            cgi.env("CONTENT_TYPE", ct);
        }
        if let Some(p) = header("git-protocol") {
            cgi.env("GIT_PROTOCOL", p);
        }
        if let Some(enc) = header("content-encoding") {
            cgi.env("HTTP_CONTENT_ENCODING", enc);
        }
        let mut child = cgi.spawn()?;
        let mut stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
        let writer = std::thread::spawn(move || stdin.write_all(&body));
        let out = child.wait_with_output()?;
        let _ = writer.join();
        respond(&mut sock, &out.stdout)?;
        if header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
            return Ok(());
        }
    }
}

fn read_chunked(reader: &mut impl BufRead, body: &mut Vec<u8>) -> std::io::Result<()> {
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        if n == 0 {
            let mut end = String::new();
            reader.read_line(&mut end)?;
            return Ok(());
        }
        let start = body.len();
        body.resize(start + n, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = String::new();
        reader.read_line(&mut crlf)?;
    }
}

/// Turns the CGI output (headers, blank line, body) into an HTTP response.
fn respond(sock: &mut TcpStream, cgi: &[u8]) -> std::io::Result<()> {
    let split = cgi.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    let split = split.or_else(|| cgi.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head, body) = match split {
        Some((i, n)) => (String::from_utf8_lossy(&cgi[..i]).to_string(), &cgi[i + n..]),
        None => (String::new(), cgi),
    };
    let mut status = "200 OK".to_string();
    let mut out = String::new();
    for line in head.lines() {
        if let Some(s) = line.strip_prefix("Status:") {
            status = s.trim().to_string();
        } else if !line.is_empty() {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    write!(sock, "HTTP/1.1 {status}\r\n{out}Content-Length: {}\r\n\r\n", body.len())?;
    sock.write_all(body)?;
    sock.flush()
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Baton Tests")
        .env("GIT_AUTHOR_EMAIL", "tests@baton.invalid")
        .env("GIT_COMMITTER_NAME", "Baton Tests")
        .env("GIT_COMMITTER_EMAIL", "tests@baton.invalid")
        .output()
        .unwrap_or_else(|e| panic!("run git {args:?}: {e}"));
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Creates the bare repository `root/{name}.git` whose branch `branch` has
/// one commit with `files` (path, content); returns its folder.
pub fn make_repo(root: &Path, name: &str, branch: &str, files: &[(&str, &str)]) -> PathBuf {
    let work = root.join(format!("{name}.work"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap_or_else(|e| panic!("create {}: {e}", work.display()));
    git(&work, &["init", "-q", "-b", branch]);
    write_files(&work, files);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "initial"]);
    let bare = root.join(format!("{name}.git"));
    let _ = std::fs::remove_dir_all(&bare);
    git(root, &["clone", "-q", "--bare", &work.display().to_string(), &bare.display().to_string()]);
    bare
}

/// Commits `files` (content `None`: deleted) on `branch` of the bare
/// repository `root/{name}.git` made by [`make_repo`].
pub fn commit(root: &Path, name: &str, branch: &str, files: &[(&str, Option<&str>)]) {
    let work = root.join(format!("{name}.work"));
    git(&work, &["checkout", "-q", "-B", branch]);
    for (path, content) in files {
        match content {
            Some(c) => write_files(&work, &[(path, c)]),
            None => git(&work, &["rm", "-q", path]),
        }
    }
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "change"]);
    let bare = root.join(format!("{name}.git"));
    git(&work, &["push", "-q", "-f", &bare.display().to_string(), branch]);
}

fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }
}
