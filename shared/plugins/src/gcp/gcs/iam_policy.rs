//! `io.kestra.plugin.gcp.gcs.CreateBucketIamPolicy` (plugin-gcp
//! `gcs/CreateBucketIamPolicy.java`): grants `role` to `member` on bucket
//! `name` — reads the bucket's IAM policy (`storage.buckets.getIamPolicy`,
//! `GET /storage/v1/b/{bucket}/iam`), and when no binding of that role
//! holds the member, adds it (to the role's binding, or a new one) and
//! writes the policy back with its `etag` (`storage.buckets.setIamPolicy`,
//! `PUT`).
//!
//! As Kestra's (`Identity.valueOf`, `Role.of`): `member` is `allUsers`,
//! `allAuthenticatedUsers` or `{type}:{value}` with type one of user,
//! serviceAccount, group, domain, projectOwner, projectEditor,
//! projectViewer; a role without a `roles/`, `projects/` or
//! `organizations/` prefix gets `roles/`. When the binding exists,
//! `ifExists: SKIP` (default) logs it and outputs `created: false`;
//! `ERROR` fails. Outputs: `bucket`, `member` (the identity's value,
//! without its type, as Kestra's `Identity.getValue()`), `role`,
//! `created`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::gcp::common::GcpProps;
use crate::gcp::rest::Api;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The member types Kestra's `Identity.valueOf` knows.
const TYPES: &[&str] = &["user", "serviceAccount", "group", "domain", "projectOwner", "projectEditor", "projectViewer"];

/// `member` as `(its string in a policy, its value without the type)`.
fn identity(s: &str) -> Result<(String, Option<String>), String> {
    let s = s.trim();
    if s == "allUsers" || s == "allAuthenticatedUsers" {
        return Ok((s.to_string(), None));
    }
    match s.split_once(':') {
        Some((t, v)) if TYPES.contains(&t) && !v.is_empty() => Ok((s.to_string(), Some(v.to_string()))),
        _ => Err(format!(
            "'{s}' is not an IAM member: expected allUsers, allAuthenticatedUsers or TYPE:VALUE with TYPE one of {}",
            TYPES.join(", ")
        )),
    }
}

fn member_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => identity(s).map(|_| ()),
        _ => Ok(()),
    }
}

/// Kestra's `Role.of`: `roles/` added to a bare role name.
fn role(s: &str) -> String {
    let s = s.trim();
    if ["roles/", "projects/", "organizations/"].iter().any(|p| s.starts_with(p)) {
        s.to_string()
    } else {
        format!("roles/{s}")
    }
}

/// Add an IAM binding to a GCS bucket.
///
/// Grants a role to a member on a bucket's IAM policy; skips (or fails) when the binding already exists.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.CreateBucketIamPolicy",
    group = "gcp",
    example = "id: create_bucket_iam_policy\ntype: io.kestra.plugin.gcp.gcs.CreateBucketIamPolicy\nname: my-bucket\nmember: serviceAccount:sa@project.iam.gserviceaccount.com\nrole: roles/storage.admin\n",
    outputs(
        bucket(String, "The bucket's name."),
        member(String, "The member's identity, without its type (sa@project.iam.gserviceaccount.com)."),
        role(String, "The role (roles/…)."),
        created(Boolean, "Whether the binding was added (false: it already existed).")
    )
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The bucket's name.
    #[serde(deserialize_with = "de::string_lenient")]
    name: String,
    /// The IAM member: user:…, serviceAccount:…, group:…, domain:…, allUsers…
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = member_ok)]
    member: String,
    /// The role to grant (roles/storage.objectViewer).
    #[serde(deserialize_with = "de::string_lenient")]
    role: String,
    /// What to do when the member already has the role.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ERROR", "SKIP"], default = "\"SKIP\"")]
    if_exists: Option<String>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct CreateBucketIamPolicy {
    gcp: GcpProps,
    bucket: String,
    /// As it is written in a policy (`serviceAccount:sa@…`).
    member: String,
    /// Without its type (Kestra's output).
    member_value: Option<String>,
    role: String,
    error_if_exists: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let (member, member_value) = identity(&p.member).map_err(|e| TaskError::property("member", e))?;
    let error_if_exists = match p.if_exists.as_deref().map(str::trim) {
        None | Some("SKIP") => false,
        Some("ERROR") => true,
        Some(other) => return Err(TaskError::property("ifExists", format!("'{other}' is not one of ERROR, SKIP"))),
    };
    let bucket = p.name.trim().to_string();
    if bucket.is_empty() || !bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c)) {
        return Err(TaskError::property("name", format!("'{}' is not a bucket name (a-z, 0-9, -, _ and .)", p.name)));
    }
    Ok(Box::new(CreateBucketIamPolicy {
        gcp: p.gcp,
        bucket,
        member,
        member_value,
        role: role(&p.role),
        error_if_exists,
    }))
}

/// Whether a binding of `role` (without a condition) holds `member`.
fn has(policy: &Value, role: &str, member: &str) -> bool {
    bindings(policy).iter().any(|b| {
        b["role"].as_str() == Some(role)
            && b["members"].as_array().is_some_and(|m| m.iter().any(|x| x.as_str() == Some(member)))
    })
}

fn bindings(policy: &Value) -> Vec<Value> {
    policy["bindings"].as_array().cloned().unwrap_or_default()
}

/// The policy to write back: `member` added to the role's binding without
/// a condition, or to a new one; the `etag` and `version` read kept.
fn with_member(policy: &Value, role: &str, member: &str) -> Value {
    let mut list = bindings(policy);
    match list.iter_mut().find(|b| b["role"].as_str() == Some(role) && b.get("condition").is_none()) {
        Some(b) => match b.get_mut("members").and_then(Value::as_array_mut) {
            Some(m) => m.push(json!(member)),
            None => b["members"] = json!([member]),
        },
        None => list.push(json!({"role": role, "members": [member]})),
    }
    let mut out = Map::new();
    out.insert("bindings".into(), Value::Array(list));
    for k in ["etag", "version"] {
        if let Some(v) = policy.get(k).filter(|v| !v.is_null()) {
            out.insert(k.into(), v.clone());
        }
    }
    Value::Object(out)
}

#[async_trait]
impl RunnableTask for CreateBucketIamPolicy {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let api = Api::connect(cx, &r, "Cloud Storage", "storage.googleapis.com").await?;
        let path = format!("/storage/v1/b/{}/iam", self.bucket);
        let policy = api.get(cx, &path).await?;
        let mut out = Map::new();
        out.insert("bucket".into(), json!(self.bucket));
        out.insert("member".into(), json!(self.member_value));
        out.insert("role".into(), json!(self.role));
        if has(&policy, &self.role, &self.member) {
            let msg = format!("Binding {} for member {} already exists", self.role, self.member);
            if self.error_if_exists {
                return Err(TaskError::failed(msg));
            }
            cx.info(&msg);
            out.insert("created".into(), json!(false));
            return Ok(TaskOutput::with(out));
        }
        api.send(cx, reqwest::Method::PUT, &path, Some(&with_member(&policy, &self.role, &self.member))).await?;
        cx.info(&format!("Granted {} to {} on bucket {}", self.role, self.member, self.bucket));
        out.insert("created".into(), json!(true));
        Ok(TaskOutput::with(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_and_roles_read_as_kestra_reads_them() {
        assert_eq!(identity("user:a@b.c"), Ok(("user:a@b.c".into(), Some("a@b.c".into()))));
        assert_eq!(identity("allUsers"), Ok(("allUsers".into(), None)));
        assert!(identity("robot:x").is_err() && identity("user:").is_err());
        assert_eq!(role("storage.admin"), "roles/storage.admin");
        assert_eq!(role("projects/p/roles/custom"), "projects/p/roles/custom");
    }

    #[test]
    fn the_member_joins_the_role_s_binding() {
        let p = json!({"etag": "CAE=", "version": 1, "kind": "storage#policy",
                       "bindings": [{"role": "roles/storage.admin", "members": ["user:a@b.c"]}]});
        assert!(has(&p, "roles/storage.admin", "user:a@b.c"));
        assert!(!has(&p, "roles/storage.admin", "user:x@b.c"));
        assert_eq!(
            with_member(&p, "roles/storage.admin", "user:x@b.c"),
            json!({"etag": "CAE=", "version": 1,
                   "bindings": [{"role": "roles/storage.admin", "members": ["user:a@b.c", "user:x@b.c"]}]})
        );
        assert_eq!(
            with_member(&json!({}), "roles/storage.objectViewer", "allUsers")["bindings"],
            json!([{"role": "roles/storage.objectViewer", "members": ["allUsers"]}])
        );
    }
}
