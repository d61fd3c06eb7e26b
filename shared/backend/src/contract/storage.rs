//! The internal storage contract: a multi-MB file streamed both ways (a
//! deterministic byte pattern, never held in memory), replacement, sizes,
//! listing under a prefix, `delete_prefix`, and rejection of `..`.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::unique;
use crate::{ByteStream, Storage};

/// A deterministic byte stream of `len` bytes, produced in 64 KiB chunks
/// without holding it in memory.
struct Pattern {
    pos: u64,
    len: u64,
}

fn pattern_byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

impl AsyncRead for Pattern {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let n = (self.len - self.pos).min(buf.remaining() as u64).min(64 * 1024);
        let start = self.pos;
        let chunk: Vec<u8> = (start..start + n).map(pattern_byte).collect();
        buf.put_slice(&chunk);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

fn bytes(data: &[u8]) -> ByteStream {
    Box::pin(std::io::Cursor::new(data.to_vec()))
}

async fn read_all(storage: &dyn Storage, path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    storage.get(path).await.expect("get").read_to_end(&mut out).await.expect("read");
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Streaming a multi-MB file both ways, replacement, sizes, listing under a
/// prefix (a file, or a folder on `/` boundaries), `delete_prefix`, and
/// rejection of `..`.
///
/// # Panics
/// When the storage breaks the contract.
pub async fn storage_contract(storage: &dyn Storage) {
    let base = format!("/contract/{}", unique());
    let big = format!("{base}/big.bin");
    let len = 5 * 1024 * 1024 + 123;
    assert_eq!(storage.put(&big, Box::pin(Pattern { pos: 0, len })).await.expect("put big"), len);
    assert_eq!(storage.size(&big).await.expect("size"), Some(len));
    let mut reader = storage.get(&big).await.expect("get big");
    let mut buf = vec![0u8; 100_000];
    let mut pos = 0u64;
    loop {
        let n = reader.read(&mut buf).await.expect("read big");
        if n == 0 {
            break;
        }
        assert!(
            buf[..n].iter().enumerate().all(|(i, b)| *b == pattern_byte(pos + i as u64)),
            "bytes near {pos} differ"
        );
        pos += n as u64;
    }
    assert_eq!(pos, len, "the whole stream reads back");

    let small = format!("{base}/small.txt");
    storage.put(&small, bytes(b"first version")).await.expect("put");
    assert_eq!(storage.put(&small, bytes(b"hello")).await.expect("replace"), 5);
    assert_eq!(read_all(storage, &small).await, b"hello", "put replaces");
    assert_eq!(storage.size(&small).await.expect("size"), Some(5));

    // create-only writes: one of two racing creators wins, the file is its
    let fresh = format!("{base}/fresh.txt");
    assert_eq!(storage.put_new(&fresh, bytes(b"one")).await.expect("put_new"), Some(3), "a new name is created");
    assert_eq!(storage.put_new(&fresh, bytes(b"two!")).await.expect("put_new again"), None, "an existing one is not");
    assert_eq!(read_all(storage, &fresh).await, b"one", "nothing written over");
    let raced = format!("{base}/raced.txt");
    let (a, b) = futures::join!(storage.put_new(&raced, bytes(b"aaaa")), storage.put_new(&raced, bytes(b"bbbb")));
    let (a, b) = (a.expect("racer a"), b.expect("racer b"));
    assert!(a.is_some() != b.is_some(), "exactly one creator wins: {a:?} {b:?}");
    let winner: &[u8] = if a.is_some() { b"aaaa" } else { b"bbbb" };
    assert_eq!(read_all(storage, &raced).await, winner, "the file is the winner's");
    assert!(
        !storage.list(&base).await.expect("list").iter().any(|p| p.contains(".baton-tmp-")),
        "no temporary file is left or listed"
    );
    for p in [&fresh, &raced] {
        assert_eq!(storage.delete_prefix(p).await.expect("delete"), std::slice::from_ref(p));
    }
    let empty = format!("{base}/empty");
    assert_eq!(storage.put(&empty, bytes(b"")).await.expect("put empty"), 0);
    assert_eq!(storage.size(&empty).await.expect("size"), Some(0));
    assert!(read_all(storage, &empty).await.is_empty());
    assert_eq!(storage.size(&format!("{base}/absent")).await.expect("size"), None);
    assert!(storage.get(&format!("{base}/absent")).await.is_err(), "get of a missing file must fail");

    let (a, b, c) = (format!("{base}/p/a.txt"), format!("{base}/p/sub/b.txt"), format!("{base}/pother/c.txt"));
    for p in [&a, &b, &c] {
        storage.put(p, bytes(p.as_bytes())).await.expect("put");
    }
    let p = format!("{base}/p");
    assert_eq!(sorted(storage.list(&p).await.expect("list")), [a.clone(), b.clone()], "a folder, not a string prefix");
    assert_eq!(sorted(storage.list(&format!("{p}/")).await.expect("list")), [a.clone(), b.clone()]);
    assert_eq!(storage.list(&a).await.expect("list a file"), std::slice::from_ref(&a));
    assert!(storage.list(&format!("{base}/none")).await.expect("list").is_empty());
    let everything = sorted(vec![big.clone(), small.clone(), empty.clone(), a.clone(), b.clone(), c.clone()]);
    assert_eq!(sorted(storage.list(&base).await.expect("list")), everything);
    let dated = storage.list_modified(&p).await.expect("list_modified");
    assert_eq!(dated.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(), [a.clone(), b.clone()], "sorted by path");
    let now = chrono::Utc::now();
    for (f, at) in &dated {
        let age = now - *at;
        assert!(
            age < chrono::Duration::minutes(5) && age > chrono::Duration::minutes(-5),
            "{f} modified {at}, now {now}"
        );
    }

    assert_eq!(storage.delete_prefix(&format!("{p}/sub")).await.expect("delete_prefix"), std::slice::from_ref(&b));
    assert_eq!(storage.list(&p).await.expect("list"), std::slice::from_ref(&a));
    assert_eq!(storage.size(&b).await.expect("size"), None);
    assert_eq!(storage.delete_prefix(&c).await.expect("delete a file"), std::slice::from_ref(&c));
    assert!(storage.delete_prefix(&format!("{base}/none")).await.expect("delete nothing").is_empty());
    let rest = sorted(vec![big.clone(), small.clone(), empty.clone(), a.clone()]);
    assert_eq!(sorted(storage.delete_prefix(&base).await.expect("delete_prefix")), rest);
    assert!(storage.list(&base).await.expect("list").is_empty(), "everything under the prefix is gone");
    assert_eq!(storage.size(&big).await.expect("size"), None);

    assert!(storage.put(&format!("{base}/../escape"), bytes(b"x")).await.is_err(), "'..' must be rejected");
    assert!(storage.list("/contract/../..").await.is_err(), "'..' must be rejected");
}
