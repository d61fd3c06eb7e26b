//! Where Baton keeps its state: `--home`, else `$BATON_HOME`, else `~/.baton`
//! — always as an absolute path, so that a relative `BATON_HOME` means the
//! same folder to every task, whatever directory a task runs in (a Python
//! task's virtualenv used to land at a doubled path).

use std::path::PathBuf;

pub fn resolve(flag: Option<PathBuf>) -> PathBuf {
    let home = match (flag, std::env::var_os("HOME")) {
        (Some(h), _) => h,
        (None, Some(h)) => PathBuf::from(h).join(".baton"),
        (None, None) => PathBuf::from(".baton"),
    };
    std::path::absolute(&home).unwrap_or(home)
}
