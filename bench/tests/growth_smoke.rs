//! Keeps `tally-bench growth` from rotting: a smoke run (two tiny sizes) against the real
//! binaries of this test's cargo profile must reach every size, project the whole store and
//! measure appends and queries at each.

mod support;

#[test]
fn growth_measures_appends_and_queries_at_every_size() {
    let (report, stdout) = support::smoke("growth");

    let steps = report["steps"].as_array().expect("steps");
    assert!(steps.len() >= 2, "a growth needs two sizes: {report}");
    let mut previous = 0;
    for step in steps {
        let events = step["events"].as_u64().expect("events");
        assert!(events >= step["target"].as_u64().expect("target"), "size reached: {step}");
        assert!(events > previous, "the store grew: {step}");
        previous = events;
        assert_eq!(step["rebuilt"]["events"], step["events"], "the whole store was projected: {step}");
        assert!(step["append"]["commands"].as_u64() > Some(0), "{step}");
        assert_eq!(step["append"]["errors"], 0, "{step}");
        assert!(step["append"]["latency"]["p99_ms"].as_f64() > Some(0.0), "{step}");
        assert!(step["query"]["requests"].as_u64() > Some(0), "{step}");
        assert_eq!(step["query"]["errors"], 0, "{step}");
        assert!(step["write_db_bytes"].as_u64() > Some(0), "{step}");
    }
    let ratios = report["ratios"].as_array().expect("ratios");
    assert_eq!(ratios.len(), steps.len());
    assert_eq!(ratios[0]["append_p99"], 1.0, "the first size is the reference: {report}");
    assert!(stdout.contains("append p50/p99"), "the table is printed:\n{stdout}");
}
