//! Rebuilds: a new version equal to the live one, switched while readers
//! read; an interrupted rebuild leaves nothing behind.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use support::{Harness, Running};
use tally_projector::rebuild::{self, Options};

async fn table_exists(h: &Harness, name: &str) -> bool {
    h.query_one::<bool>(&format!("SELECT to_regclass('{name}') IS NOT NULL")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_equals_the_live_tables_and_switches_under_a_concurrent_reader() {
    let mut h = Harness::new().await;
    let projector = Running::start(h.settings()).await;
    h.populate(150, 1).await;
    h.wait_projected(h.head).await;
    let live_profiles = h.snapshot("profiles").await;
    let live_sites = h.snapshot("sites").await;

    // A reader keeps querying the views through the switch.
    let stop = tokio_util::sync::CancellationToken::new();
    let (answers, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let reader = {
        let (read, stop, answers, failures) = (h.read.clone(), stop.clone(), answers.clone(), failures.clone());
        let expected = live_profiles.len() as i64;
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.is_cancelled() && Instant::now() < deadline {
                let client = read.get().await.unwrap();
                match client.query_one("SELECT count(*) FROM profiles", &[]).await {
                    Ok(row) if row.get::<_, i64>(0) == expected => answers.fetch_add(1, Ordering::Relaxed),
                    _ => failures.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };

    let options = Options { page: 40, ..Options::default() };
    let report = rebuild::profiles(&h.settings(), options, Default::default()).await.unwrap();
    assert_eq!((report.old_version, report.new_version), (1, 2));
    assert_eq!(report.dead_lettered, 0);
    stop.cancel();
    reader.await.unwrap();
    assert!(answers.load(Ordering::Relaxed) > 0, "the reader got answers");
    assert_eq!(failures.load(Ordering::Relaxed), 0, "the reader never saw an error or a partial table");

    assert_eq!(h.query_one::<i32>("SELECT active_version FROM projections WHERE name = 'profiles'").await, 2);
    let view: String = h.query_one("SELECT pg_get_viewdef('profiles'::regclass)").await;
    assert!(view.contains("profile_view_v2"), "{view}");
    assert_eq!(h.snapshot("profile_view_v2").await, live_profiles, "rebuilt rows equal the live rows");
    assert_eq!(h.snapshot("site_view_v2").await, live_sites);
    assert!(table_exists(&h, "profile_view_v1").await, "old tables are kept without --drop-old");
    assert!(report.to_string().contains("kept the old tables profile_view_v1"), "{report}");

    // The live projector carries on into the new version.
    let newcomer = h.create_profile("after_switch").await;
    h.wait_projected(h.head).await;
    assert!(h.profile(newcomer).await.is_some());
    assert_eq!(
        h.query_one::<i64>(&format!("SELECT count(*) FROM profile_view_v1 WHERE id = '{newcomer}'")).await,
        0,
        "nothing goes to the old version any more"
    );

    // A second rebuild with --drop-old removes v2's predecessor.
    let report = rebuild::profiles(
        &h.settings(),
        Options { page: 1000, drop_old: true, ..Options::default() },
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.new_version, 3);
    assert!(!table_exists(&h, "profile_view_v2").await && !table_exists(&h, "site_view_v2").await);
    assert!(h.profile(newcomer).await.is_some());
    projector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_model_bigger_than_the_memory_budget_is_written_in_rounds_and_equals_the_live_one() {
    use tally_proto::v1;

    let mut h = Harness::new().await;
    let projector = Running::start(h.settings()).await;
    let ids = h.populate(120, 4).await;
    // Events for rows the rebuild has written and forgotten by then: they must be read back,
    // changed and written again, not written twice or lost.
    for (n, id) in ids.iter().take(12).enumerate().filter(|(n, _)| n % 10 != 7) {
        h.update_profile(v1::ProfileUpdated {
            profile_id: id.to_string(),
            display_name: Some(format!("Late {n}")),
            ..Default::default()
        })
        .await;
    }
    h.register_site(ids[0], "late.example.com").await;
    h.wait_projected(h.head).await;
    let live_profiles = h.snapshot("profile_view_v1").await;
    let live_sites = h.snapshot("site_view_v1").await;

    // A few kilobytes: a round every few pages of 20 events.
    let options = Options { page: 20, memory_budget: 8 * 1024, ..Options::default() };
    let report = rebuild::profiles(&h.settings(), options, Default::default()).await.unwrap();
    assert!(report.rounds > 5, "the budget forced several rounds: {report}");
    assert_eq!(h.snapshot("profile_view_v2").await, live_profiles, "rebuilt rows equal the live rows");
    assert_eq!(h.snapshot("site_view_v2").await, live_sites);

    // With the default budget the same store is written once.
    let report =
        rebuild::profiles(&h.settings(), Options { page: 20, ..Options::default() }, Default::default()).await.unwrap();
    assert_eq!(report.rounds, 1, "{report}");
    assert_eq!(h.snapshot("profile_view_v3").await, live_profiles);
    projector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_rebuild_drops_the_new_tables_and_keeps_the_old_version() {
    let mut h = Harness::new().await;
    h.populate(300, 1).await;
    let projector = Running::start(h.settings()).await;
    h.wait_projected(h.head).await;
    projector.stop().await;
    let before = h.snapshot("profiles").await;

    // One event per page: slow enough to interrupt half-way.
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_projector"))
        .args(["rebuild", "profiles", "--page", "1", "--quiet"])
        .envs(h.env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if table_exists(&h, "profile_view_v2").await
            && h.query_one::<i64>("SELECT count(*) FROM profile_view_v2").await > 10
        {
            break;
        }
        assert!(Instant::now() < deadline, "the rebuild never started filling v2");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output()).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "an interrupted rebuild exits non-zero");
    assert!(stderr.contains("interrupted") && stderr.contains("v1 still serves"), "{stderr}");

    assert!(!table_exists(&h, "profile_view_v2").await && !table_exists(&h, "site_view_v2").await);
    assert!(!table_exists(&h, "tombstones_v2").await);
    assert_eq!(h.query_one::<i32>("SELECT active_version FROM projections WHERE name = 'profiles'").await, 1);
    assert_eq!(h.snapshot("profiles").await, before, "the old version is untouched and serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_catches_tables_that_disagree_with_the_event_store() {
    let mut h = Harness::new().await;
    let projector = Running::start(h.settings()).await;
    h.populate(30, 1).await;
    h.wait_projected(h.head).await;
    projector.stop().await;

    let mut model = rebuild::verify::Model::default();
    let events = tally_event_store::reader::read_all(&h.store.get().await.unwrap(), 0, 10_000, &Default::default())
        .await
        .unwrap();
    events.iter().for_each(|e| model.observe(e));
    let tables = tally_projector::schema::VersionTables::new(1);
    let client = h.read.get().await.unwrap();
    let measured = rebuild::verify::measure(&**client, &tables).await.unwrap();
    assert_eq!(rebuild::verify::compare(&model.figures(), &measured), Vec::<String>::new(), "the live tables agree");

    client
        .execute(
            "UPDATE profile_view_v1 SET version = version + 1 WHERE id = (SELECT id FROM profile_view_v1 ORDER BY id LIMIT 1)",
            &[],
        )
        .await
        .unwrap();
    client
        .execute(
            "UPDATE profile_view_v1 SET sites = '[]' WHERE id = (SELECT owner_profile_id FROM site_view_v1 LIMIT 1)",
            &[],
        )
        .await
        .unwrap();
    let measured = rebuild::verify::measure(&**client, &tables).await.unwrap();
    let mismatches = rebuild::verify::compare(&model.figures(), &measured);
    assert_eq!(mismatches.len(), 2, "{mismatches:?}");
    assert!(mismatches[0].starts_with("profiles: sum(version)"), "{mismatches:?}");
    assert!(mismatches[1].starts_with("profiles: sum(jsonb_array_length(sites))"), "{mismatches:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_the_database_refuses_costs_the_rebuild_only_its_own_event() {
    use prost::Message as _;
    use tally_proto::{convert::event_types as t, v1};

    let mut h = Harness::new().await;
    h.populate(40, 3).await;
    let bad = uuid::Uuid::now_v7();
    let payload = v1::ProfileCreated {
        profile_id: bad.to_string(),
        handle: "nul_byte".into(),
        display_name: "bad\u{0}name".into(),
        ..Default::default()
    };
    h.append(&format!("profile-{bad}"), t::PROFILE_CREATED, payload.encode_to_vec()).await;
    let after = h.create_profile("after_the_bad_one").await;

    // The bulk write holding the bad row is refused as a whole; the rebuild replays that
    // stretch event by event, so only the culprit becomes a dead letter.
    let report =
        rebuild::profiles(&h.settings(), Options { page: 7, ..Options::default() }, Default::default()).await.unwrap();
    assert_eq!(report.dead_lettered, 1, "{report}");
    assert_eq!(h.query_one::<i32>("SELECT active_version FROM projections WHERE name = 'profiles'").await, 2);
    assert!(h.profile(bad).await.is_none());
    assert!(h.profile(after).await.is_some());
    let reason: String = h.query_one("SELECT reason FROM dead_letters WHERE consumer = 'rebuild'").await;
    assert!(reason.contains("refused"), "{reason}");
    // populate(40, _) deletes every tenth profile (4 of them); the newcomer makes 37.
    assert_eq!(h.query_one::<i64>("SELECT count(*) FROM profile_view_v2").await, 37);
}
