//! A local HTTP/1.1 file server for tests and benchmarks: serves a folder
//! on a random 127.0.0.1 port (GET and HEAD, `Content-Length`, streamed
//! from disk, 404 for anything missing or outside the folder). Plain
//! threads, so it works inside or outside an async runtime; it lives as
//! long as the process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};

/// Serves `root`; returns the base URL (`http://127.0.0.1:{port}`).
pub fn serve_dir(root: impl Into<PathBuf>) -> String {
    let root = root.into();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind a local port: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("local addr: {e}"));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(sock) = conn else { continue };
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = handle(sock, &root);
            });
        }
    });
    format!("http://{addr}")
}

/// The file for a request path, if it is inside `root`.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next().unwrap_or_default();
    let mut out = root.to_path_buf();
    for c in Path::new(path.trim_start_matches('/')).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    out.is_file().then_some(out)
}

fn handle(sock: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(sock.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, sock);
    match resolve(root, &target) {
        Some(file) if method == "GET" || method == "HEAD" => {
            let mut f = std::fs::File::open(&file)?;
            let len = f.metadata()?.len();
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
            )?;
            if method == "GET" {
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    out.write_all(&buf[..n])?;
                }
            }
        }
        _ => {
            let body = format!("not found: {target}\n");
            write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
        }
    }
    out.flush()
}
