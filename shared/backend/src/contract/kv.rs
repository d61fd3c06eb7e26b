//! The KV store contract: typed values, overwrite rules, TTL expiry
//! (deleted on read), listing and deletion.

use chrono::TimeDelta;
use serde_json::json;

use super::{minutes, now_ms, unique};
use crate::{BackendError, KvLookup, KvStore, KvType, KvValue};

/// Typed values, overwrite rules, TTL expiry (deleted on read), listing and
/// deletion.
///
/// # Panics
/// When the store breaks the contract.
pub async fn kv_contract(kv: &dyn KvStore) {
    let ns = format!("contract.kv{}", unique());
    let now = now_ms();
    let val = |kind: KvType, value: serde_json::Value| KvValue { kind, value };
    assert_eq!(kv.get(&ns, "absent", now).await.expect("get"), KvLookup::Missing);

    let typed = [
        ("b-string", val(KvType::String, json!("hello"))),
        ("c-number", val(KvType::Number, json!(42.5))),
        ("a-boolean", val(KvType::Boolean, json!(true))),
        ("d-datetime", val(KvType::Datetime, json!("2024-01-02T03:04:05Z"))),
        ("e-date", val(KvType::Date, json!("2024-01-02"))),
        ("f-duration", val(KvType::Duration, json!("PT1H"))),
        ("g-json", val(KvType::Json, json!({"a": [1, 2, {"b": null}], "c": "d"}))),
    ];
    for (key, value) in &typed {
        kv.set(&ns, key, value, None, false, now).await.expect("set");
        assert_eq!(kv.get(&ns, key, now).await.expect("get"), KvLookup::Found(value.clone()), "{key} reads back");
    }

    let later = now + minutes(1);
    match kv.set(&ns, "b-string", &val(KvType::String, json!("no")), None, false, later).await {
        Err(BackendError::Invalid(m)) => assert_eq!(m, "Key already exists and `overwrite` is set to `false`."),
        other => panic!("overwrite=false on a live key must be Invalid, got {other:?}"),
    }
    let replaced = val(KvType::Number, json!(7));
    kv.set(&ns, "b-string", &replaced, None, true, later).await.expect("overwrite");
    assert_eq!(kv.get(&ns, "b-string", later).await.expect("get"), KvLookup::Found(replaced));
    // Kestra 2.0's detail: the revision grows with each overwrite
    let d = kv.detail(&ns, "b-string", later).await.expect("detail").expect("b-string has a detail");
    assert_eq!((d.kind, d.value, d.revision, d.updated), (KvType::Number, json!(7), 2, later), "second revision");
    let d = kv.detail(&ns, "a-boolean", later).await.expect("detail").expect("a-boolean has a detail");
    assert_eq!((d.revision, d.updated), (1, now), "a key written once is revision 1");
    assert_eq!(kv.detail(&ns, "absent", now).await.expect("detail"), None);

    // TTL.
    let ttl = val(KvType::String, json!("short-lived"));
    kv.set(&ns, "h-ttl", &ttl, Some(now + TimeDelta::seconds(10)), true, now).await.expect("set ttl");
    assert_eq!(kv.get(&ns, "h-ttl", now + TimeDelta::seconds(5)).await.expect("get"), KvLookup::Found(ttl.clone()));

    let listed = kv.list(&ns, later - TimeDelta::seconds(55)).await.expect("list");
    let keys: Vec<&str> = listed.iter().map(|e| e.key.as_str()).collect();
    let mut expected: Vec<&str> = typed.iter().map(|(k, _)| *k).chain(["h-ttl"]).collect();
    expected.sort();
    assert_eq!(keys, expected, "list is sorted by key and includes live TTL keys");
    let entry = |key: &str| listed.iter().find(|e| e.key == key).cloned().expect("listed");
    let b = entry("b-string");
    assert_eq!((b.kind, b.creation_date, b.update_date), (KvType::Number, now, later), "overwrite keeps creation");
    assert_eq!(entry("h-ttl").expiration_date, Some(now + TimeDelta::seconds(10)));
    assert_eq!(entry("a-boolean").expiration_date, None);

    let after = now + TimeDelta::seconds(20);
    assert!(kv.list(&ns, after).await.expect("list").iter().all(|e| e.key != "h-ttl"), "expired keys are not listed");
    // what PurgeKV sees: every key, expired ones too, and the namespace
    let all = kv.list_all(&ns).await.expect("list_all");
    let all_keys: Vec<&str> = all.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(all_keys, expected, "list_all is sorted and includes expired keys");
    assert_eq!(
        all.iter().find(|e| e.key == "h-ttl").and_then(|e| e.expiration_date),
        Some(now + TimeDelta::seconds(10))
    );
    let namespaces = kv.namespaces().await.expect("namespaces");
    assert!(namespaces.contains(&ns), "{ns} holds keys: {namespaces:?}");
    assert!(namespaces.windows(2).all(|w| w[0] < w[1]), "namespaces are sorted and distinct");
    assert_eq!(kv.get(&ns, "h-ttl", after).await.expect("get"), KvLookup::Expired);
    assert_eq!(kv.get(&ns, "h-ttl", after).await.expect("get"), KvLookup::Missing, "an expired key is deleted on read");
    kv.set(&ns, "i-ttl", &ttl, Some(now + TimeDelta::seconds(1)), true, now).await.expect("set ttl");
    kv.set(&ns, "i-ttl", &ttl, None, false, after).await.expect("overwrite=false on an expired key is allowed");
    let i = kv.list(&ns, after).await.expect("list").into_iter().find(|e| e.key == "i-ttl").expect("i-ttl listed");
    assert_eq!((i.creation_date, i.expiration_date), (after, None), "an expired key is replaced, not updated");
    let d = kv.detail(&ns, "i-ttl", after).await.expect("detail").expect("i-ttl detail");
    assert_eq!(d.revision, 1, "a key set again after it expired starts at revision 1");
    kv.set(&ns, "j-ttl", &ttl, Some(now + TimeDelta::seconds(1)), true, now).await.expect("set ttl");
    assert_eq!(kv.detail(&ns, "j-ttl", after).await.expect("detail"), None, "an expired key has no detail");

    // isolation and deletion.
    let other = format!("{ns}.other");
    assert_eq!(kv.get(&other, "a-boolean", now).await.expect("get"), KvLookup::Missing, "namespaces are isolated");
    assert!(kv.list(&other, now).await.expect("list").is_empty());
    assert!(kv.delete(&ns, "a-boolean").await.expect("delete"), "delete of an existing key is true");
    assert!(!kv.delete(&ns, "a-boolean").await.expect("delete"), "delete of a missing key is false");
    assert_eq!(kv.get(&ns, "a-boolean", now).await.expect("get"), KvLookup::Missing);
    for key in expected {
        kv.delete(&ns, key).await.expect("cleanup");
    }
    kv.delete(&ns, "i-ttl").await.expect("cleanup");
    assert!(kv.list_all(&ns).await.expect("list_all").is_empty());
    assert!(!kv.namespaces().await.expect("namespaces").contains(&ns), "an emptied namespace is not listed");
}
