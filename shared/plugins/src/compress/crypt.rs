//! `io.kestra.plugin.compress.FileEncrypt` and `FileDecrypt` with Kestra's
//! default key derivation, `PBKDF2_SHA256`: OpenSSL's own format, so a file
//! encrypted here opens with `openssl enc -d -aes-256-cbc -pbkdf2 -iter N`
//! and the reverse — `Salted__`, an 8-byte random salt, then AES-256-CBC
//! (PKCS#7 padding) with the key and IV derived by PBKDF2-HMAC-SHA256 from
//! the password and salt (`iterations`, default 100,000 as OpenSSL 3).
//! Kestra's other derivations (`PBKDF2_SHA512`, `ARGON2ID`, `SCRYPT`) write
//! its own authenticated `KESTRAENC` format; Baton refuses them by name,
//! and a `KESTRAENC` file given to `FileDecrypt` is named as such.
//!
//! Both stream: the file is read and written in 64 KiB pieces through a
//! temporary file in the task's working directory, never held whole.
//! Written with RustCrypto's `aes`, `cbc` and `pbkdf2` crates: OpenSSL's
//! framing (magic, salt, key and IV from one derivation) is the few lines
//! below.

use std::sync::LazyLock;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::context::RemoveOnDrop;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::storage_path;

const MAGIC: &[u8; 8] = b"Salted__";
const KESTRAENC: &[u8] = b"KESTRAENC";
const SALT_LEN: usize = 8;
const BLOCK: usize = 16;
/// Kestra's (and OpenSSL 3's) default PBKDF2 iterations.
const DEFAULT_ITERATIONS: u32 = 100_000;
/// Kestra's floor.
const MIN_ITERATIONS: u32 = 1_000;
const PIECE: usize = 64 * 1024;

/// The properties both tasks have.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct Props {
    /// The file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The password the key is derived from (use secret()).
    #[serde(deserialize_with = "de::string_lenient")]
    password: String,
    /// PBKDF2 iterations (at least 1000; use 10000 for files of OpenSSL before 3.x).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "100000")]
    iterations: Option<u64>,
    /// The key derivation: PBKDF2_SHA256 (OpenSSL's format) is the one Baton has.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["PBKDF2_SHA256", "PBKDF2_SHA512", "ARGON2ID", "SCRYPT"], default = "\"PBKDF2_SHA256\"")]
    key_derivation: Option<String>,
}

/// Encrypt a file with AES-256.
///
/// Encrypts a stored file as `openssl enc -aes-256-cbc -pbkdf2` does (PBKDF2-HMAC-SHA256, a random salt).
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.compress.FileEncrypt",
    group = "core",
    props = Props,
    example = "id: encrypt\ntype: io.kestra.plugin.compress.FileEncrypt\nfrom: \"{{ inputs.file }}\"\npassword: \"{{ secret('ENCRYPTION_PASSWORD') }}\"\n",
    outputs(
        uri(String, "The encrypted file.")
    ),
)]
struct FileEncrypt;

/// Decrypt a file encrypted with AES-256.
///
/// Decrypts a file of `openssl enc -aes-256-cbc -pbkdf2` (or of FileEncrypt) with its password.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.compress.FileDecrypt",
    group = "core",
    props = Props,
    example = "id: decrypt\ntype: io.kestra.plugin.compress.FileDecrypt\nfrom: \"{{ outputs.encrypt.uri }}\"\npassword: \"{{ secret('ENCRYPTION_PASSWORD') }}\"\n",
    outputs(
        uri(String, "The decrypted file.")
    ),
)]
struct FileDecrypt;

#[derive(Debug)]
struct Crypt {
    from: String,
    path: String,
    password: String,
    iterations: u32,
    encrypt: bool,
}

fn build(props: &Map<String, Value>, encrypt: bool) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let path = storage_path(&p.from).map_err(|e| TaskError::property("from", e.to_string()))?;
    match p.key_derivation.as_deref().map(str::trim) {
        None | Some("") | Some("PBKDF2_SHA256") => {}
        Some(other @ ("PBKDF2_SHA512" | "ARGON2ID" | "SCRYPT")) => {
            return Err(TaskError::property(
                "keyDerivation",
                format!(
                    "{other} writes Kestra's own KESTRAENC format, which Baton does not implement: use PBKDF2_SHA256 (OpenSSL's format)"
                ),
            ));
        }
        Some(other) => {
            return Err(TaskError::property(
                "keyDerivation",
                format!("unknown '{other}': PBKDF2_SHA256, PBKDF2_SHA512, ARGON2ID or SCRYPT"),
            ));
        }
    }
    let iterations = p.iterations.unwrap_or(u64::from(DEFAULT_ITERATIONS));
    let iterations = u32::try_from(iterations).ok().filter(|n| *n >= MIN_ITERATIONS).ok_or_else(|| {
        TaskError::property("iterations", format!("must be at least {MIN_ITERATIONS}, got {iterations}"))
    })?;
    Ok(Box::new(Crypt { from: p.from, path, password: p.password, iterations, encrypt }))
}

type Enc = cbc::Encryptor<aes::Aes256>;
type Dec = cbc::Decryptor<aes::Aes256>;

/// OpenSSL's key (32 bytes) and IV (16) from one PBKDF2-HMAC-SHA256 run.
fn key_iv(password: &str, salt: &[u8], iterations: u32) -> [u8; 48] {
    let mut out = [0u8; 48];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// Reads until `buf` is full or the stream ends; how many bytes were read.
async fn fill(r: &mut (impl AsyncReadExt + Unpin), buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]).await? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

impl Crypt {
    async fn encrypt(&self, src: &mut baton_backend::ByteStream, out: &mut tokio::fs::File) -> Result<(), TaskError> {
        let io = |e: std::io::Error| TaskError::failed(format!("cannot encrypt {}: {e}", self.from));
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| TaskError::failed(format!("no random salt: {e}")))?;
        let k = key_iv(&self.password, &salt, self.iterations);
        let mut enc = Enc::new(GenericArray::from_slice(&k[..32]), GenericArray::from_slice(&k[32..]));
        out.write_all(MAGIC).await.map_err(io)?;
        out.write_all(&salt).await.map_err(io)?;
        let mut buf = vec![0u8; PIECE + BLOCK];
        loop {
            let n = fill(src, &mut buf[..PIECE]).await.map_err(io)?;
            if n < PIECE {
                // the last piece: padded (a whole block of padding when it ends on a block)
                let sealed = enc
                    .encrypt_padded_mut::<Pkcs7>(&mut buf, n)
                    .map_err(|_| TaskError::failed("the padding does not fit (a bug)"))?;
                out.write_all(sealed).await.map_err(io)?;
                return Ok(());
            }
            for block in buf[..PIECE].chunks_exact_mut(BLOCK) {
                enc.encrypt_block_mut(GenericArray::from_mut_slice(block));
            }
            out.write_all(&buf[..PIECE]).await.map_err(io)?;
        }
    }

    async fn decrypt(&self, src: &mut baton_backend::ByteStream, out: &mut tokio::fs::File) -> Result<(), TaskError> {
        let io = |e: std::io::Error| TaskError::failed(format!("cannot decrypt {}: {e}", self.from));
        let mut head = [0u8; 8 + SALT_LEN];
        let n = fill(src, &mut head).await.map_err(io)?;
        if head[..n].starts_with(KESTRAENC) {
            return Err(TaskError::failed(format!(
                "{} is in Kestra's KESTRAENC format (keyDerivation PBKDF2_SHA512, ARGON2ID or SCRYPT), which Baton does not implement",
                self.from
            )));
        }
        if n < head.len() || &head[..8] != MAGIC {
            return Err(TaskError::failed(format!(
                "{} is not an OpenSSL-encrypted file (no 'Salted__' header): encrypt it with FileEncrypt or `openssl enc -aes-256-cbc -pbkdf2 -salt`",
                self.from
            )));
        }
        let k = key_iv(&self.password, &head[8..], self.iterations);
        let mut dec = Dec::new(GenericArray::from_slice(&k[..32]), GenericArray::from_slice(&k[32..]));
        let wrong = || {
            TaskError::failed(format!(
                "cannot decrypt {}: wrong password or iterations, or a damaged file (the padding does not check)",
                self.from
            ))
        };
        // the last block is held back until the end: it carries the padding
        let mut held: Vec<u8> = Vec::with_capacity(PIECE + BLOCK);
        let mut buf = vec![0u8; PIECE];
        loop {
            let n = fill(src, &mut buf).await.map_err(io)?;
            held.extend_from_slice(&buf[..n]);
            if n < PIECE {
                if held.is_empty() || !held.len().is_multiple_of(BLOCK) {
                    return Err(TaskError::failed(format!(
                        "cannot decrypt {}: its length is not a whole number of AES blocks (a damaged or truncated file)",
                        self.from
                    )));
                }
                let split = held.len() - BLOCK;
                for block in held[..split].chunks_exact_mut(BLOCK) {
                    dec.decrypt_block_mut(GenericArray::from_mut_slice(block));
                }
                out.write_all(&held[..split]).await.map_err(io)?;
                let last = dec.decrypt_padded_mut::<Pkcs7>(&mut held[split..]).map_err(|_| wrong())?;
                out.write_all(last).await.map_err(io)?;
                return Ok(());
            }
            // decrypt all whole blocks but the last
            let whole = (held.len() / BLOCK - 1) * BLOCK;
            for block in held[..whole].chunks_exact_mut(BLOCK) {
                dec.decrypt_block_mut(GenericArray::from_mut_slice(block));
            }
            out.write_all(&held[..whole]).await.map_err(io)?;
            held.drain(..whole);
        }
    }
}

#[async_trait]
impl RunnableTask for Crypt {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        cx.check_readable("from", &self.path)?;
        let mut src = cx
            .services
            .storage
            .get(&self.path)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", self.from)))?;
        let tmp = cx.working_dir()?.join(format!("crypt-{}", uuid::Uuid::new_v4().simple()));
        let _cleanup = RemoveOnDrop(tmp.clone());
        let mut out = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| TaskError::failed(format!("cannot write a temporary file: {e}")))?;
        if self.encrypt {
            self.encrypt(&mut src, &mut out).await?;
        } else {
            self.decrypt(&mut src, &mut out).await?;
        }
        out.flush().await.map_err(|e| TaskError::failed(format!("cannot write a temporary file: {e}")))?;
        drop(out);
        let base = self.path.rsplit('/').next().unwrap_or("file");
        let name = if self.encrypt { format!("{base}.enc") } else { base.trim_end_matches(".enc").to_string() };
        let file = tokio::fs::File::open(&tmp)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read a temporary file: {e}")))?;
        let (uri, size) = cx.put_file(&name, Box::pin(file)).await?;
        let verb = if self.encrypt { "Encrypted" } else { "Decrypted" };
        cx.info(&format!("{verb} {} (AES-256-CBC, PBKDF2_SHA256) to {uri}: {size} bytes", self.from));
        Ok(TaskOutput::with(Map::from_iter([("uri".to_string(), Value::String(uri))])))
    }
}

pub static ENCRYPT: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<FileEncrypt>(|p| build(p, true)).parsed_by::<Props>());

pub static DECRYPT: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<FileDecrypt>(|p| build(p, false)).parsed_by::<Props>());
