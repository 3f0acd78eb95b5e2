//! Keeps `tally-bench isolation` from rotting: a smoke run against the real binaries of this
//! test's cargo profile must measure reads idle and under writes on both sides — Tally's
//! services and the single-database baseline (at Tally's write rate and at its own share of
//! its own maximum) — with every request answered.

mod support;

#[test]
fn isolation_measures_reads_idle_and_under_writes_on_both_sides() {
    let (report, stdout) = support::smoke("isolation");

    assert!(report["maximum"]["commands"].as_u64() > Some(0), "the maximum was measured: {report}");
    let write_rate = report["write_rate"].as_f64().expect("write rate");
    let maximum = report["maximum"]["cmds_per_sec"].as_f64().expect("maximum");
    assert!(write_rate > 0.0 && write_rate < maximum, "writes offered below the maximum: {report}");
    for side in ["tally", "single"] {
        for phase in ["idle", "loaded"] {
            let p = &report[side][phase];
            assert!(p["reads"]["completed"].as_u64() > Some(0), "{side} {phase}: {p}");
            assert_eq!(p["reads"]["errors"], 0, "{side} {phase}: {p}");
            assert!(p["reads"]["latency"]["p99_ms"].as_f64() > Some(0.0), "{side} {phase}: {p}");
            assert!(p["cpu"]["cpus"].as_u64() > Some(0), "CPU use recorded: {p}");
        }
        assert!(report[side]["idle"]["writes"].is_null(), "idle means no writes: {report}");
        let writes = &report[side]["loaded"]["writes"];
        assert!(writes["completed"].as_u64() > Some(0), "{side} loaded writes: {writes}");
        assert_eq!(writes["errors"], 0, "{side}: {writes}");
        assert_eq!(writes["target_rate"].as_f64(), Some(write_rate), "same write rate on both sides: {writes}");
        assert!(report[side]["p99_ratio"].as_f64() > Some(0.0), "{report}");
    }
    // The second reading: the single database at the same share of its own maximum.
    let own = &report["single_own"];
    let (own_max, own_rate) =
        (own["maximum"].as_f64().expect("own maximum"), own["write_rate"].as_f64().expect("rate"));
    let share = report["params"]["write_share"].as_f64().expect("share");
    // A smoke run caps the rate (the run beside the rest of the suite is no measurement).
    let cap = report["params"]["own_rate_cap"].as_f64().expect("the smoke's cap is reported");
    assert!(own_max > 0.0 && (own_rate - (own_max * share).min(cap)).abs() < 1e-6, "offered its own share: {own}");
    assert!(own["loaded"]["reads"]["completed"].as_u64() > Some(0) && own["loaded"]["reads"]["errors"] == 0, "{own}");
    assert_eq!(own["loaded"]["writes"]["target_rate"].as_f64(), Some(own_rate), "{own}");
    assert!(own["loaded"]["writes"]["completed"].as_u64() > Some(0) && own["loaded"]["writes"]["errors"] == 0, "{own}");
    assert_eq!(report["goals"].as_array().map(Vec::len), Some(3), "both readings are judged: {report}");
    let services = report["tally"]["loaded"]["cpu"]["services"].as_object().expect("per-service CPU");
    assert_eq!(services.len(), 4, "command-service, projector, query-service and Tansu: {services:?}");
    assert!(stdout.contains("loaded/idle read p99"), "the table is printed:\n{stdout}");
}
