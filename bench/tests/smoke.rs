//! Keeps the benchmark from rotting: `tally-bench commands --smoke` runs end to end (durable
//! Postgres, pgbench, the real command-service, both workloads) and must succeed.
//!
//! It uses the `command-service` of the same cargo profile as this test (debug under
//! `make test`, which builds every binary first); the figures of a smoke run mean nothing,
//! only that every part still works.

use std::path::Path;
use std::process::Command;

#[test]
fn smoke_run_succeeds_and_reports_both_sides() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tally-bench"));
    // `target/<profile>/tally-bench`: the service binary sits next to it.
    let profile = exe.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("debug");
    let json = tempfile::NamedTempFile::new().expect("temp file for the JSON report");
    let out = Command::new(exe)
        .args(["commands", "--smoke", "--profile", profile, "--json"])
        .arg(json.path())
        .output()
        .expect("tally-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tally-bench --smoke failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json.path()).expect("JSON report written")).expect("JSON report parses");
    assert_eq!(report["postgres"]["fsync"], "on", "the cluster must be durable");
    assert_eq!(report["postgres"]["synchronous_commit"], "on");
    let rows = report["rows"].as_array().expect("rows");
    let levels: Vec<u64> = rows.iter().filter_map(|r| r["concurrency"].as_u64()).collect();
    assert_eq!(levels, [1, 4]);
    for row in rows {
        assert!(row["baseline"]["transactions"].as_u64() > Some(0), "{row}");
        assert_eq!(row["baseline"]["failed"], 0, "{row}");
        assert!(row["tally"]["commands"].as_u64() > Some(0), "{row}");
        assert_eq!(row["tally"]["errors"], 0, "{row}");
    }
    assert!(stdout.contains("tally/pgbench"), "the table is printed:\n{stdout}");
}
