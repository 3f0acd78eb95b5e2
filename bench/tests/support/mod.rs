//! What every workload's smoke test does first: run `tally-bench <workload> --smoke` against
//! the real binaries of this test's cargo profile (debug under `make test`), require success,
//! and hand back the JSON report and the printed table.

// Every test binary compiles this module on its own and calls only part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

pub fn smoke(workload: &str) -> (Value, String) {
    smoke_with(workload, &[])
}

/// [`smoke`] with extra arguments for the workload, e.g. `["--transport", "rest"]`.
pub fn smoke_with(workload: &str, extra: &[&str]) -> (Value, String) {
    let exe = Path::new(env!("CARGO_BIN_EXE_tally-bench"));
    // `target/<profile>/tally-bench`: the services sit next to it.
    let profile = exe.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("debug");
    let json = tempfile::NamedTempFile::new().expect("temp file for the JSON report");
    let out = Command::new(exe)
        .arg(workload)
        .args(extra)
        .args(["--smoke", "--profile", profile, "--json"])
        .arg(json.path())
        .output()
        .expect("tally-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tally-bench {workload} {extra:?} --smoke failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report =
        serde_json::from_slice(&std::fs::read(json.path()).expect("JSON report written")).expect("JSON report parses");
    (report, stdout)
}
