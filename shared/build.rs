//! With the `duckdb` feature linked to a prebuilt libduckdb (`DUCKDB_LIB_DIR`,
//! set by `scripts/setup/duckdb.sh`), puts that folder in the rpath of the
//! binaries and tests, so `baton` runs without `LD_LIBRARY_PATH`. Nothing to
//! do without the feature or with `duckdb-bundled` (linked statically).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    let linked = std::env::var_os("CARGO_FEATURE_DUCKDB").is_some()
        && std::env::var_os("CARGO_FEATURE_DUCKDB_BUNDLED").is_none();
    if let (true, Some(dir)) = (linked, std::env::var_os("DUCKDB_LIB_DIR")) {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy());
    }
}
