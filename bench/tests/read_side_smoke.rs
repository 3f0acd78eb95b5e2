//! Keeps the read-side benchmarks from rotting: `tally-bench reads|rebuild|lag --smoke` run
//! end to end against the real binaries of the same cargo profile as this test (debug under
//! `make test`, which builds every binary first) and must succeed. Smoke figures mean
//! nothing; these tests check that every part still works and the reports say what they
//! measured.

mod support;

use support::smoke;

#[test]
fn reads_compares_grpc_and_rest_profile_reads_with_pgbench_on_the_projected_table() {
    let (report, stdout) = smoke("reads");
    assert_eq!(report["projected"]["events"], report["seeded"]["events"], "{report}");
    let rows = report["rows"].as_array().expect("rows");
    assert!(!rows.is_empty());
    for row in rows {
        assert!(row["baseline"]["transactions"].as_u64() > Some(0), "{row}");
        assert_eq!(row["baseline"]["failed"], 0, "{row}");
        let runs = row["tally"].as_array().expect("one run per transport");
        let transports: Vec<_> = runs.iter().map(|run| run["transport"].as_str().unwrap_or("?")).collect();
        assert_eq!(transports, ["grpc", "rest"], "both transports are measured: {row}");
        for run in runs {
            assert!(run["result"]["requests"].as_u64() > Some(0), "{run}");
            assert_eq!(run["result"]["errors"], 0, "{run}");
        }
    }
    assert!(stdout.contains("tally/pgbench"), "the table is printed:\n{stdout}");
}

#[test]
fn rebuild_replays_every_seeded_event_while_reads_keep_answering() {
    let (report, stdout) = smoke("rebuild");
    assert!(report["seeded"]["events"].as_u64() > Some(0), "{report}");
    assert_eq!(report["rebuilt"]["events"], report["seeded"]["events"], "{report}");
    assert!(report["wall_events_per_sec"].as_f64() > Some(0.0), "{report}");
    assert!(report["reads"]["requests"].as_u64() > Some(0), "{report}");
    assert_eq!(report["reads"]["errors"], 0, "{report}");
    assert!(stdout.contains("events/s"), "{stdout}");
}

#[test]
fn lag_follows_commands_through_kafka_to_the_query_service() {
    let (report, stdout) = smoke("lag");
    assert!(report["lag"]["count"].as_u64() > Some(0), "{report}");
    assert!(report["lag"]["p99_ms"].as_f64() > Some(0.0), "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(stdout.contains("lag (ack"), "{stdout}");
}
