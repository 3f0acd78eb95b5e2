//! Keeps `tally-bench ingest` from rotting: a smoke run end to end against the real binaries
//! of this test's cargo profile must succeed, every accepted event must be counted by
//! `aggregate`, the lag probes must have been followed, and the COPY baseline must have run.
//! Smoke figures mean nothing.

mod support;

use serde_json::Value;

fn smoke(transport: &str) -> (Value, String) {
    support::smoke_with("ingest", &["--transport", transport])
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
