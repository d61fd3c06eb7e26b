//! Benchmark (not a test): 1,000 document chunks ingested into the
//! `KestraKVStore` embedding store and one RAG retrieval over them, against
//! the same with `PGVector` — wall time and peak RSS of each `baton run`,
//! with embeddings from the loopback Gemini fake (3072 numbers each, as
//! gemini-embedding-001 answers; `BATON_AI_BENCH_DIM` changes it).
//!
//! `cargo bench -p e2e --bench ai_store` (set `BATON_BIN` to a release
//! `baton`, otherwise target/release/baton, else target/debug/baton).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use e2e::ai_fake::{FakeAi, Reply};

const KEY: &str = "bench-key";
const CHUNKS: usize = 1000;

fn baton_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BATON_BIN") {
        return PathBuf::from(p);
    }
    let target = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target"));
    let release = target.join("release/baton");
    if release.exists() { release } else { target.join("debug/baton") }
}

/// (seconds, peak RSS in MB, ok, stderr tail) of `baton run flow`.
fn run(bin: &Path, flow: &Path, home: &Path, fake: &str) -> (f64, Option<f64>, bool, String) {
    let mut c = Command::new("/usr/bin/time");
    c.arg("-v").arg(bin).arg("run").arg(flow).env("BATON_HOME", home).env("BATON_GEMINI_BASE_URL", fake);
    let t = Instant::now();
    let out = c.output().unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let rss = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0);
    let tail: Vec<&str> = err.lines().rev().take(15).collect();
    (secs, rss, out.status.success(), tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
}

fn flows(dir: &Path, name: &str, store: &str, url: &str) -> (PathBuf, PathBuf) {
    let provider = format!(
        "{{type: io.kestra.plugin.ai.provider.GoogleGemini, modelName: gemini-embedding-001, apiKey: \"{KEY}\"}}"
    );
    let ingest = format!(
        "id: {name}_ingest\nnamespace: bench\ntasks:\n  - id: ingest\n    type: io.kestra.plugin.ai.rag.IngestDocument\n    provider: {provider}\n    embeddings: {store}\n    drop: true\n    documentSplitter: {{splitter: PARAGRAPH, maxSegmentSizeInChars: 120, maxOverlapSizeInChars: 0}}\n    fromExternalURLs: [\"{url}\"]\n"
    );
    let ask = format!(
        "id: {name}_ingest\nnamespace: bench\ntasks:\n  - id: ask\n    type: io.kestra.plugin.ai.rag.ChatCompletion\n    chatProvider: {{type: io.kestra.plugin.ai.provider.GoogleGemini, modelName: gemini-2.5-flash, apiKey: \"{KEY}\"}}\n    embeddingProvider: {provider}\n    embeddings: {store}\n    prompt: Which chunk talks about topic 777?\n"
    );
    let (a, b) = (dir.join(format!("{name}_ingest.yaml")), dir.join(format!("{name}_ask.yaml")));
    std::fs::write(&a, ingest).expect("write flow");
    std::fs::write(&b, ask).expect("write flow");
    (a, b)
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let bin = baton_bin();
        let dim: usize = std::env::var("BATON_AI_BENCH_DIM").ok().and_then(|v| v.parse().ok()).unwrap_or(3072);
        let fake = FakeAi::start(KEY, "unused").await;
        fake.set_dim(dim);
        let text: Vec<String> =
            (0..CHUNKS).map(|i| format!("Chunk {i} is about topic {i} and the orchestration of flow number {i}.")).collect();
        let url = fake.doc("corpus.md", &text.join("\n\n"));
        let work = std::env::temp_dir().join(format!("baton-ai-bench-{}", std::process::id()));
        std::fs::create_dir_all(&work).expect("work dir");
        let pg = e2e::pg::shared();
        let db = pg.create_database("aibench");
        let stores = [
            ("kv", "{type: io.kestra.plugin.ai.embeddings.KestraKVStore}".to_string()),
            (
                "pgvector",
                format!(
                    "{{type: io.kestra.plugin.ai.embeddings.PGVector, host: 127.0.0.1, port: {}, user: {}, password: \"{}\", database: {db}, table: chunks}}",
                    pg.port(),
                    e2e::pg::USER,
                    e2e::pg::PASSWORD
                ),
            ),
        ];
        println!("baton: {}; {CHUNKS} chunks, {dim}-dimension embeddings (loopback Gemini fake)", bin.display());
        println!("| store | ingest 1,000 chunks | peak RSS | one retrieval (+ chat) | peak RSS |");
        println!("|---|---|---|---|---|");
        for (name, store) in stores {
            let home = work.join(name);
            let (ingest, ask) = flows(&work, name, &store, &url);
            let a = tokio::task::block_in_place(|| run(&bin, &ingest, &home, &fake.url));
            assert!(a.2, "{name} ingest failed:\n{}", a.3);
            fake.script(vec![Reply::Text("Chunk 777.".into())]);
            let b = tokio::task::block_in_place(|| run(&bin, &ask, &home, &fake.url));
            assert!(b.2, "{name} retrieval failed:\n{}", b.3);
            let mb = |x: Option<f64>| x.map(|v| format!("{v:.0} MB")).unwrap_or_else(|| "?".into());
            println!("| {name} | {:.2} s | {} | {:.2} s | {} |", a.0, mb(a.1), b.0, mb(b.1));
        }
        let _ = std::fs::remove_dir_all(&work);
    });
}
