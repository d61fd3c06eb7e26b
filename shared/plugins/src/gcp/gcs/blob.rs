//! Kestra's `Blob` output model (plugin-gcp `gcs/models/Blob.java`), built
//! from a JSON API object resource or a listing prefix; absent fields are
//! left out, as Kestra's JSON does with nulls.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

fn instant(v: &Value) -> Option<Value> {
    let s = v.as_str()?;
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    Some(Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
}

fn long(v: &Value) -> Option<Value> {
    match v {
        Value::Number(n) => Some(Value::Number(n.clone())),
        Value::String(s) => s.parse::<i64>().ok().map(Value::from),
        _ => None,
    }
}

/// (Kestra field, JSON API field, conversion) for one Blob property.
type FieldMap = (&'static str, &'static str, fn(&Value) -> Option<Value>);

fn same(v: &Value) -> Option<Value> {
    (!v.is_null()).then(|| v.clone())
}

/// `gs://bucket/name`.
pub fn uri(bucket: &str, name: &str) -> String {
    format!("gs://{bucket}/{name}")
}

/// An object resource as Kestra's Blob.
pub fn from_object(o: &Value) -> Value {
    let bucket = o["bucket"].as_str().unwrap_or_default();
    let name = o["name"].as_str().unwrap_or_default();
    let mut m = Map::new();
    m.insert("uri".into(), Value::String(uri(bucket, name)));
    m.insert("bucket".into(), Value::String(bucket.to_string()));
    m.insert("name".into(), Value::String(name.to_string()));
    let fields: [FieldMap; 22] = [
        ("generatedId", "id", same),
        ("selfLink", "selfLink", same),
        ("cacheControl", "cacheControl", same),
        ("size", "size", long),
        ("etag", "etag", same),
        ("md5", "md5Hash", same),
        ("crc32c", "crc32c", same),
        ("customTime", "customTime", instant),
        ("mediaLink", "mediaLink", same),
        ("metadata", "metadata", same),
        ("metaGeneration", "metageneration", long),
        ("deleteTime", "timeDeleted", instant),
        ("updateTime", "updated", instant),
        ("createTime", "timeCreated", instant),
        ("contentType", "contentType", same),
        ("contentEncoding", "contentEncoding", same),
        ("contentDisposition", "contentDisposition", same),
        ("contentLanguage", "contentLanguage", same),
        ("timeStorageClassUpdated", "timeStorageClassUpdated", instant),
        ("componentCount", "componentCount", long),
        ("kmsKeyName", "kmsKeyName", same),
        ("eventBasedHold", "eventBasedHold", same),
    ];
    for (out, src, conv) in fields {
        if let Some(v) = conv(&o[src]) {
            m.insert(out.into(), v);
        }
    }
    m.insert("directory".into(), Value::Bool(name.ends_with('/')));
    if let Some(v) = same(&o["temporaryHold"]) {
        m.insert("temporaryHold".into(), v);
    }
    if let Some(t) = o["retentionExpirationTime"].as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()) {
        m.insert("retentionExpirationTime".into(), Value::from(t.timestamp_millis()));
    }
    Value::Object(m)
}

/// A listing prefix ("directory") as Kestra's Blob.
pub fn from_prefix(bucket: &str, prefix: &str) -> Value {
    serde_json::json!({
        "uri": uri(bucket, prefix), "bucket": bucket, "name": prefix, "size": 0, "directory": true
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn maps_json_api_fields_to_kestra_names() {
        let b = super::from_object(&json!({
            "bucket": "lake", "name": "in/f.csv", "id": "lake/in/f.csv", "size": "29", "md5Hash": "DS/N==",
            "crc32c": "HEP3WQ==", "metageneration": "1", "timeCreated": "2026-11-22T00:29:12.251225Z",
            "contentType": "text/csv"
        }));
        assert_eq!(b["uri"], "gs://lake/in/f.csv");
        assert_eq!(b["size"], 29);
        assert_eq!(b["md5"], "DS/N==");
        assert_eq!(b["generatedId"], "lake/in/f.csv");
        assert_eq!(b["metaGeneration"], 1);
        assert_eq!(b["createTime"], "2026-11-22T00:29:12.251225Z");
        assert_eq!(b["directory"], false);
        assert!(b.get("cacheControl").is_none());
    }
}
