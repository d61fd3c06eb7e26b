//! `action` and `moveTo` (plugin-aws `ActionInterface`): what `Downloads`
//! and the S3 `Trigger` do with the objects they took — `NONE`, `DELETE`,
//! or `MOVE` to `moveTo.bucket` under `moveTo.key` (a folder: the object
//! keeps its file name), a server-side copy then a delete of the source.

use serde::Deserialize;

use super::common::{S3Obj, blank, one_of, s3_error, status};
use super::copy::{CopyObject, CopySpec, Encryption, copy};
use crate::{Declare, TaskError};

/// `action` and `moveTo`, `#[serde(flatten)]`ed into Downloads'.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ActionProps {
    /// What to do with the objects once taken: MOVE, DELETE or NONE.
    #[serde(default, deserialize_with = "crate::de::opt_string_lenient")]
    #[prop(dynamic, values = ["MOVE", "DELETE", "NONE"], required)]
    pub action: Option<String>,
    /// Where MOVE puts them: bucket and key (a folder), serverSideEncryption, kmsKeyId.
    #[serde(default)]
    #[prop(dynamic, kind = "Map")]
    pub move_to: Option<CopyObject>,
}

/// A checked action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    Delete,
    /// To `{bucket}/{folder}/{file name}`.
    Move {
        bucket: Option<String>,
        folder: String,
        encryption: Encryption,
    },
}

impl ActionProps {
    pub fn check(&self) -> Result<Action, TaskError> {
        match one_of("action", &self.action, &["MOVE", "DELETE", "NONE"])?.as_deref() {
            None => Err(TaskError::property("action", "is required: MOVE, DELETE or NONE")),
            Some("NONE") => Ok(Action::None),
            Some("DELETE") => Ok(Action::Delete),
            _ => {
                let m = self
                    .move_to
                    .as_ref()
                    .ok_or_else(|| TaskError::property("moveTo", "action MOVE needs moveTo {bucket, key}"))?;
                let folder = blank(&m.key).ok_or_else(|| TaskError::property("moveTo.key", "is required"))?;
                Ok(Action::Move {
                    bucket: blank(&m.bucket),
                    folder: folder.trim_end_matches('/').to_string(),
                    encryption: Encryption::of("moveTo", m)?,
                })
            }
        }
    }
}

impl Action {
    /// Where MOVE puts `key` of `bucket`.
    pub fn move_target(&self, bucket: &str, key: &str) -> Option<(String, String)> {
        match self {
            Action::Move { bucket: b, folder, .. } => {
                let file = key.trim_end_matches('/').rsplit('/').next().unwrap_or(key);
                Some((b.clone().unwrap_or_else(|| bucket.to_string()), format!("{folder}/{file}")))
            }
            _ => None,
        }
    }

    /// Does the action on `objects` of `bucket`. A MOVE copies only the
    /// version listed (same ETag): an object gone or changed since is left.
    pub async fn perform(&self, client: &aws_sdk_s3::Client, bucket: &str, objects: &[S3Obj]) -> Result<(), TaskError> {
        for o in objects {
            match self {
                Action::None => {}
                Action::Delete => delete(client, bucket, &o.key).await?,
                Action::Move { encryption, .. } => {
                    let Some(to) = self.move_target(bucket, &o.key) else { continue };
                    let spec = CopySpec {
                        from: (bucket.to_string(), o.key.clone()),
                        version_id: None,
                        if_match: o.etag.clone(),
                        to,
                        encryption: encryption.clone(),
                    };
                    match copy(client, &spec).await {
                        Ok(_) => delete(client, bucket, &o.key).await?,
                        Err(e) if is_gone_or_changed(&e) => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_gone_or_changed(e: &TaskError) -> bool {
    let s = e.to_string();
    s.contains("(NoSuchKey)") || s.contains("(PreconditionFailed)")
}

async fn delete(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), TaskError> {
    match client.delete_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(()),
        Err(e) if status(&e) == Some(404) => Ok(()),
        Err(e) => Err(s3_error(&format!("cannot delete s3://{bucket}/{key}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn action(v: serde_json::Value) -> Result<Action, TaskError> {
        let p: ActionProps = crate::parse_props(v.as_object().expect("map"))?;
        p.check()
    }

    #[test]
    fn move_keeps_the_file_name_under_move_to() {
        let a = action(json!({"action": "MOVE", "moveTo": {"bucket": "arch", "key": "done/"}})).expect("valid");
        assert_eq!(a.move_target("b", "in/x/a.csv"), Some(("arch".into(), "done/a.csv".into())));
        let a = action(json!({"action": "move", "moveTo": {"key": "done"}})).expect("valid");
        assert_eq!(a.move_target("b", "in/a.csv"), Some(("b".into(), "done/a.csv".into())));
        assert_eq!(action(json!({"action": "DELETE"})).expect("valid"), Action::Delete);
        let err = |v| action(v).expect_err("invalid").to_string();
        assert!(err(json!({})).contains("'action'"));
        assert!(err(json!({"action": "COPY"})).contains("'action'"));
        assert!(err(json!({"action": "MOVE"})).contains("'moveTo'"));
        assert!(err(json!({"action": "MOVE", "moveTo": {"bucket": "b"}})).contains("'moveTo.key'"));
    }
}
