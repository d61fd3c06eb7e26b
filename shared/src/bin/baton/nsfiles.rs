//! `baton nsfiles list|get|put|delete --namespace NS`: the namespace files
//! of the embedded runtime (`$BATON_HOME/storage/{ns}/_files/…`), streamed.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use shared::backend::ByteStream;
use shared::backend::local::LocalBackends;
use shared::backend::nsfiles::relative_to;

#[derive(Subcommand)]
pub enum NsFilesCommand {
    /// List the files under a folder (all files by default).
    List {
        #[arg(long, short = 'n')]
        namespace: String,
        /// A folder inside the namespace, e.g. `/models`.
        #[arg(default_value = "/")]
        path: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a file (or write it to --output).
    Get {
        #[arg(long, short = 'n')]
        namespace: String,
        path: String,
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Upload a local file (`-` for standard input), or a whole folder under PATH.
    Put {
        #[arg(long, short = 'n')]
        namespace: String,
        path: String,
        source: PathBuf,
    },
    /// Delete a file, or a folder with everything in it.
    Delete {
        #[arg(long, short = 'n')]
        namespace: String,
        path: String,
    },
}

pub async fn nsfiles(home: &Path, cmd: NsFilesCommand) -> anyhow::Result<i32> {
    let files = LocalBackends::open(home)?.namespace_files();
    match cmd {
        NsFilesCommand::List { namespace, path, json } => {
            let list = files.list(&namespace, &path).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for f in list {
                    println!("{}\t{}", f.size, f.path);
                }
            }
        }
        NsFilesCommand::Get { namespace, path, output } => {
            let mut reader = files.get(&namespace, &path).await?;
            match output {
                Some(out) => {
                    let mut f = tokio::fs::File::create(&out)
                        .await
                        .with_context(|| format!("cannot create {}", out.display()))?;
                    tokio::io::copy(&mut reader, &mut f).await?;
                }
                None => {
                    tokio::io::copy(&mut reader, &mut tokio::io::stdout()).await?;
                }
            }
        }
        NsFilesCommand::Put { namespace, path, source } => {
            if source.as_os_str() == "-" {
                let n = files.put(&namespace, &path, Box::pin(tokio::io::stdin())).await?;
                eprintln!("put {namespace}:{path} ({n} bytes)");
            } else if source.is_dir() {
                let mut count = 0;
                for file in walk(&source)? {
                    let Some(rel) = relative_to(&source, &file) else { continue };
                    let target = format!("{}/{rel}", path.trim_end_matches('/'));
                    files.put(&namespace, &target, open(&file).await?).await?;
                    count += 1;
                }
                eprintln!("put {count} files under {namespace}:{path}");
            } else {
                let n = files.put(&namespace, &path, open(&source).await?).await?;
                eprintln!("put {namespace}:{path} ({n} bytes)");
            }
        }
        NsFilesCommand::Delete { namespace, path } => {
            let deleted = files.delete(&namespace, &path).await?;
            if deleted.is_empty() {
                bail!("no namespace file '{path}' in namespace '{namespace}'");
            }
            for d in deleted {
                println!("{d}");
            }
        }
    }
    Ok(0)
}

async fn open(path: &Path) -> anyhow::Result<ByteStream> {
    let f = tokio::fs::File::open(path).await.with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Box::pin(f))
}

/// Every file under `dir`, following symbolic links (as a shell copy
/// does, and as `kestra namespace files update` uploads what they reach):
/// a folder reached twice (a link loop, or two links to one folder) is
/// walked once, with a warning, and a link to nothing is skipped, with a
/// warning.
fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let real = |d: &Path| std::fs::canonicalize(d).with_context(|| format!("cannot resolve {}", d.display()));
    seen.insert(real(dir)?);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let path = entry?.path();
            // metadata follows links
            let Ok(meta) = std::fs::metadata(&path) else {
                eprintln!("warning: {} is a link to nothing: skipped", path.display());
                continue;
            };
            if meta.is_dir() {
                if seen.insert(real(&path)?) {
                    stack.push(path);
                } else {
                    eprintln!("warning: {} leads to a folder already uploaded (a link loop?): skipped", path.display());
                }
            } else if meta.is_file() {
                out.push(path);
            } else {
                eprintln!("warning: {} is not a regular file: skipped", path.display());
            }
        }
    }
    out.sort();
    Ok(out)
}
