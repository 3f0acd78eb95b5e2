//! Finding the Tally binaries a read-side workload benchmarks.

use std::path::PathBuf;

/// `<target>/<profile>/<name>`, or a clear error saying how to build it. Like
/// [`crate::service::locate`], the profile is explicit (release by default): figures of a
/// debug build mean nothing.
pub fn locate(name: &str, profile: &str) -> anyhow::Result<PathBuf> {
    let path = tally_devstack::target_dir().join(profile).join(name);
    let flag = if profile == "release" { " --release" } else { "" };
    anyhow::ensure!(path.is_file(), "{} not found: build it first (`cargo build{flag} --bins`)", path.display());
    Ok(path)
}

/// The three services of the read side.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadSide {
    pub command_service: PathBuf,
    pub projector: PathBuf,
    pub query_service: PathBuf,
}

impl ReadSide {
    pub fn locate(profile: &str) -> anyhow::Result<Self> {
        Ok(Self {
            command_service: locate("command-service", profile)?,
            projector: locate("projector", profile)?,
            query_service: locate("query-service", profile)?,
        })
    }
}
