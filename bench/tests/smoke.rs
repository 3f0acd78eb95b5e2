//! Keeps the benchmarks' entry point from rotting: `tally-bench all --smoke --only commands`
//! runs the commands workload end to end (durable Postgres, pgbench, the real
//! command-service, the peer baseline) through the same child-process path as a full `all`,
//! and the summary must carry that workload's goals.
//!
//! It uses the `command-service` of the same cargo profile as this test (debug under
//! `make test`, which builds every binary first); the figures of a smoke run mean nothing,
//! only that every part still works.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn tally_bench(args: &[&str]) -> Output {
    let exe = Path::new(env!("CARGO_BIN_EXE_tally-bench"));
    // `target/<profile>/tally-bench`: the service binary sits next to it.
    let profile = exe.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("debug");
    Command::new(exe).args(args).args(["--profile", profile]).output().expect("tally-bench runs")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("JSON report parses")
}

#[test]
fn smoke_run_of_commands_through_all_reports_both_sides_and_the_goals() {
    let dir = tempfile::tempdir().expect("temp dir for the reports");
    let out_dir = dir.path().to_str().expect("utf-8 temp path");
    let out = tally_bench(&["all", "--smoke", "--only", "commands", "--out-dir", out_dir]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tally-bench all --smoke failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );

    let report = read_json(&dir.path().join("commands.json"));
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
    assert!(stdout.contains("tally/pgbench"), "the workload's table is printed:\n{stdout}");

    // The summary carries exactly the workload that ran, with the goals of its report.
    let summary = read_json(&dir.path().join("summary.json"));
    let workloads = summary["workloads"].as_array().expect("workloads");
    assert_eq!(workloads.len(), 1, "{summary}");
    assert_eq!(workloads[0]["workload"], "commands");
    assert_eq!(workloads[0]["completed"], true);
    assert_eq!(workloads[0]["goals"], report["goals"], "the summary repeats the report's goals");
    assert!(!report["goals"].as_array().expect("goals").is_empty(), "{report}");
    assert!(stdout.contains("Summary (smoke run"), "the summary is printed:\n{stdout}");
}

#[test]
fn a_workload_that_cannot_run_fails_the_whole_run_and_is_named() {
    let dir = tempfile::tempdir().expect("temp dir for the reports");
    let out_dir = dir.path().to_str().expect("utf-8 temp path");
    // A binary profile with no services in it: the workload starts, cannot find its
    // command-service, and exits non-zero; `all` must say so rather than report goals.
    let exe = Path::new(env!("CARGO_BIN_EXE_tally-bench"));
    let out = Command::new(exe)
        .args(["all", "--smoke", "--only", "commands", "--out-dir", out_dir, "--profile", "no-such-profile"])
        .output()
        .expect("tally-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a failed workload must fail the run:\n{stdout}");
    assert!(stdout.contains("FAILED"), "the summary marks it:\n{stdout}");
    let summary = read_json(&dir.path().join("summary.json"));
    assert_eq!(summary["workloads"][0]["completed"], false, "{summary}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not complete: commands"));
}

#[test]
fn only_and_skip_that_leave_nothing_are_refused() {
    let out = tally_bench(&["all", "--only", "lag", "--skip", "lag"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("leave no workload"), "{out:?}");
}

#[test]
fn smoke_run_of_commands_over_rest_counts_commands_without_errors() {
    let dir = tempfile::tempdir().expect("temp dir for the report");
    let json = dir.path().join("commands.json");
    let out =
        tally_bench(&["commands", "--smoke", "--transport", "rest", "--no-peer", "--json", json.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "tally-bench commands --transport rest failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = read_json(&json);
    for row in report["rows"].as_array().expect("rows") {
        assert_eq!(row["tally"]["transport"], "rest", "{row}");
        assert!(row["tally"]["commands"].as_u64() > Some(0), "{row}");
        assert_eq!(row["tally"]["errors"], 0, "{row}");
    }
}
