//! Keeps `tally-bench footprint` from rotting: a smoke run against the real binaries of this
//! test's cargo profile must sample every service idle and under load, with every kind of
//! traffic answered. The sizes mean nothing; the plausibility bounds only catch a sampler
//! reading the wrong process or the wrong unit.

mod support;

#[test]
fn footprint_samples_every_service_idle_and_under_load() {
    let (report, stdout) = support::smoke("footprint");

    let services = report["services"].as_array().expect("services");
    let names: Vec<&str> = services.iter().filter_map(|s| s["service"].as_str()).collect();
    assert_eq!(names, ["command-service", "projector", "query-service"], "{report}");
    for s in services {
        let kib = |k: &str| s[k].as_u64().unwrap_or(0);
        // A Rust service with a tokio runtime and a database pool holds megabytes, not bytes
        // and not gigabytes: outside these bounds the sampler is reading something else.
        for key in ["idle_rss_kib", "peak_rss_kib", "hwm_kib"] {
            assert!((1024..4 * 1024 * 1024).contains(&kib(key)), "{key} implausible: {s}");
        }
        // The kernel counts RSS per thread and CPU in batches and folds them into the
        // high-water mark lazily, so a sample can exceed the VmHWM read later by a few
        // pages (seen: 76 KiB); more than 1 MiB would mean the two are not the same process.
        assert!(kib("hwm_kib") + 1024 >= kib("peak_rss_kib"), "the high-water mark covers every sample: {s}");
        assert!(kib("idle_samples") >= 2 && kib("peak_samples") >= 2, "a timeline, not one reading: {s}");
    }
    assert!(report["commands"]["commands"].as_u64() > Some(0), "{report}");
    assert_eq!(report["commands"]["errors"], 0, "{report}");
    assert!(report["reads"]["requests"].as_u64() > Some(0), "{report}");
    assert_eq!(report["reads"]["errors"], 0, "{report}");
    assert!(report["ingest"]["accepted"].as_u64() > Some(0), "{report}");
    assert_eq!(report["ingest"]["errors"], 0, "{report}");
    assert!(stdout.contains("VmHWM"), "the table is printed:\n{stdout}");
}
