//! `SECRET` inputs sealed at rest, as Kestra stores them encrypted: the
//! value of each of an execution's secret inputs (a flow's `SECRET`
//! inputs, and a subflow's inputs rendered from its parent's secrets) is
//! written to the store as `{"$sealed": "v1:<base64>"}` — AES-256-GCM
//! (ring) with the execution and input ids as associated data — and opened
//! again when the execution is read, so the engine and its tasks see the
//! real value and the store never holds it in clear. A value that cannot
//! be opened (the key was lost or replaced) reads as `******`.
//!
//! One module for both runtimes; only where the key lives differs:
//! - embedded (SQLite): beside the database (`<db>.key`, created with mode
//!   0600 on first open) — [`Sealer::for_database`];
//! - Google Cloud (Firestore): the `BATON_SEAL_KEY` setting, the base64 of
//!   32 bytes, which Terraform keeps in the Secret Manager secret
//!   `baton-seal-key` and maps into every service — [`Sealer::from_setting`].
//!   Without it an execution with a SECRET input is refused, naming the
//!   setting; flows without one run as before.
//!
//! **Rotation** (Google Cloud): the new key goes in `BATON_SEAL_KEY`, the
//! old ones in `BATON_SEAL_KEY_PREVIOUS` (a comma list, at most
//! [`MAX_PREVIOUS_KEYS`]). A value is always sealed under the current key;
//! the previous ones only open what was sealed before the rotation (tried
//! after the current one), and an execution read that way is sealed under
//! the new key at its next save. A value under none of them names both
//! settings, never a key.
//!
//! A worker job that leaves the process (Pub/Sub, the functions' relay)
//! carries the same sealed form in its context's `inputs`
//! ([`Sealer::seal_inputs`]), opened by the worker that runs it
//! ([`Sealer::open_inputs`]), so no message holds a SECRET input in clear.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value, json};

use crate::{BackendError, Result};
use baton_model::Execution;

/// The key of a sealed value's object.
const SEALED: &str = "$sealed";
/// The format of a sealed value (nonce, then ciphertext and tag).
const VERSION: &str = "v1:";
const KEY_LEN: usize = 32;

/// The setting that holds the key of the Google Cloud runtime.
pub const SEAL_KEY_SETTING: &str = "BATON_SEAL_KEY";
/// The setting that holds the keys of before a rotation (a comma list):
/// they open values, never seal them.
pub const SEAL_KEY_PREVIOUS_SETTING: &str = "BATON_SEAL_KEY_PREVIOUS";
/// How many previous keys `BATON_SEAL_KEY_PREVIOUS` may hold (each one is
/// tried on a value the current key cannot open).
pub const MAX_PREVIOUS_KEYS: usize = 8;

/// A key setting that cannot be used. Never holds the setting's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealKeyError {
    /// The setting's value (or one of its keys) is not a key.
    #[error("{setting} is not a usable key: {why}")]
    Unusable { setting: &'static str, why: String },
    /// Previous keys without a current one: nothing could be sealed.
    #[error(
        "{SEAL_KEY_PREVIOUS_SETTING} is set but {SEAL_KEY_SETTING} is not: the previous keys only open values \
         sealed before a rotation, new values are sealed under {SEAL_KEY_SETTING}"
    )]
    PreviousWithoutCurrent,
}

impl SealKeyError {
    /// The setting at fault.
    pub fn setting(&self) -> &'static str {
        match self {
            SealKeyError::Unusable { setting, .. } => setting,
            SealKeyError::PreviousWithoutCurrent => SEAL_KEY_PREVIOUS_SETTING,
        }
    }
}

/// The keys of the Google Cloud runtime's settings, read through `get`
/// (an unset or blank variable is `None`): the current key
/// ([`SEAL_KEY_SETTING`]) and the previous ones
/// ([`SEAL_KEY_PREVIOUS_SETTING`]).
pub fn keys_from_settings(
    get: impl Fn(&str) -> Option<String>,
) -> std::result::Result<(Option<SealKey>, Vec<SealKey>), SealKeyError> {
    let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    let current = match var(SEAL_KEY_SETTING) {
        Some(text) => {
            Some(SealKey::parse(&text).map_err(|why| SealKeyError::Unusable { setting: SEAL_KEY_SETTING, why })?)
        }
        None => None,
    };
    let previous = match var(SEAL_KEY_PREVIOUS_SETTING) {
        Some(text) => SealKey::parse_list(&text)
            .map_err(|why| SealKeyError::Unusable { setting: SEAL_KEY_PREVIOUS_SETTING, why })?,
        None => Vec::new(),
    };
    if current.is_none() && !previous.is_empty() {
        return Err(SealKeyError::PreviousWithoutCurrent);
    }
    Ok((current, previous))
}

/// A key given as text (`BATON_SEAL_KEY`): 32 bytes. Its `Debug` never
/// shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SealKey([u8; KEY_LEN]);

impl SealKey {
    /// The key `text` encodes: standard base64 (padded or not) of exactly
    /// 32 bytes, as `openssl rand -base64 32` prints; the error says why not
    /// without repeating the text.
    pub fn parse(text: &str) -> std::result::Result<SealKey, String> {
        let text = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| format!("not base64 (the base64 of {KEY_LEN} random bytes: `openssl rand -base64 32`)"))?;
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            format!("{} bytes once decoded, not {KEY_LEN} (`openssl rand -base64 32` prints a key)", bytes.len())
        })?;
        Ok(SealKey(key))
    }

    /// The keys of a comma list (blanks around each ignored), at most
    /// [`MAX_PREVIOUS_KEYS`]; the error names the key's place in the list,
    /// never its text.
    pub fn parse_list(text: &str) -> std::result::Result<Vec<SealKey>, String> {
        let parts: Vec<&str> = text.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
        if parts.len() > MAX_PREVIOUS_KEYS {
            return Err(format!(
                "{} keys, at most {MAX_PREVIOUS_KEYS} (MAX_PREVIOUS_KEYS; drop the oldest once no stored value needs it)",
                parts.len()
            ));
        }
        let n = parts.len();
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| SealKey::parse(p).map_err(|why| format!("key {} of {n}: {why}", i + 1)))
            .collect()
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(…)")
    }
}

/// Seals and opens the secret inputs of executions.
pub struct Sealer {
    key: Option<LessSafeKey>,
    /// Keys of before a rotation: tried, in order, on a value `key` cannot
    /// open; never used to seal.
    previous: Vec<LessSafeKey>,
    rng: SystemRandom,
    /// Why there is no key, for the error of a seal without one.
    missing: String,
    /// What a value no key opens was sealed under, for its error.
    unknown: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key", &self.key.is_some())
            .field("previous", &self.previous.len())
            .finish_non_exhaustive()
    }
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
        let missing = format!("no usable key beside the database ('{}')", path.display());
        let unknown = format!("it was sealed under a key other than '{}'", path.display());
        Ok(Sealer { key, previous: Vec::new(), rng, missing, unknown })
    }

    /// A key of this process only (an in-memory database).
    pub fn ephemeral() -> Sealer {
        let rng = SystemRandom::new();
        let mut b = [0u8; KEY_LEN];
        let key = rng.fill(&mut b).ok().and_then(|()| key_of(&b));
        Sealer {
            key,
            previous: Vec::new(),
            rng,
            missing: "no key could be drawn".into(),
            unknown: "it was sealed under a key other than this process's".into(),
        }
    }

    /// The key of a runtime that reads it from `setting` (the Google Cloud
    /// runtime: [`SEAL_KEY_SETTING`]); without one, storing a SECRET input
    /// fails naming the setting.
    pub fn from_setting(key: Option<&SealKey>, setting: &str) -> Sealer {
        Sealer {
            key: key.and_then(|k| key_of(&k.0)),
            previous: Vec::new(),
            rng: SystemRandom::new(),
            missing: format!(
                "{setting} is not set: a SECRET input is stored sealed under that key (the base64 of 32 random bytes, `openssl rand -base64 32`; the Terraform configuration provides it from the Secret Manager secret baton-seal-key)"
            ),
            unknown: format!("it was sealed under a key other than {setting}"),
        }
    }

    /// The keys of before a rotation, from `setting`
    /// ([`SEAL_KEY_PREVIOUS_SETTING`]): they open values the current key
    /// cannot, and never seal one.
    pub fn with_previous(mut self, previous: &[SealKey], setting: &str) -> Sealer {
        self.previous = previous.iter().filter_map(|k| key_of(&k.0)).collect();
        if !self.previous.is_empty() {
            self.unknown = format!("{} and the {} of {setting}", self.unknown, self.previous.len());
        }
        self
    }

    /// Whether values can be sealed and opened.
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// `e` as stored: each secret input's value sealed.
    pub fn seal(&self, e: &mut Execution) -> Result<()> {
        self.seal_inputs(&e.id, &e.secret_inputs, &mut e.inputs)
    }

    /// The inputs `ids` of execution `exec` in `inputs` sealed (those
    /// absent, null or sealed already are left as they are).
    pub fn seal_inputs(&self, exec: &str, ids: &[String], inputs: &mut Map<String, Value>) -> Result<()> {
        for id in ids {
            let Some(v) = inputs.get_mut(id) else { continue };
            if v.is_null() || is_sealed(v) {
                continue;
            }
            let fail = |what: &str| {
                BackendError::Invalid(format!(
                    "cannot {what} the SECRET input '{id}' of execution {exec}: {}",
                    self.missing
                ))
            };
            let key = self.key.as_ref().ok_or_else(|| fail("seal"))?;
            let mut nonce = [0u8; NONCE_LEN];
            self.rng.fill(&mut nonce).map_err(|_| fail("draw a nonce for"))?;
            let mut data = serde_json::to_vec(v).map_err(|e| BackendError::Invalid(e.to_string()))?;
            key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad(exec, id), &mut data)
                .map_err(|_| fail("seal"))?;
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

    /// The sealed values among `inputs` of execution `exec` opened; one
    /// that cannot be (another key) is an error naming the input and the
    /// key's setting — a task must not run on `******` instead of its value.
    pub fn open_inputs(&self, exec: &str, inputs: &mut Map<String, Value>) -> Result<()> {
        for (id, v) in inputs.iter_mut() {
            if !is_sealed(v) {
                continue;
            }
            *v = self.open_value(exec, id, v).ok_or_else(|| {
                let why = if self.key.is_some() { self.unknown.as_str() } else { self.missing.as_str() };
                BackendError::Invalid(format!("cannot open the SECRET input '{id}' of execution {exec}: {why}"))
            })?;
        }
        Ok(())
    }

    fn open_value(&self, exec: &str, input: &str, v: &Value) -> Option<Value> {
        let text = v.get(SEALED)?.as_str()?.strip_prefix(VERSION)?;
        let raw = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
        let (nonce, data) = raw.split_at_checked(NONCE_LEN)?;
        // the current key first: with a rotation done, the previous ones are
        // needed only by values sealed before it
        let current = self.key.as_ref()?;
        for key in std::iter::once(current).chain(&self.previous) {
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut data = data.to_vec();
            if let Ok(plain) = key.open_in_place(nonce, aad(exec, input), &mut data) {
                return serde_json::from_slice(plain).ok();
            }
        }
        None
    }
}

/// Whether `inputs` holds a sealed value (a job that must be opened).
pub fn has_sealed(inputs: &Map<String, Value>) -> bool {
    inputs.values().any(is_sealed)
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

fn key_path(db: &Path) -> PathBuf {
    db.with_extension("key")
}

/// The 32 random bytes kept at `path`: read, or drawn and written there
/// (readable by its owner only) when there is no such file yet. The local
/// server's session key (`<home>/session.key`).
pub fn key_file(path: &Path) -> Result<Vec<u8>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(path, &SystemRandom::new())?,
        Err(e) => return Err(BackendError::Invalid(format!("cannot read the key '{}': {e}", path.display()))),
    };
    if bytes.len() != KEY_LEN {
        return Err(BackendError::Invalid(format!("the key '{}' is not {KEY_LEN} bytes", path.display())));
    }
    Ok(bytes)
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

    #[test]
    fn a_key_from_a_setting_seals_a_job_s_inputs_and_none_refuses_naming_the_setting() {
        let text = base64::engine::general_purpose::STANDARD.encode([7u8; KEY_LEN]);
        let key = SealKey::parse(&format!(" {text}\n")).expect("key");
        assert_eq!(format!("{key:?}"), "SealKey(…)", "never shown");
        for bad in ["not base64!", "c2hvcnQ="] {
            let err = SealKey::parse(bad).expect_err(bad);
            assert!(err.contains("openssl rand -base64 32") && !err.contains(bad), "{err}");
        }
        let sealer = Sealer::from_setting(Some(&key), SEAL_KEY_SETTING);
        let mut e = exec();
        sealer.seal(&mut e).expect("seal");
        let mut inputs = e.inputs.clone();
        assert!(has_sealed(&inputs) && !serde_json::to_string(&inputs).expect("json").contains("s3cr3t"));
        // another process with the same key opens them; another key refuses, naming the input
        Sealer::from_setting(Some(&key), SEAL_KEY_SETTING).open_inputs("ex1", &mut inputs).expect("open");
        assert_eq!(inputs, exec().inputs);
        let mut other = e.inputs.clone();
        let err = Sealer::ephemeral().open_inputs("ex1", &mut other).expect_err("another key");
        assert!(err.to_string().contains("'pw'") || err.to_string().contains("'n'"), "{err}");
        let err = Sealer::from_setting(None, SEAL_KEY_SETTING).open_inputs("ex1", &mut other).expect_err("no key");
        assert!(err.to_string().contains(SEAL_KEY_SETTING), "{err}");
        // without a key, storing a SECRET input is refused naming the setting
        let err = Sealer::from_setting(None, SEAL_KEY_SETTING).seal(&mut exec()).expect_err("no key");
        assert!(err.to_string().contains("BATON_SEAL_KEY is not set") && err.to_string().contains("ex1"), "{err}");
        // an execution without one needs no key
        let mut plain = exec();
        plain.secret_inputs.clear();
        Sealer::from_setting(None, SEAL_KEY_SETTING).seal(&mut plain).expect("nothing to seal");
    }

    fn key(byte: u8) -> (SealKey, String) {
        let text = base64::engine::general_purpose::STANDARD.encode([byte; KEY_LEN]);
        (SealKey::parse(&text).expect("key"), text)
    }

    #[test]
    fn a_rotated_key_opens_what_the_old_one_sealed_and_seals_only_under_the_new_one() {
        let ((old, old_text), (new, new_text), (other, _)) = (key(1), key(2), key(3));
        let mut e = exec();
        Sealer::from_setting(Some(&old), SEAL_KEY_SETTING).seal(&mut e).expect("seal under the old key");
        let sealed_old = e.inputs.clone();

        // after the rotation: BATON_SEAL_KEY=new, BATON_SEAL_KEY_PREVIOUS=other,old
        let vars =
            [(SEAL_KEY_SETTING, new_text.clone()), (SEAL_KEY_PREVIOUS_SETTING, format!(" {}, {old_text} ", key(3).1))];
        let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        let (current, previous) = keys_from_settings(get).expect("settings");
        assert_eq!(current.as_ref(), Some(&new));
        assert_eq!(previous, vec![other.clone(), old.clone()]);
        let rotated = Sealer::from_setting(current.as_ref(), SEAL_KEY_SETTING)
            .with_previous(&previous, SEAL_KEY_PREVIOUS_SETTING);
        assert_eq!(format!("{rotated:?}"), "Sealer { key: true, previous: 2, .. }", "no key material shown");
        let mut opened = sealed_old.clone();
        rotated.open_inputs("ex1", &mut opened).expect("an old value opens");
        assert_eq!(opened, exec().inputs);
        let mut read = e.clone();
        rotated.open(&mut read);
        assert_eq!(read.inputs, exec().inputs, "the store reads it too");

        // saved again, it is sealed under the new key only
        rotated.seal(&mut read).expect("seal");
        assert_ne!(read.inputs, sealed_old);
        let mut under_new = read.inputs.clone();
        Sealer::from_setting(Some(&new), SEAL_KEY_SETTING)
            .open_inputs("ex1", &mut under_new)
            .expect("the new key alone");
        let mut not_old = read.inputs.clone();
        let err = Sealer::from_setting(Some(&old), SEAL_KEY_SETTING).open_inputs("ex1", &mut not_old).expect_err("old");
        assert!(err.to_string().contains("a key other than BATON_SEAL_KEY"), "{err}");

        // a value under none of them: the error names both settings, no key
        let mut foreign = exec();
        Sealer::ephemeral().seal(&mut foreign).expect("seal");
        let err = rotated.open_inputs("ex1", &mut foreign.inputs.clone()).expect_err("unknown key").to_string();
        assert!(err.contains(SEAL_KEY_SETTING) && err.contains("the 2 of BATON_SEAL_KEY_PREVIOUS"), "{err}");
        for text in [&old_text, &new_text] {
            assert!(!err.contains(text.as_str()), "{err}");
        }
        let mut shown = foreign.clone();
        rotated.open(&mut shown);
        assert_eq!(shown.inputs["pw"], "******");
    }

    #[test]
    fn bad_key_settings_are_refused_naming_the_setting_and_never_the_key() {
        let (_, good) = key(4);
        let settings = |current: Option<&str>, previous: Option<&str>| {
            let vars = [
                (SEAL_KEY_SETTING, current.map(str::to_string)),
                (SEAL_KEY_PREVIOUS_SETTING, previous.map(str::to_string)),
            ];
            keys_from_settings(move |k| vars.iter().find(|(n, _)| *n == k).and_then(|(_, v)| v.clone()))
        };
        assert_eq!(settings(None, None), Ok((None, Vec::new())));
        assert_eq!(settings(None, Some(" ")), Ok((None, Vec::new())), "a blank setting is unset");
        let err = settings(Some("hunter2"), None).expect_err("bad current");
        assert_eq!(err.setting(), SEAL_KEY_SETTING);
        assert!(
            err.to_string().starts_with("BATON_SEAL_KEY is not a usable key") && !err.to_string().contains("hunter2"),
            "{err}"
        );
        let err = settings(Some(&good), Some(&format!("{good},hunter2"))).expect_err("bad previous");
        assert_eq!(err.setting(), SEAL_KEY_PREVIOUS_SETTING);
        let said = err.to_string();
        assert!(said.contains("BATON_SEAL_KEY_PREVIOUS is not a usable key: key 2 of 2"), "{said}");
        assert!(!said.contains("hunter2") && !said.contains(&good), "{said}");
        let err = settings(None, Some(&good)).expect_err("previous alone");
        assert_eq!(err, SealKeyError::PreviousWithoutCurrent);
        assert!(err.to_string().contains("BATON_SEAL_KEY is not") && !err.to_string().contains(&good), "{err}");
        let many = [good.as_str(); MAX_PREVIOUS_KEYS + 1].join(",");
        let err = settings(Some(&good), Some(&many)).expect_err("too many");
        assert!(
            err.to_string().contains(&format!("at most {MAX_PREVIOUS_KEYS}")) && !err.to_string().contains(&good),
            "{err}"
        );
    }
}
