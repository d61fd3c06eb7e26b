//! Files around an embedded-database task (DuckDB, SQLite): `inputFiles` written into the working
//! directory (literal content, or `kestra://` files streamed from internal
//! storage), a stored `databaseUri` copied in, and the `outputFiles` and
//! database file streamed back to internal storage afterwards.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use crate::context::{is_plain_file_name, output_file_path};
use crate::{RunContext, TaskError};
use baton_backend::ByteStream;

#[cfg_attr(not(feature = "duckdb"), allow(dead_code))]
/// `name` as a path inside `dir`: no absolute path, no `..`.
fn inside(dir: &Path, property: &str, name: &str) -> Result<PathBuf, TaskError> {
    let mut rel = PathBuf::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(s) => rel.push(s),
            Component::CurDir => {}
            _ => {
                return Err(TaskError::property(
                    property,
                    format!("'{name}' must be a path inside the working directory (no '/' prefix, no '..')"),
                ));
            }
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(TaskError::property(property, format!("'{name}' is not a file name")));
    }
    Ok(dir.join(rel))
}

#[cfg_attr(not(feature = "duckdb"), allow(dead_code))]
/// Writes each `inputFiles` entry into `dir`.
pub async fn write_inputs(cx: &RunContext, dir: &Path, files: &[(String, String)]) -> Result<(), TaskError> {
    for (name, content) in files {
        let target = inside(dir, "inputFiles", name)?;
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| TaskError::failed(format!("cannot create folder {}: {e}", parent.display())))?;
        }
        if content.starts_with("kestra://") {
            copy_from_storage(cx, "inputFiles", content, &target).await?;
        } else {
            tokio::fs::write(&target, content.as_bytes())
                .await
                .map_err(|e| TaskError::failed(format!("cannot write input file '{name}': {e}")))?;
        }
    }
    Ok(())
}

/// `outputFiles` as written: plain file names (blank ones dropped), each
/// written by the SQL to `{{ outputFiles['<name>'] }}`.
pub fn output_file_names(names: Vec<String>) -> Result<Vec<String>, TaskError> {
    let names: Vec<String> = names.into_iter().filter(|n| !n.trim().is_empty()).collect();
    if let Some(bad) = names.iter().find(|n| !is_plain_file_name(n)) {
        return Err(TaskError::property(
            "outputFiles",
            format!(
                "'{bad}' must be a plain file name (no folder, no glob), used in the SQL as {{{{ outputFiles['{bad}'] }}}}"
            ),
        ));
    }
    Ok(names)
}

/// Streams the `kestra://` file `uri` to `target`.
pub async fn copy_from_storage(cx: &RunContext, property: &str, uri: &str, target: &Path) -> Result<(), TaskError> {
    let path = cx.readable_path(property, uri)?;
    let mut reader = cx
        .services
        .storage
        .get(&path)
        .await
        .map_err(|e| TaskError::failed(format!("{property}: cannot read {uri}: {e}")))?;
    let mut file = tokio::fs::File::create(target)
        .await
        .map_err(|e| TaskError::failed(format!("cannot create {}: {e}", target.display())))?;
    tokio::io::copy(&mut reader, &mut file)
        .await
        .map_err(|e| TaskError::failed(format!("{property}: cannot copy {uri} to {}: {e}", target.display())))?;
    Ok(())
}

/// Streams a local file into this task's internal storage as `stored_name`.
pub async fn upload(cx: &RunContext, what: &str, file: &Path, stored_name: &str) -> Result<String, TaskError> {
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| TaskError::failed(format!("{what}: cannot read {}: {e}", file.display())))?;
    let stream: ByteStream = Box::pin(f);
    let (uri, size) = cx.put_file(stored_name, stream).await?;
    cx.log("DEBUG", &format!("{what} ({size} bytes) stored as {uri}"));
    Ok(uri)
}

/// Uploads each `outputFiles` name from `{{ outputFiles.<name> }}`;
/// returns `{name: kestra:// URI}`.
pub async fn upload_outputs(cx: &RunContext, dir: &Path, names: &[String]) -> Result<Map<String, Value>, TaskError> {
    let mut out = Map::new();
    for name in names {
        let file = output_file_path(dir, name);
        if !tokio::fs::metadata(&file).await.is_ok_and(|m| m.is_file()) {
            return Err(TaskError::failed(format!(
                "outputFiles: the SQL did not write '{name}' (write it to '{{{{ outputFiles['{name}'] }}}}', here {})",
                file.display()
            )));
        }
        let uri = upload(cx, &format!("Output file '{name}'"), &file, name).await?;
        out.insert(name.clone(), Value::String(uri));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_stay_inside() {
        let d = Path::new("/w");
        assert_eq!(inside(d, "p", "a/b.csv").unwrap(), PathBuf::from("/w/a/b.csv"));
        assert!(inside(d, "p", "../x").is_err());
        assert!(inside(d, "p", "/etc/passwd").is_err());
        assert!(inside(d, "p", "").is_err());
    }
}
