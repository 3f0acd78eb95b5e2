//! Locating the workspace, its target directory and built binaries.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    // This crate sits one level below the root; the path is fixed at compile time, which is
    // right for tests and dev tools that run from the checkout they were built in.
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else the one the running test executable
/// lives in (`target/<profile>/deps/…`), else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() { dir } else { workspace_root().join(dir) };
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let deps = exe.parent()?;
            (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(Path::to_path_buf))?
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Path of the workspace binary `name` for the profile in `$TALLY_TEST_PROFILE`
/// (default `debug`), or a clear error when it has not been built.
pub fn binary(name: &str) -> Result<PathBuf> {
    let profile = std::env::var("TALLY_TEST_PROFILE").unwrap_or_else(|_| "debug".to_owned());
    let path = target_dir().join(&profile).join(name);
    if path.is_file() { Ok(path) } else { Err(Error::BinaryMissing { name: name.to_owned(), path, profile }) }
}
