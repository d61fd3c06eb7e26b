//! Tests of `namespace.PurgeFiles`: the pure revision choice, behavior
//! parsing, and runs over memory storage.

use chrono::{Duration, TimeZone};
use serde_json::json;

use super::*;
use crate::core::test_support::Env;
use baton_backend::nsfiles::{NamespaceFiles, StoredNamespaceFiles};

fn rev(revision: u32, day: u32) -> Revision {
    Revision { revision, updated: Some(Utc.with_ymd_and_hms(2025, 1, day, 0, 0, 0).unwrap()) }
}

#[test]
fn keep_amount_keeps_the_newest_and_before_never_takes_the_last() {
    let h = [rev(1, 1), rev(2, 2), rev(3, 3), rev(4, 4)];
    let keep = |n| Behavior { before: None, keep_amount: Some(n) };
    assert_eq!(to_purge(&h, &keep(1)), [3, 2, 1]);
    assert_eq!(to_purge(&h, &keep(3)), [1]);
    assert!(to_purge(&h, &keep(9)).is_empty());
    assert_eq!(to_purge(&h, &keep(0)), [4, 3, 2, 1]);
    assert_eq!(to_purge(&h, &Behavior { before: None, keep_amount: None }), [4, 3, 2, 1]);
    let before =
        |day| Behavior { before: Some(Utc.with_ymd_and_hms(2025, 1, day, 0, 0, 0).unwrap()), keep_amount: None };
    assert_eq!(to_purge(&h, &before(2)), [2, 1], "at or before the date");
    assert_eq!(to_purge(&h, &before(31)), [3, 2, 1], "never the last revision");
    assert!(to_purge(&[rev(1, 1)], &before(31)).is_empty());
    assert!(to_purge(&[Revision { revision: 1, updated: None }, rev(2, 2)], &before(31)).is_empty(), "undated: kept");
}

#[test]
fn behaviors_are_checked() {
    let p = |v: Value| parse_behavior(&v, true);
    assert_eq!(p(json!({"type": "version"})).unwrap(), Some(Behavior { before: None, keep_amount: None }));
    assert_eq!(p(json!({"type": "version", "keepAmount": "2"})).unwrap().unwrap().keep_amount, Some(2));
    let b = p(json!({"type": "version", "before": "2025-01-01T00:00:00+01:00"})).unwrap().unwrap();
    assert_eq!(b.before, Some(Utc.with_ymd_and_hms(2024, 12, 31, 23, 0, 0).unwrap()));
    let e = p(json!({"type": "version", "before": "2025-01-01T00:00:00Z", "keepAmount": 1})).unwrap_err();
    assert!(e.contains("Cannot set both"), "{e}");
    assert!(p(json!({"keepAmount": 1})).unwrap_err().contains("'type'"));
    assert!(p(json!({"type": "key"})).unwrap_err().contains("expected version"));
    assert!(p(json!({"type": "version", "keep": 1})).unwrap_err().contains("unknown behavior property 'keep'"));
    assert!(p(json!({"type": "version", "keepAmount": -1})).unwrap_err().contains("keepAmount"));
    assert!(p(json!({"type": "version", "before": "yesterday"})).unwrap_err().contains("behavior.before"));
    assert!(check_behavior(&json!({"type": "version", "before": "{{ now() }}"})).is_ok(), "templates fit");
    assert!(check_behavior(&json!("{{ vars.behavior }}")).is_ok());
}

async fn put(files: &StoredNamespaceFiles, ns: &str, path: &str, times: usize) {
    for i in 0..times {
        files.put(ns, path, Box::pin(std::io::Cursor::new(format!("v{i}").into_bytes()))).await.unwrap();
    }
}

async fn revisions(files: &StoredNamespaceFiles, ns: &str, path: &str) -> Vec<u32> {
    files.revisions(ns, path).await.unwrap()
}

#[tokio::test]
async fn keeps_the_last_revision_by_default_across_child_namespaces() {
    let env = Env::new();
    let files = StoredNamespaceFiles::new(env.storage.clone());
    put(&files, "company", "a.sql", 3).await;
    put(&files, "company.team", "q/b.sql", 2).await;
    put(&files, "company.team", "c.txt", 2).await;
    put(&files, "other", "d.sql", 2).await;
    let out = env.run(&DEF, json!({"namespaces": ["company"], "filePattern": "*.sql"})).await.unwrap();
    assert_eq!(out.outputs["size"], json!(3));
    assert_eq!(revisions(&files, "company", "a.sql").await, [3]);
    assert_eq!(revisions(&files, "company.team", "q/b.sql").await, [2]);
    assert_eq!(revisions(&files, "company.team", "c.txt").await, [1, 2], "not matching filePattern");
    assert_eq!(revisions(&files, "other", "d.sql").await, [1, 2], "not a selected namespace");
    let mut content = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut files.get("company", "a.sql").await.unwrap(), &mut content)
        .await
        .unwrap();
    assert_eq!(content, "v2", "the current content stays");
    assert!(env.logs.text().contains(&"INFO purged 3 files".to_string()), "{:?}", env.logs.text());

    // without children, a pattern, and everything
    let out = env
        .run(&DEF, json!({"namespaces": ["company"], "includeChildNamespaces": false, "behavior": {"type": "version"}}))
        .await
        .unwrap();
    assert_eq!(out.outputs["size"], json!(1), "company's a.sql only, whole");
    assert!(files.list("company", "").await.unwrap().is_empty());
    assert_eq!(files.list("company.team", "").await.unwrap().len(), 2);
    let out = env.run(&DEF, json!({"namespacePattern": "oth*"})).await.unwrap();
    assert_eq!(out.outputs["size"], json!(1));
    let out = env.run(&DEF, json!({"behavior": {"type": "version", "keepAmount": 0}})).await.unwrap();
    assert_eq!(out.outputs["size"], json!(4), "every revision of every file: q/b.sql 1, c.txt 2, d.sql 1");
    assert!(files.namespaces(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn before_purges_old_revisions_written_until_the_date() {
    let env = Env::new();
    let files = StoredNamespaceFiles::new(env.storage.clone());
    put(&files, "company", "a.sql", 3).await;
    let old = Utc::now() - Duration::days(10);
    for r in [1, 2] {
        env.storage.set_modified(&format!("/company/_file_revisions/a.sql/{r}"), old).unwrap();
    }
    let cut = (Utc::now() - Duration::days(5)).to_rfc3339();
    let out = env.run(&DEF, json!({"behavior": {"type": "version", "before": cut}})).await.unwrap();
    assert_eq!(out.outputs["size"], json!(2));
    assert_eq!(revisions(&files, "company", "a.sql").await, [3]);
}

#[tokio::test]
async fn refusals_name_the_property() {
    let env = Env::new();
    let e = env.run(&DEF, json!({"namespaces": ["a"], "namespacePattern": "a*"})).await.unwrap_err();
    assert!(e.to_string().contains("can't be used at the same time"), "{e}");
    let e = env.run(&DEF, json!({"namespaces": ["a b"]})).await.unwrap_err();
    assert!(e.to_string().contains("'namespaces'"), "{e}");
    let e = env.run(&DEF, json!({"behavior": {"type": "version", "keepAmount": 1, "before": "2025-01-01T00:00:00Z"}}));
    let e = e.await.unwrap_err();
    assert!(e.to_string().contains("'behavior'") && e.to_string().contains("Cannot set both"), "{e}");
}
