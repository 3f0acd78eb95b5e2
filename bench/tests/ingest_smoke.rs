//! Keeps `tally-bench ingest` from rotting: a smoke run end to end against the real binaries
//! of this test's cargo profile must succeed, every accepted event must be counted by
//! `aggregate`, the lag probes must have been followed, and the COPY baseline must have run.
//! Smoke figures mean nothing.

mod support;

use serde_json::Value;

fn smoke(args: &[&str]) -> (Value, String) {
    support::smoke_with("ingest", args)
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
    let peaks = report["peak_rss_mib"].as_array().expect("peak RSS per service");
    assert_eq!(peaks.len(), 3, "{report}");
    assert!(peaks.iter().all(|p| p[1].as_f64() > Some(1.0)), "every service's VmHWM was read: {report}");
}

#[test]
fn ingest_counts_every_accepted_grpc_event_in_aggregate_next_to_copy() {
    let (report, stdout) = smoke(&["--transport", "grpc"]);
    assert_eq!(report["transport"], "grpc", "{report}");
    check(&report, &stdout);
}

/// Over REST, and paced (`--rate`): the clients offer no more than the rate, so at most the
/// rate over the smoke's 2 s of load plus each of the 4 clients' first batch of 20.
#[test]
fn ingest_counts_every_accepted_rest_event_in_aggregate_next_to_copy_at_a_paced_rate() {
    let (report, stdout) = smoke(&["--transport", "rest", "--rate", "400"]);
    assert_eq!(report["transport"], "rest", "{report}");
    assert_eq!(report["offered_rate"], 400, "{report}");
    check(&report, &stdout);
    assert!(report["accepted"].as_u64() <= Some(400 * 2 + 4 * 20), "the pace held: {report}");
    assert!(stdout.contains("paced to 400 events/s"), "{stdout}");
}
