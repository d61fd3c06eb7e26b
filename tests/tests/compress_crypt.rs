//! `FileEncrypt` and `FileDecrypt` against the `openssl` CLI, both ways: a
//! file Baton encrypts opens with `openssl enc -d -aes-256-cbc -pbkdf2`, a
//! file openssl encrypts opens with `FileDecrypt` (larger than the 64 KiB
//! piece, and one that ends on a block); a wrong password, a file that is
//! not encrypted and a truncated KESTRAENC file fail naming why. Kestra's
//! KESTRAENC format (PBKDF2_SHA512, ARGON2ID, SCRYPT) against a second
//! implementation written apart from Baton (tests/crypt/kestraenc.py, on
//! Python's `cryptography`), both ways; and Kestra's own sanity check of
//! the two tasks (tests/fixtures/kestra-sanity) runs to SUCCESS.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;
use shared::model::StateType;

use crate::support::{Harness, harness, runs};

/// `cmd`'s standard output with `input` on its standard input; panics with
/// `what` and its standard error when it fails.
fn pipe(mut cmd: Command, input: &[u8], what: &str) -> Vec<u8> {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect(what);
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("its output");
    writer.join().expect("writer").expect("write");
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `openssl enc … -pass pass:PW` over `input`.
fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new("openssl");
    cmd.arg("enc").args(args).args(["-aes-256-cbc", "-pbkdf2", "-pass", "pass:s3cr3t pass"]);
    pipe(cmd, input, &format!("openssl {args:?}"))
}

async fn put(h: &Harness, name: &str, data: Vec<u8>) -> String {
    let path = format!("/test/upstream/executions/e0/in/{name}");
    h.embedded.engine.storage.put(&path, Box::pin(std::io::Cursor::new(data))).await.expect("put");
    format!("kestra://{path}")
}

/// Fewer rounds than Kestra's default (600,000), for speed in a debug build.
const ITER_100K: &str = "    iterations: 100000\n";

fn flow(task: &str, extra: &str) -> String {
    format!(
        "id: crypt\nnamespace: test\ninputs:\n  - {{id: src, type: STRING}}\ntasks:\n  - id: t\n    type: io.kestra.plugin.compress.{task}\n    from: \"{{{{ inputs.src }}}}\"\n    password: s3cr3t pass\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypt_and_decrypt_speak_openssl_s_format() {
    let h = harness();
    let big: Vec<u8> = (0..200_000u32).flat_map(|i| format!("row {i}\n").into_bytes()).collect();
    for data in [big.clone(), vec![7u8; 64 * 1024], b"short".to_vec(), Vec::new()] {
        // Baton encrypts, openssl decrypts
        let src = put(&h, "plain.txt", data.clone()).await;
        let e = h.run(&flow("FileEncrypt", ITER_100K), json!({"src": src})).await;
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        let uri = runs(&e, "t")[0].outputs.as_ref().expect("outputs")["uri"].as_str().expect("uri").to_string();
        assert!(uri.ends_with("/plain.txt.enc"), "{uri}");
        let sealed = h.read_storage(&uri).await;
        assert!(sealed.starts_with(b"Salted__") && sealed.len() > data.len(), "{} bytes", sealed.len());
        assert_eq!(openssl(&["-d", "-iter", "100000"], &sealed), data, "openssl reads Baton's file");

        // openssl encrypts, Baton decrypts
        let theirs = openssl(&["-salt", "-iter", "100000"], &data);
        let src = put(&h, "theirs.bin.enc", theirs).await;
        let e = h.run(&flow("FileDecrypt", ITER_100K), json!({"src": src})).await;
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        let uri = runs(&e, "t")[0].outputs.as_ref().expect("outputs")["uri"].as_str().expect("uri").to_string();
        assert!(uri.ends_with("/theirs.bin"), "{uri}");
        assert_eq!(h.read_storage(&uri).await, data, "Baton reads openssl's file");
    }

    // Kestra's default, 600,000 iterations, both ways
    let src = put(&h, "default.txt", b"default".to_vec()).await;
    let e = h.run(&flow("FileEncrypt", ""), json!({"src": src})).await;
    let uri = runs(&e, "t")[0].outputs.as_ref().expect("outputs")["uri"].as_str().expect("uri").to_string();
    assert_eq!(openssl(&["-d", "-iter", "600000"], &h.read_storage(&uri).await), b"default");
    let src = put(&h, "default.enc", openssl(&["-salt", "-iter", "600000"], b"theirs")).await;
    let e = h.run(&flow("FileDecrypt", ""), json!({"src": src})).await;
    let uri = runs(&e, "t")[0].outputs.as_ref().expect("outputs")["uri"].as_str().expect("uri").to_string();
    assert_eq!(h.read_storage(&uri).await, b"theirs");

    // iterations must match
    let old = openssl(&["-salt", "-iter", "100000"], b"legacy");
    let src = put(&h, "old.enc", old).await;
    let failure = |e: &shared::model::Execution| runs(e, "t")[0].error.clone().unwrap_or_default();
    // the default iterations on that file: the padding does not check
    let e = h.run(&flow("FileDecrypt", ""), json!({"src": src})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(failure(&e).contains("wrong password"), "{}", failure(&e));
    let plain = put(&h, "plain.csv", b"a,b\n1,2\n".to_vec()).await;
    let e = h.run(&flow("FileDecrypt", ""), json!({"src": plain.clone()})).await;
    assert!(failure(&e).contains("Salted__"), "{}", failure(&e));
    let kestraenc = put(&h, "k.enc", b"KESTRAENC\x01\x03rest".to_vec()).await;
    let e = h.run(&flow("FileDecrypt", ""), json!({"src": kestraenc})).await;
    assert!(failure(&e).contains("truncated"), "{}", failure(&e));
    let e = h
        .run(&flow("FileEncrypt", "    keyDerivation: SCRYPT\n    memory: 1000\n"), json!({"src": plain.clone()}))
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(failure(&e).contains("memory") && failure(&e).contains("power of 2"), "{}", failure(&e));
    // Kestra's floor: a file of OpenSSL 1.x's 10,000 rounds cannot be opened in Kestra either
    let e = h.run(&flow("FileDecrypt", "    iterations: 10000\n"), json!({"src": plain.clone()})).await;
    assert!(failure(&e).contains("at least 100000"), "{}", failure(&e));
    let e = h.run(&flow("FileEncrypt", "    iterations: 10\n"), json!({"src": plain})).await;
    assert!(failure(&e).contains("at least 100000"), "{}", failure(&e));
}

/// tests/crypt/kestraenc.py (Python's `cryptography`, apart from Baton's code) over `input`.
fn python_kestraenc(args: &[&str], input: &[u8]) -> Vec<u8> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crypt").join("kestraenc.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).args(args);
    pipe(
        cmd,
        input,
        &format!("kestraenc.py {args:?} (needs python3's cryptography 44 or later: scripts/setup/moto.sh)"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestraenc_files_open_in_a_second_implementation_both_ways() {
    let h = harness();
    let data: Vec<u8> = (0..20_000u32).flat_map(|i| format!("trip {i}\n").into_bytes()).collect();
    for (kdf, props) in [
        ("PBKDF2_SHA512", ITER_100K),
        ("ARGON2ID", "    argon2TimeCost: 1\n    memory: 8192\n    parallelism: 2\n"),
        ("SCRYPT", "    memory: 2048\n    parallelism: 1\n"),
    ] {
        // Baton seals, Python opens
        let src = put(&h, "trips.csv", data.clone()).await;
        let e = h.run(&flow("FileEncrypt", &format!("    keyDerivation: {kdf}\n{props}")), json!({"src": src})).await;
        assert_eq!(e.state.current, StateType::Success, "{kdf}: {:?}", e.error);
        let uri = runs(&e, "t")[0].outputs.as_ref().expect("outputs")["uri"].as_str().expect("uri").to_string();
        let sealed = h.read_storage(&uri).await;
        assert!(sealed.starts_with(b"KESTRAENC\x01"), "{kdf}");
        assert_eq!(python_kestraenc(&["open", "s3cr3t pass"], &sealed), data, "{kdf}: Python opens Baton's file");
        let logs = h.logs(&e.id).await.join("\n");
        assert!(logs.contains(&format!("AES-256-GCM, KESTRAENC, {kdf}")), "{logs}");

        // Python seals, Baton opens (the file's header names the derivation)
        let theirs = python_kestraenc(&["seal", kdf, "s3cr3t pass"], &data);
        let src = put(&h, "theirs.csv.enc", theirs.clone()).await;
        let e = h.run(&flow("FileDecrypt", ""), json!({"src": src})).await;
        assert_eq!(e.state.current, StateType::Success, "{kdf}: {:?}", e.error);
        let uri = runs(&e, "t")[0].outputs.as_ref().expect("outputs")["uri"].as_str().expect("uri").to_string();
        assert_eq!(h.read_storage(&uri).await, data, "{kdf}: Baton opens Python's file");

        // a changed byte of the ciphertext, or the wrong password: the tag does not check
        let mut bad = theirs;
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let src = put(&h, "bad.enc", bad).await;
        let e = h.run(&flow("FileDecrypt", ""), json!({"src": src})).await;
        assert_eq!(e.state.current, StateType::Failed, "{kdf}");
        let error = runs(&e, "t")[0].error.clone().unwrap_or_default();
        assert!(error.contains("incorrect password or a damaged file"), "{error}");
    }
}

/// Kestra's own sanity check of FileEncrypt/FileDecrypt (plugin-compress):
/// the OpenSSL format with 100,000 iterations, then ARGON2ID; each round
/// trip through a ZIP ends with a `Fail` that holds only if the file came
/// back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_s_sanity_check_of_file_encrypt_and_decrypt_succeeds() {
    let h = harness();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/kestra-sanity/compress-file_encrypt_decrypt.yaml");
    let yaml = std::fs::read_to_string(path).expect("the sanity check");
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    for task in ["encrypt", "decrypt", "encrypt_argon2id", "decrypt_argon2id", "decompress_argon2id"] {
        assert_eq!(runs(&e, task)[0].state.current, StateType::Success, "{task}");
    }
    assert_eq!(runs(&e, "assert_argon2id")[0].state.current, StateType::Success);
}
