//! A bounded mutation fuzzer for the flow parser, the validator and the
//! template renderer, run by the normal suite (so CI exercises it every
//! run): every example and fixture flow is mutated a fixed number of times
//! with a seeded generator (the same inputs every run), and each mutant must
//! come back from `validate_source` — and each of its templates from the
//! renderer — without a panic and within a time bound. Inputs that ever
//! crashed are kept in `tests/fixtures/hostile/` and checked the same way.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Mutants per seed file.
const MUTANTS: usize = 150;
/// The most one validate + render of a mutant may take (debug build, busy machine).
const BOUND: Duration = Duration::from_secs(5);

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that have broken parsers before: template syntax, YAML syntax, huge numbers.
const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    "{{ render(vars.a) }}",
    "&a",
    "*a",
    "<<: *a",
    "---",
    "- ",
    ": ",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "??",
    "~",
    "|",
    " | dateAdd(9223372036854775807, 'DAYS')",
    "9223372036854775807",
    "-1",
    "PT9999999999999H",
    "\t",
    "\u{feff}",
    "\0",
    "é",
    "io.kestra.plugin.core.log.Log",
    "type: ",
    "id: ",
    "tasks:",
    "\n  ",
    "((((((((",
    "))))",
];

fn mutate(src: &str, rng: &mut Rng) -> String {
    let mut s: Vec<char> = src.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(s.len() + 1);
        match rng.below(5) {
            0 if !s.is_empty() => {
                let end = (at + 1 + rng.below(20)).min(s.len());
                s.drain(at.min(end)..end);
            }
            1 => {
                let t: Vec<char> = TOKENS[rng.below(TOKENS.len())].chars().collect();
                s.splice(at..at, t);
            }
            2 if !s.is_empty() => {
                // duplicate a slice (repeated keys, nested blocks)
                let from = rng.below(s.len());
                let end = (from + 1 + rng.below(80)).min(s.len());
                let piece: Vec<char> = s[from..end].to_vec();
                s.splice(at..at, piece);
            }
            3 if !s.is_empty() => {
                let i = rng.below(s.len());
                s[i] = char::from_u32(rng.below(0x250) as u32).unwrap_or('x');
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())].repeat(1 + rng.below(200));
                s.splice(at..at, t.chars());
            }
        }
    }
    s.into_iter().collect()
}

fn seeds() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo").to_path_buf();
    let mut out = Vec::new();
    let mut dirs = vec![root.join("examples"), root.join("tests/fixtures/flows"), root.join("tests/fixtures/hostile")];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Validates `src` and renders each of its strings; panics propagate to the test.
fn exercise(src: &str, registry: &shared::plugins::Registry, renderer: &shared::template::Renderer) {
    let (flow, _diags) = shared::validate::validate_source("fuzz.yml", src, registry, renderer);
    let Ok((doc, _)) = shared::yaml::parse(src) else { return };
    let vars = flow.as_ref().map(|_| doc.get("variables").cloned().unwrap_or(Value::Null)).unwrap_or(Value::Null);
    let ctx = json!({"flow": {"id": "f", "namespace": "n"}, "vars": vars, "inputs": {}, "execution": {"id": "e"}});
    let mut stack = vec![doc];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.contains("{{") || s.contains("{%") => {
                let _ = renderer.render_str(&s, &ctx, &shared::template::NoHost);
            }
            Value::Array(a) => stack.extend(a),
            Value::Object(m) => stack.extend(m.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[test]
fn mutated_flows_never_panic_or_hang() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let seeds = seeds();
    assert!(seeds.len() >= 20, "seed flows: {seeds:?}");
    let mut rng = Rng(0x5eed_ba70_2026_1122);
    let mut slowest = (Duration::ZERO, String::new());
    for path in &seeds {
        let src = std::fs::read_to_string(path).expect("seed");
        for _ in 0..MUTANTS {
            let m = mutate(&src, &mut rng);
            let started = Instant::now();
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exercise(&m, &registry, &renderer)));
            let took = started.elapsed();
            if run.is_err() || took > BOUND {
                let keep = std::env::temp_dir().join(format!("baton-fuzz-crash-{}.yml", rng.next()));
                let _ = std::fs::write(&keep, &m);
                panic!(
                    "mutant of {} {} (kept in {}: add it to tests/fixtures/hostile/)",
                    path.display(),
                    if run.is_err() { "panicked".to_string() } else { format!("took {took:?}") },
                    keep.display()
                );
            }
            if took > slowest.0 {
                slowest = (took, path.display().to_string());
            }
        }
    }
    eprintln!("fuzz: {} seeds x {MUTANTS} mutants, slowest {:?} ({})", seeds.len(), slowest.0, slowest.1);
}

#[test]
fn every_input_that_ever_crashed_is_refused_or_bounded() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hostile");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("fixtures/hostile").flatten() {
        let src = std::fs::read_to_string(e.path()).expect("fixture");
        let started = Instant::now();
        exercise(&src, &registry, &renderer);
        assert!(started.elapsed() < BOUND, "{}: {:?}", e.path().display(), started.elapsed());
        n += 1;
    }
    assert!(n >= 7);
}
