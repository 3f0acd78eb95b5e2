//! Keeps `tally-bench analytics-reads` from rotting: `--smoke` runs end to end (seeded event
//! store, the real projector's rebuild, the real query-service, the naive Postgres query and
//! DuckDB) against the binaries of this test's cargo profile. Smoke figures mean nothing;
//! this checks that both baselines ran, every side gave the same answer and Tally answered
//! every request.

mod support;

use support::smoke;

#[test]
fn analytics_reads_compares_tally_with_both_baselines_on_the_same_answer() {
    let (report, stdout) = smoke("analytics-reads");
    let seeded = report["shape"]["pageviews"].as_u64().expect("pageviews");
    assert_eq!(report["preparation"]["written"]["pageviews"], seeded, "{report}");
    assert_eq!(report["preparation"]["projected"]["dead_lettered"], 0, "{report}");
    assert_eq!(report["preparation"]["duckdb"]["rows"], seeded, "DuckDB loaded every raw row: {report}");

    let sides = report["sides"].as_array().expect("sides");
    let names: Vec<&str> = sides.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["tally", "postgres", "duckdb"], "{report}");
    let reps = &report["repetitions"];
    for side in sides {
        let want = if side["name"] == "tally" { &reps["tally"] } else { &reps["baselines"] };
        for q in ["aggregate", "breakdown"] {
            assert_eq!(&side[q]["count"], want, "every repetition timed: {side}");
            assert!(side[q]["p50_ms"].as_f64() > Some(0.0), "{side}");
        }
        // The run fails on any disagreement; this checks the answer is a real one.
        assert_eq!(side["answer"], sides[0]["answer"], "same answer: {report}");
    }
    let totals = &sides[0]["answer"]["totals"];
    let big = report["big_site_pageviews"].as_u64().expect("big site pageviews");
    assert_eq!(totals["pageviews"].as_u64(), Some(big));
    assert!(big > seeded / 2 && big < seeded, "the big site has most of the traffic: {big} of {seeded}");
    assert!(
        totals["visitors"].as_u64() > Some(0) && totals["visits"].as_u64() >= totals["visitors"].as_u64(),
        "{totals}"
    );
    assert_eq!(sides[0]["answer"]["pages"].as_array().map(Vec::len), Some(10), "{report}");

    let asked = 2 * (reps["tally"].as_u64().unwrap() + reps["tally_warmup"].as_u64().unwrap());
    assert_eq!(report["tally_requests"].as_u64(), Some(asked), "Tally answered every request");
    assert_eq!(report["goals"].as_array().map(Vec::len), Some(3), "{report}");
    assert!(stdout.contains("p50 vs tally") && stdout.contains("same answer on every side"), "{stdout}");

    // The plan of the page breakdown, as a profile for the docs: it read the page rows counted.
    let plan = report["breakdown_plan"].as_str().expect("the breakdown's plan");
    assert!(plan.contains("Execution Time") && plan.contains("analytics_rollup"), "{plan}");
    assert!(report["scanned"]["page_rows"].as_u64() > Some(0), "{report}");
}
