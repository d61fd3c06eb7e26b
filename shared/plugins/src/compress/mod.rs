//! Compression tasks (`io.kestra.plugin.compress.*`): `FileDecompress` and
//! `FileCompress` (one file through a codec), `ArchiveDecompress` and
//! `ArchiveCompress` (TAR/ZIP, optionally compressed). All stream between
//! internal storage and the codecs; run by the `core` worker group.

mod archive;
mod codec;
mod file;

use super::Registry;

/// Registers this group's plugins.
pub fn register(r: &mut Registry) {
    r.register(*file::DECOMPRESS);
    r.register(*file::COMPRESS);
    r.register(*archive::DECOMPRESS);
    r.register(*archive::COMPRESS);
}
