//! `SECRET` inputs sealed at rest, as Kestra stores them encrypted: the
//! value of each of an execution's secret inputs (a flow's `SECRET`
//! inputs, and a subflow's inputs rendered from its parent's secrets) is
//! written to the database as `{"$sealed": "v1:<base64>"}` — AES-256-GCM
//! (ring) under a key kept beside the database (`<db>.key`, created with
//! mode 0600 on first open), with the execution and input ids as
//! associated data — and opened again when the execution is read, so the
//! engine and its tasks see the real value and the database never holds
//! it in clear. A value that cannot be opened (the key was lost or
//! replaced) reads as `******`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};

use crate::{BackendError, Result};
use baton_model::Execution;

/// The key of a sealed value's object.
const SEALED: &str = "$sealed";
/// The format of a sealed value (nonce, then ciphertext and tag).
const VERSION: &str = "v1:";
const KEY_LEN: usize = 32;

/// Seals and opens the secret inputs of executions.
pub struct Sealer {
    key: Option<LessSafeKey>,
    rng: SystemRandom,
}

impl Sealer {
    /// The key of the database at `db`: read from `<db>.key`, or created
    /// there when `create` (else, without one, nothing can be opened).
    pub fn for_database(db: &Path, create: bool) -> Result<Sealer> {
        let path = key_path(db);
        let rng = SystemRandom::new();
        let bytes = match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => Some(create_key(&path, &rng)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(BackendError::Invalid(format!("cannot read the key '{}': {e}", path.display()))),
        };
        let key = match bytes {
            Some(b) => Some(key_of(&b).ok_or_else(|| {
                BackendError::Invalid(format!("the key '{}' is not {KEY_LEN} bytes", path.display()))
            })?),
            None => None,
        };
        Ok(Sealer { key, rng })
    }

    /// A key of this process only (an in-memory database).
    pub fn ephemeral() -> Sealer {
        let rng = SystemRandom::new();
        let mut b = [0u8; KEY_LEN];
        let key = rng.fill(&mut b).ok().and_then(|()| key_of(&b));
        Sealer { key, rng }
    }

    /// `e` as stored: each secret input's value sealed.
    pub fn seal(&self, e: &mut Execution) -> Result<()> {
        for id in &e.secret_inputs {
            let Some(v) = e.inputs.get_mut(id) else { continue };
            if v.is_null() || is_sealed(v) {
                continue;
            }
            let key = self.key.as_ref().ok_or_else(|| no_key("seal"))?;
            let mut nonce = [0u8; NONCE_LEN];
            self.rng.fill(&mut nonce).map_err(|_| no_key("draw a nonce for"))?;
            let mut data = serde_json::to_vec(v).map_err(|e| BackendError::Invalid(e.to_string()))?;
            key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad(&e.id, id), &mut data)
                .map_err(|_| no_key("seal"))?;
            let mut out = nonce.to_vec();
            out.extend(data);
            *v = json!({ SEALED: format!("{VERSION}{}", base64::engine::general_purpose::STANDARD.encode(out)) });
        }
        Ok(())
    }

    /// `e` as read: each sealed value opened (`******` if it cannot be).
    pub fn open(&self, e: &mut Execution) {
        for id in &e.secret_inputs {
            let Some(v) = e.inputs.get_mut(id) else { continue };
            if is_sealed(v) {
                *v = self.open_value(&e.id, id, v).unwrap_or_else(|| Value::String("******".into()));
            }
        }
    }

    fn open_value(&self, exec: &str, input: &str, v: &Value) -> Option<Value> {
        let text = v.get(SEALED)?.as_str()?.strip_prefix(VERSION)?;
        let raw = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
        let (nonce, data) = raw.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self.key.as_ref()?.open_in_place(nonce, aad(exec, input), &mut data).ok()?;
        serde_json::from_slice(plain).ok()
    }
}

fn is_sealed(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.len() == 1 && m.contains_key(SEALED))
}

fn aad(exec: &str, input: &str) -> Aad<Vec<u8>> {
    Aad::from(format!("{exec}/{input}").into_bytes())
}

fn key_of(bytes: &[u8]) -> Option<LessSafeKey> {
    (bytes.len() == KEY_LEN).then(|| UnboundKey::new(&AES_256_GCM, bytes).ok().map(LessSafeKey::new)).flatten()
}

fn no_key(what: &str) -> BackendError {
    BackendError::Invalid(format!("cannot {what} a SECRET input: no usable key beside the database"))
}

fn key_path(db: &Path) -> PathBuf {
    db.with_extension("key")
}

/// A new random key at `path`, readable by its owner only; when another
/// process created one first, that one. Written whole to a file of its
/// own, then linked into place (a link never replaces a file): a reader
/// never sees a key half written.
fn create_key(path: &Path, rng: &SystemRandom) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut b = vec![0u8; KEY_LEN];
    rng.fill(&mut b).map_err(|_| BackendError::Invalid("cannot draw a random key".into()))?;
    let fail = |e: std::io::Error| BackendError::Invalid(format!("cannot create the key '{}': {e}", path.display()));
    let tmp = path.with_extension(format!("key.{}", uuid::Uuid::new_v4().simple()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let written = opts.open(&tmp).and_then(|mut f| f.write_all(&b).and_then(|()| f.sync_all()));
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path).map_err(fail),
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec() -> Execution {
        let inputs = json!({"pw": "s3cr3t", "n": {"deep": "s3cr3t"}, "plain": "x"});
        let mut e = Execution::new(
            "ex1".into(),
            "ns",
            "f",
            1,
            inputs.as_object().cloned().unwrap_or_default(),
            vec![],
            chrono::Utc::now(),
        );
        e.secret_inputs = vec!["pw".into(), "n".into()];
        e
    }

    #[test]
    fn a_secret_input_is_sealed_for_the_store_and_opened_back() {
        let dir = std::env::temp_dir().join(format!("baton-seal-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("baton.db");
        let sealer = Sealer::for_database(&db, true).expect("key");
        let mut e = exec();
        sealer.seal(&mut e).expect("seal");
        let stored = serde_json::to_string(&e).expect("json");
        assert!(!stored.contains("s3cr3t"), "{stored}");
        assert_eq!(e.inputs["plain"], "x");
        // another opening of the same database reads the same key
        let mut read: Execution = serde_json::from_str(&stored).expect("decode");
        Sealer::for_database(&db, false).expect("key").open(&mut read);
        assert_eq!(read.inputs, exec().inputs);
        // moved to another execution, or under another key: unreadable
        let mut moved: Execution = serde_json::from_str(&stored.replace("\"ex1\"", "\"ex2\"")).expect("decode");
        sealer.open(&mut moved);
        assert_eq!(moved.inputs["pw"], "******");
        let mut other: Execution = serde_json::from_str(&stored).expect("decode");
        Sealer::ephemeral().open(&mut other);
        assert_eq!(other.inputs["n"], "******");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
