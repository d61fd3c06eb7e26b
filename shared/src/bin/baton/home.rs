//! Where Baton keeps its state: `--home`, else `$BATON_HOME`, else `~/.baton`.

use std::path::PathBuf;

pub fn resolve(flag: Option<PathBuf>) -> PathBuf {
    if let Some(h) = flag {
        return h;
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".baton"),
        None => PathBuf::from(".baton"),
    }
}
