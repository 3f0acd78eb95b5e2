//! Keeps `tally-bench ingest` from rotting: a smoke run end to end against the real binaries
//! of this test's cargo profile must succeed, every accepted event must be counted by
//! `aggregate`, the lag probes must have been followed, and the COPY baseline must have run.
//! Smoke figures mean nothing.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn smoke(transport: &str) -> (Value, String) {
    let exe = Path::new(env!("CARGO_BIN_EXE_tally-bench"));
    // `target/<profile>/tally-bench`: the services sit next to it.
    let profile = exe.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("debug");
    let json = tempfile::NamedTempFile::new().expect("temp file for the JSON report");
    let out = Command::new(exe)
        .args(["ingest", "--smoke", "--transport", transport, "--profile", profile, "--json"])
        .arg(json.path())
        .output()
        .expect("tally-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tally-bench ingest --smoke failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
    let report =
        serde_json::from_slice(&std::fs::read(json.path()).expect("JSON report written")).expect("JSON report parses");
    (report, stdout)
}

fn check(report: &Value, stdout: &str) {
    let accepted = report["accepted"].as_u64().expect("accepted");
    assert!(accepted > 0, "{report}");
    assert_eq!(report["visible"].as_u64(), Some(accepted), "every accepted event is counted: {report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["probes_sent"].as_u64() > Some(0), "{report}");
    assert_eq!(report["probes_visible"], report["probes_sent"], "{report}");
    assert_eq!(report["lag"]["count"], report["probes_sent"], "{report}");
    assert!(report["lag"]["p99_ms"].as_f64() > Some(0.0), "{report}");
    assert_eq!(report["copy"]["rows"].as_u64(), Some(accepted), "the baseline copies the same rows: {report}");
    assert!(report["copy"]["rows_per_sec"].as_f64() > Some(0.0), "{report}");
    assert!(report["end_to_end_per_sec"].as_f64() > Some(0.0), "{report}");
    assert!(stdout.contains("COPY baseline"), "the table is printed:\n{stdout}");
}

#[test]
fn ingest_counts_every_accepted_grpc_event_in_aggregate_next_to_copy() {
    let (report, stdout) = smoke("grpc");
    assert_eq!(report["transport"], "grpc", "{report}");
    check(&report, &stdout);
}

#[test]
fn ingest_counts_every_accepted_rest_event_in_aggregate_next_to_copy() {
    let (report, stdout) = smoke("rest");
    assert_eq!(report["transport"], "rest", "{report}");
    check(&report, &stdout);
}
