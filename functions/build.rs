//! The functions' binaries find libduckdb where the `shared` package's do:
//! when `shared` links a prebuilt libduckdb (feature `shared/duckdb` with
//! `DUCKDB_LIB_DIR`), its build script hands the folder over as `links`
//! metadata and it goes into these binaries' rpath, with `$ORIGIN/../lib`
//! (an image that puts the worker in `/usr/local/bin` and the library in
//! `/usr/local/lib`). No `LD_LIBRARY_PATH` in the images.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_BATON_SHARED_DUCKDB_RPATH");
    if let Some(dir) = std::env::var_os("DEP_BATON_SHARED_DUCKDB_RPATH") {
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{}", dir.to_string_lossy());
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,$ORIGIN/../lib");
    }
}
