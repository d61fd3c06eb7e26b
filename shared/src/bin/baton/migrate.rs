//! `baton migrate PATH... [--check] [--diff] [--in-place | -o DIR]`:
//! rewrites Kestra 1.x flows in the 2.0 dialect (see `shared::migrate`).
//! Without a flag the migrated flow goes to stdout and what was rewritten,
//! or left for a human, to stderr as `file:line:column: rule: message`.
//! `--check` writes nothing and exits 1 when any flow needs migrating;
//! `--diff` prints a unified diff; `--in-place` rewrites the files; `-o DIR`
//! writes them under DIR (a folder argument's layout kept). Every migrated
//! flow is then validated as Kestra 2.0 (`shared::migrate::verify`); its
//! problems are listed as `file (migrated):line:column: …` (lines of the
//! migrated text; the written file's path with `-o`/`--in-place`) and make
//! the exit code 1.

use std::path::{Path, PathBuf};

use shared::migrate::{self, diff, verify};
use shared::plugins::Registry;
use shared::template::Renderer;
use shared::validate::collect_yaml;

/// What to do with the migrated text.
pub struct Options {
    pub check: bool,
    pub diff: bool,
    pub in_place: bool,
    pub out: Option<PathBuf>,
}

/// (file, its path under the output folder)
fn files(paths: &[PathBuf]) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            collect_yaml(p, &mut found).map_err(|e| format!("{}: {e}", p.display()))?;
            for f in found {
                let rel = f.strip_prefix(p).map(Path::to_path_buf).unwrap_or_else(|_| f.clone());
                out.push((f, rel));
            }
        } else if p.exists() {
            out.push((p.clone(), PathBuf::from(p.file_name().unwrap_or(p.as_os_str()))));
        } else {
            return Err(format!("{} does not exist", p.display()));
        }
    }
    Ok(out)
}

pub fn migrate(paths: &[PathBuf], o: &Options) -> i32 {
    let list = match files(paths) {
        Ok(l) if l.is_empty() => {
            eprintln!("error: no *.yml or *.yaml flow found");
            return 2;
        }
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let registry = Registry::builtin();
    let renderer = Renderer::new();
    let (mut needed, mut failed, mut invalid) = (0usize, 0usize, 0usize);
    let several = list.len() > 1;
    for (file, rel) in &list {
        let name = file.display().to_string();
        let src = match shared::yaml::read_file(file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{name}: cannot read: {e}");
                failed += 1;
                continue;
            }
        };
        let m = match migrate::migrate(&src) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("{name}: {e}");
                failed += 1;
                continue;
            }
        };
        if m.needed() {
            needed += 1;
        }
        // findings: on stdout for --check (they are the answer), else stderr
        for f in &m.findings {
            let line = format!("{name}:{f}");
            if o.check { println!("{line}") } else { eprintln!("{line}") }
        }
        // the migrated flow, read as 2.0, named where it is (or would be) written
        let shown = match (&o.out, o.in_place && !o.check && !o.diff) {
            (_, true) => name.clone(),
            (Some(dir), false) if !o.check && !o.diff => dir.join(rel).display().to_string(),
            _ => format!("{name} (migrated)"),
        };
        let problems = verify::validate_v2(&shown, &m.output, &registry, &renderer);
        if !problems.is_empty() {
            invalid += 1;
        }
        for d in &problems {
            let line = format!("{d} (not valid as Kestra 2.0)");
            if o.check { println!("{line}") } else { eprintln!("{line}") }
        }
        if o.diff {
            print!("{}", diff::unified(&name, &src, &m.output));
        }
        if o.check || o.diff {
            continue;
        }
        if o.in_place {
            if m.output != src
                && let Err(e) = std::fs::write(file, &m.output)
            {
                eprintln!("{name}: cannot write: {e}");
                failed += 1;
            }
        } else if let Some(dir) = &o.out {
            let dest = dir.join(rel);
            let written = dest
                .parent()
                .map(std::fs::create_dir_all)
                .unwrap_or(Ok(()))
                .and_then(|_| std::fs::write(&dest, &m.output));
            if let Err(e) = written {
                eprintln!("{}: cannot write: {e}", dest.display());
                failed += 1;
            }
        } else {
            if several {
                println!("# ==> {name} <==");
            }
            print!("{}", m.output);
        }
    }
    eprintln!(
        "{} flow(s): {} to migrate, {} not valid as Kestra 2.0 once migrated, {} failed",
        list.len(),
        needed,
        invalid,
        failed
    );
    if failed > 0 {
        2
    } else if invalid > 0 || (o.check && needed > 0) {
        1
    } else {
        0
    }
}
