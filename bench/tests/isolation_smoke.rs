//! Keeps `tally-bench isolation` from rotting: a smoke run against the real binaries of this
//! test's cargo profile must measure reads idle and under writes on both sides — Tally's
//! services and the single-database baseline — with every request answered.

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
    let services = report["tally"]["loaded"]["cpu"]["services"].as_object().expect("per-service CPU");
    assert_eq!(services.len(), 4, "command-service, projector, query-service and Tansu: {services:?}");
    assert!(stdout.contains("loaded/idle read p99"), "the table is printed:\n{stdout}");
}
