//! `FileEncrypt` and `FileDecrypt` against the `openssl` CLI, both ways: a
//! file Baton encrypts opens with `openssl enc -d -aes-256-cbc -pbkdf2`, a
//! file openssl encrypts opens with `FileDecrypt` (larger than the 64 KiB
//! piece, and one that ends on a block); a wrong password, a file that is
//! not encrypted and Kestra's KESTRAENC derivations fail naming why.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;
use shared::model::StateType;

use crate::support::{Harness, harness, runs};

/// `openssl enc … -pass pass:PW` over `input`.
fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .arg("enc")
        .args(args)
        .args(["-aes-256-cbc", "-pbkdf2", "-pass", "pass:s3cr3t pass"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("openssl output");
    writer.join().expect("writer").expect("write");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

async fn put(h: &Harness, name: &str, data: Vec<u8>) -> String {
    let path = format!("/test/upstream/executions/e0/in/{name}");
    h.embedded.engine.storage.put(&path, Box::pin(std::io::Cursor::new(data))).await.expect("put");
    format!("kestra://{path}")
}

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
        let e = h.run(&flow("FileEncrypt", ""), json!({"src": src})).await;
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        let uri = runs(&e, "t")[0].outputs.as_ref().expect("outputs")["uri"].as_str().expect("uri").to_string();
        assert!(uri.ends_with("/plain.txt.enc"), "{uri}");
        let sealed = h.read_storage(&uri).await;
        assert!(sealed.starts_with(b"Salted__") && sealed.len() > data.len(), "{} bytes", sealed.len());
        assert_eq!(openssl(&["-d", "-iter", "100000"], &sealed), data, "openssl reads Baton's file");

        // openssl encrypts, Baton decrypts
        let theirs = openssl(&["-salt", "-iter", "100000"], &data);
        let src = put(&h, "theirs.bin.enc", theirs).await;
        let e = h.run(&flow("FileDecrypt", ""), json!({"src": src})).await;
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        let uri = runs(&e, "t")[0].outputs.as_ref().expect("outputs")["uri"].as_str().expect("uri").to_string();
        assert!(uri.ends_with("/theirs.bin"), "{uri}");
        assert_eq!(h.read_storage(&uri).await, data, "Baton reads openssl's file");
    }

    // iterations must match (OpenSSL before 3.x used 10000)
    let old = openssl(&["-salt", "-iter", "10000"], b"legacy");
    let src = put(&h, "old.enc", old).await;
    let e = h.run(&flow("FileDecrypt", "    iterations: 10000\n"), json!({"src": src.clone()})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);

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
    assert!(failure(&e).contains("KESTRAENC"), "{}", failure(&e));
    let e = h.run(&flow("FileEncrypt", "    keyDerivation: ARGON2ID\n"), json!({"src": plain.clone()})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(failure(&e).contains("keyDerivation") && failure(&e).contains("PBKDF2_SHA256"), "{}", failure(&e));
    let e = h.run(&flow("FileEncrypt", "    iterations: 10\n"), json!({"src": plain})).await;
    assert!(failure(&e).contains("at least 1000"), "{}", failure(&e));
}
