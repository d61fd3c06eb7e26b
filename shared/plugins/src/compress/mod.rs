//! Compression tasks (`io.kestra.plugin.compress.*`): `FileDecompress` and
//! `FileCompress` (one file through a codec), `ArchiveDecompress` and
//! `ArchiveCompress` (TAR/ZIP, optionally compressed), `FileEncrypt` and
//! `FileDecrypt` (AES-256 in OpenSSL's format or Kestra's KESTRAENC). All
//! stream between internal storage and the codecs but KESTRAENC (bounded);
//! run by the `core` worker group.

mod archive;
mod codec;
mod crypt;
mod file;
mod kestraenc;

pub use kestraenc::MAX_GCM_BYTES;

use super::Registry;

/// Registers this group's plugins.
pub fn register(r: &mut Registry) {
    r.register(*file::DECOMPRESS);
    r.register(*file::COMPRESS);
    r.register(*archive::DECOMPRESS);
    r.register(*archive::COMPRESS);
    r.register(*crypt::ENCRYPT);
    r.register(*crypt::DECRYPT);
}
