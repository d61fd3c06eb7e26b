//! `io.kestra.plugin.compress.FileEncrypt` and `FileDecrypt`. With Kestra's
//! default key derivation, `PBKDF2_SHA256`, the file is in OpenSSL's own
//! format, so a file encrypted here opens with
//! `openssl enc -d -aes-256-cbc -pbkdf2 -iter N` and the reverse —
//! `Salted__`, an 8-byte random salt, then AES-256-CBC (PKCS#7 padding)
//! with the key and IV derived by PBKDF2-HMAC-SHA256 from the password and
//! salt (`iterations`, Kestra's default 600,000 and floor 100,000). Kestra's other
//! derivations (`PBKDF2_SHA512`, `ARGON2ID` with `argon2TimeCost`, `memory`
//! and `parallelism`, `SCRYPT` with `memory` as N and `parallelism`) write
//! its authenticated `KESTRAENC` format ([`super::kestraenc`]); FileDecrypt
//! tells the two formats apart by their first bytes.
//!
//! The OpenSSL format streams: the file is read and written in 64 KiB
//! pieces through a temporary file in the task's working directory, never
//! held whole. KESTRAENC is AES-GCM, sealed and opened whole, at most
//! `kestraenc::MAX_GCM_BYTES`. Written with RustCrypto's `aes`, `cbc` and
//! `pbkdf2` crates: OpenSSL's framing (magic, salt, key and IV from one
//! derivation) is the few lines below.

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

use super::kestraenc::{self, Kdf, MAX_GCM_BYTES};

const MAGIC: &[u8; 8] = b"Salted__";
const SALT_LEN: usize = 8;
const BLOCK: usize = 16;
/// Kestra's default PBKDF2 iterations (`AbstractFileCrypt`), for both formats.
const DEFAULT_ITERATIONS: u32 = 600_000;
/// Kestra's floor, for both formats (an OpenSSL file of fewer rounds cannot be opened in Kestra either).
const MIN_ITERATIONS: u32 = kestraenc::MIN_PBKDF2_ITERATIONS;
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
    /// PBKDF2 iterations, at least 100000 as in Kestra (PBKDF2_SHA256: must match the file's, e.g.
    /// `openssl enc -pbkdf2 -iter 600000`). Not read when decrypting a KESTRAENC file (its header says).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "600000")]
    iterations: Option<u64>,
}

/// FileEncrypt's: the key derivation and its costs (FileDecrypt reads them from the file).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct EncryptProps {
    #[serde(flatten)]
    common: Props,
    /// PBKDF2_SHA256 (OpenSSL's format, AES-CBC), or PBKDF2_SHA512, ARGON2ID, SCRYPT (Kestra's authenticated
    /// KESTRAENC format, AES-GCM).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["PBKDF2_SHA256", "PBKDF2_SHA512", "ARGON2ID", "SCRYPT"], default = "\"PBKDF2_SHA256\"")]
    key_derivation: Option<String>,
    /// ARGON2ID: memory in KiB; SCRYPT: N, a power of 2 (at most 1048576).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "65536")]
    memory: Option<u64>,
    /// ARGON2ID (1–64) and SCRYPT (1–255): the parallelism.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "1")]
    parallelism: Option<u64>,
    /// ARGON2ID: passes over the memory.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "3")]
    argon2_time_cost: Option<u64>,
}

/// Encrypt a file with AES-256.
///
/// Encrypts a stored file as `openssl enc -aes-256-cbc -pbkdf2` does (PBKDF2-HMAC-SHA256, a random salt).
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.compress.FileEncrypt",
    group = "core",
    props = EncryptProps,
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
    /// Encrypting with a KESTRAENC derivation (`None`: OpenSSL's format).
    kestraenc: Option<Kdf>,
    encrypt: bool,
}

/// A property read as a `u32`.
fn u32_of(name: &str, v: u64) -> Result<u32, TaskError> {
    u32::try_from(v).map_err(|_| TaskError::property(name, format!("{v} is too large")))
}

/// The derivation FileEncrypt writes with (`None`: OpenSSL's format).
fn kdf_of(p: &EncryptProps) -> Result<Option<Kdf>, TaskError> {
    let memory = u32_of("memory", p.memory.unwrap_or(65536))?;
    let parallelism = u32_of("parallelism", p.parallelism.unwrap_or(1))?;
    let kdf = match p.key_derivation.as_deref().map(str::trim) {
        None | Some("") | Some("PBKDF2_SHA256") => return Ok(None),
        Some("PBKDF2_SHA512") => Kdf::Pbkdf2Sha512 {
            iterations: u32_of("iterations", p.common.iterations.unwrap_or(u64::from(DEFAULT_ITERATIONS)))?,
        },
        Some("ARGON2ID") => Kdf::Argon2id {
            iterations: u32_of("argon2TimeCost", p.argon2_time_cost.unwrap_or(3))?,
            memory_kib: memory,
            parallelism,
        },
        Some("SCRYPT") => Kdf::Scrypt { n: memory, parallelism },
        Some(other) => {
            return Err(TaskError::property(
                "keyDerivation",
                format!("unknown '{other}': PBKDF2_SHA256, PBKDF2_SHA512, ARGON2ID or SCRYPT"),
            ));
        }
    };
    kdf.check().map_err(|(name, e)| TaskError::property(name, e))?;
    Ok(Some(kdf))
}

fn build(props: &Map<String, Value>, encrypt: bool) -> Result<Box<dyn RunnableTask>, TaskError> {
    let (p, kestraenc) = if encrypt {
        let e: EncryptProps = parse_props(props)?;
        let kdf = kdf_of(&e)?;
        (e.common, kdf)
    } else {
        (parse_props::<Props>(props)?, None)
    };
    let path = storage_path(&p.from).map_err(|e| TaskError::property("from", e.to_string()))?;
    let iterations = p.iterations.unwrap_or(u64::from(DEFAULT_ITERATIONS));
    // OpenSSL's format (a KESTRAENC derivation checked its own)
    let iterations = if kestraenc.is_some() {
        DEFAULT_ITERATIONS
    } else {
        u32::try_from(iterations).ok().filter(|n| *n >= MIN_ITERATIONS).ok_or_else(|| {
            TaskError::property("iterations", format!("must be at least {MIN_ITERATIONS}, got {iterations}"))
        })?
    };
    Ok(Box::new(Crypt { from: p.from, path, password: p.password, iterations, kestraenc, encrypt }))
}

type Enc = cbc::Encryptor<aes::Aes256>;
type Dec = cbc::Decryptor<aes::Aes256>;

/// OpenSSL's key (32 bytes) and IV (16) from one PBKDF2-HMAC-SHA256 run.
fn key_iv(password: &str, salt: &[u8], iterations: u32) -> [u8; 48] {
    let mut out = [0u8; 48];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// Appends the rest of `r` to `buf`, failing past [`MAX_GCM_BYTES`] in all
/// (a KESTRAENC file is sealed and opened whole).
async fn read_bounded(r: &mut (impl AsyncReadExt + Unpin), buf: &mut Vec<u8>) -> std::io::Result<()> {
    let limit = MAX_GCM_BYTES - buf.len() as u64;
    r.take(limit + 1).read_to_end(buf).await?;
    if buf.len() as u64 > MAX_GCM_BYTES {
        return Err(std::io::Error::other(format!(
            "a KESTRAENC file is sealed and opened whole, in memory, and may hold at most {MAX_GCM_BYTES} bytes \
             (MAX_GCM_BYTES): use keyDerivation PBKDF2_SHA256 (OpenSSL's streamed format) for larger files"
        )));
    }
    Ok(())
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
    /// The error of a KESTRAENC file past [`MAX_GCM_BYTES`] (or unreadable).
    fn bounded(&self, e: std::io::Error) -> TaskError {
        TaskError::failed(format!("cannot read {}: {e}", self.from))
    }

    /// Encrypts; the key derivation used, for the log.
    async fn encrypt(
        &self,
        src: &mut baton_backend::ByteStream,
        out: &mut tokio::fs::File,
    ) -> Result<&'static str, TaskError> {
        let io = |e: std::io::Error| TaskError::failed(format!("cannot encrypt {}: {e}", self.from));
        if let Some(kdf) = self.kestraenc {
            let mut plain = Vec::new();
            read_bounded(src, &mut plain).await.map_err(|e| self.bounded(e))?;
            let password = self.password.clone();
            let sealed = tokio::task::spawn_blocking(move || kestraenc::seal(&plain, &password, kdf))
                .await
                .map_err(|e| TaskError::failed(format!("cannot encrypt {}: {e}", self.from)))?
                .map_err(|e| TaskError::failed(format!("cannot encrypt {}: {e}", self.from)))?;
            out.write_all(&sealed).await.map_err(io)?;
            return Ok(kdf.name());
        }
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
                return Ok("PBKDF2_SHA256");
            }
            for block in buf[..PIECE].chunks_exact_mut(BLOCK) {
                enc.encrypt_block_mut(GenericArray::from_mut_slice(block));
            }
            out.write_all(&buf[..PIECE]).await.map_err(io)?;
        }
    }

    /// Decrypts; the key derivation the file was made with, for the log.
    async fn decrypt(
        &self,
        src: &mut baton_backend::ByteStream,
        out: &mut tokio::fs::File,
    ) -> Result<&'static str, TaskError> {
        let io = |e: std::io::Error| TaskError::failed(format!("cannot decrypt {}: {e}", self.from));
        let mut head = [0u8; 8 + SALT_LEN];
        let n = fill(src, &mut head).await.map_err(io)?;
        if head[..n].starts_with(&kestraenc::MAGIC[..8]) {
            let mut data = head[..n].to_vec();
            read_bounded(src, &mut data).await.map_err(|e| self.bounded(e))?;
            let password = self.password.clone();
            let (plain, kdf) = tokio::task::spawn_blocking(move || kestraenc::open(&data, &password))
                .await
                .map_err(|e| TaskError::failed(format!("cannot decrypt {}: {e}", self.from)))?
                .map_err(|e| TaskError::failed(format!("cannot decrypt {}: {e}", self.from)))?;
            out.write_all(&plain).await.map_err(io)?;
            return Ok(kdf);
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
                return Ok("PBKDF2_SHA256");
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
        let kdf = if self.encrypt {
            self.encrypt(&mut src, &mut out).await?
        } else {
            self.decrypt(&mut src, &mut out).await?
        };
        out.flush().await.map_err(|e| TaskError::failed(format!("cannot write a temporary file: {e}")))?;
        drop(out);
        let base = self.path.rsplit('/').next().unwrap_or("file");
        let name = if self.encrypt { format!("{base}.enc") } else { base.trim_end_matches(".enc").to_string() };
        let file = tokio::fs::File::open(&tmp)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read a temporary file: {e}")))?;
        let (uri, size) = cx.put_file(&name, Box::pin(file)).await?;
        let verb = if self.encrypt { "Encrypted" } else { "Decrypted" };
        let cipher = if kdf == "PBKDF2_SHA256" { "AES-256-CBC" } else { "AES-256-GCM, KESTRAENC" };
        cx.info(&format!("{verb} {} ({cipher}, {kdf}) to {uri}: {size} bytes", self.from));
        Ok(TaskOutput::with(Map::from_iter([("uri".to_string(), Value::String(uri))])))
    }
}

pub static ENCRYPT: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<FileEncrypt>(|p| build(p, true)).parsed_by::<EncryptProps>());

pub static DECRYPT: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<FileDecrypt>(|p| build(p, false)).parsed_by::<Props>());
