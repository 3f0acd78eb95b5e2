//! Profile lookups by id, and by handle, that arrive together share one statement
//! (`read/batch.rs`): each caller still gets exactly its own profile, an unknown key is still
//! NOT_FOUND, a handle held by two rows answers the latest, and a read DB out of reach is
//! UNAVAILABLE for every caller of the batch.

mod common;

use std::time::Duration;

use common::TestApp;
use serde_json::json;
use tally_proto::v1::{self, query_service_client::QueryServiceClient};
use tally_query_service::App;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::{Code, transport::Channel};
use uuid::Uuid;

const PROFILES: usize = 40;
const LOOKUPS: usize = 400;

/// The sample count of the histogram `query_profile_batch_size{by}` and its sum.
fn batch_histogram(metrics: &str, by: &str) -> (f64, f64) {
    let value = |name: &str| {
        let name = format!("{name}{{by=\"{by}\"}}");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&name)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
    };
    (value("query_profile_batch_size_count"), value("query_profile_batch_size_sum"))
}

/// A service with one statement in flight: whatever arrives meanwhile must wait for, and
/// join, the next.
async fn one_statement_at_a_time() -> TestApp {
    let db_url = common::read_db().await;
    let mut settings = common::settings(&db_url);
    settings.coalescing.statements_in_flight = 1;
    TestApp::spawn_with(settings).await
}

/// Waits for every lookup and checks each answer with `found` or `missing`; every seventh
/// lookup asks for a key nobody has, so exactly those are missing.
async fn check_answers<K: Send + 'static>(
    mut lookups: JoinSet<(K, Result<tonic::Response<v1::Profile>, tonic::Status>)>,
    found: impl Fn(&K, v1::Profile),
    missing: impl Fn(&K, tonic::Status),
) {
    let (mut n_found, mut n_missing) = (0, 0);
    while let Some(done) = lookups.join_next().await {
        let (asked, answer) = done.unwrap();
        match answer {
            Ok(profile) => {
                found(&asked, profile.into_inner());
                n_found += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::NotFound, "{status:?}");
                missing(&asked, status);
                n_missing += 1;
            }
        }
    }
    assert_eq!((n_found + n_missing, n_missing), (LOOKUPS, LOOKUPS.div_ceil(7)));
}

/// Every one of the `LOOKUPS` went through exactly one batch of `by`, and batches formed.
async fn assert_coalesced(app: &TestApp, by: &str) {
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let (statements, looked_up) = batch_histogram(&metrics, by);
    assert_eq!(looked_up as usize, LOOKUPS, "every lookup went through a batch exactly once");
    assert!(
        statements < LOOKUPS as f64,
        "{LOOKUPS} concurrent lookups took {statements} statements: none were coalesced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lookups_share_statements_and_each_gets_its_own_profile() {
    let app = one_statement_at_a_time().await;
    let mut ids = Vec::new();
    for n in 0..PROFILES {
        ids.push(app.seed_profile_with(Uuid::now_v7(), &format!("batch{n}"), 1, json!([])).await);
    }
    let channel = Channel::from_shared(app.base.clone()).unwrap().connect().await.unwrap();

    let mut lookups = JoinSet::new();
    for i in 0..LOOKUPS {
        // Every id is asked for many times, often in the same batch, and every
        // seventh lookup asks for an id nobody has.
        let id = if i % 7 == 0 { Uuid::now_v7() } else { ids[i % PROFILES] };
        let mut client = QueryServiceClient::new(channel.clone());
        lookups.spawn(async move {
            (id, client.get_profile(v1::GetProfileRequest { id: id.to_string(), min_position: None }).await)
        });
    }
    check_answers(
        lookups,
        |asked, p| {
            assert_eq!(p.id, asked.to_string(), "a caller got someone else's profile");
            let n = ids.iter().position(|i| i == asked).expect("a seeded id");
            assert_eq!(p.handle, format!("batch{n}"));
            assert_eq!(p.attributes["team"], "engines");
        },
        |asked, status| {
            assert!(!ids.contains(asked), "a seeded profile was reported missing: {status:?}");
            assert!(status.message().contains(&asked.to_string()), "{status:?}");
        },
    )
    .await;

    assert_coalesced(&app, "id").await;

    // A read-your-writes read keeps its own statement and still answers.
    app.set_position(0, 1).await;
    let fresh = app.get_fresh(&format!("/v1/profiles/{}", ids[3]), 1).await;
    assert_eq!(fresh.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lookups_by_handle_share_statements_and_each_gets_the_latest_holder() {
    let app = one_statement_at_a_time().await;
    let mut ids = Vec::new();
    for n in 0..PROFILES {
        ids.push(app.seed_profile(&format!("handle{n}"), 10).await);
    }
    // A released handle taken by another profile, both rows still projected: the later
    // holder (higher position) answers, in a batch as alone.
    app.seed_profile("handle0", 5).await;
    let channel = Channel::from_shared(app.base.clone()).unwrap().connect().await.unwrap();

    let mut lookups = JoinSet::new();
    for i in 0..LOOKUPS {
        let handle = if i % 7 == 0 { format!("nobody{i}") } else { format!("HANDLE{}", i % PROFILES) };
        let mut client = QueryServiceClient::new(channel.clone());
        lookups.spawn(async move {
            let request = v1::GetProfileByHandleRequest { handle: handle.clone(), min_position: None };
            (handle, client.get_profile_by_handle(request).await)
        });
    }
    check_answers(
        lookups,
        |asked: &String, p| {
            let n: usize = asked.strip_prefix("HANDLE").and_then(|n| n.parse().ok()).expect("a seeded handle");
            assert_eq!(p.handle, format!("handle{n}"), "a caller got someone else's profile");
            assert_eq!(p.id, ids[n].to_string(), "not the latest holder of {asked}");
        },
        |asked, status| {
            assert!(asked.starts_with("nobody"), "a seeded handle was reported missing: {status:?}");
            assert!(status.message().contains(asked.as_str()), "{status:?}");
        },
    )
    .await;

    assert_coalesced(&app, "handle").await;
    app.stop().await;
}

#[tokio::test]
async fn a_read_db_out_of_reach_is_unavailable_for_every_caller_of_a_batch() {
    // A port nothing listens on: every connection attempt is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = common::settings(&format!("postgres://tally@127.0.0.1:{closed}/tally_read"));
    settings.database.connect_timeout = Duration::from_secs(2);
    settings.coalescing.statements_in_flight = 1;
    // Not a TestApp: that one also connects to the database for seeding.
    let app = App::build(settings).await.expect("the pool connects lazily, so the app builds");
    let base = format!("http://{}", app.local_addr());
    let stop = CancellationToken::new();
    let served = tokio::spawn(app.run_until_stopped(stop.clone()));
    let channel = Channel::from_shared(base.clone()).unwrap().connect().await.unwrap();

    let mut lookups = JoinSet::new();
    for _ in 0..20 {
        let mut client = QueryServiceClient::new(channel.clone());
        lookups.spawn(async move {
            client.get_profile(v1::GetProfileRequest { id: Uuid::now_v7().to_string(), min_position: None }).await
        });
    }
    while let Some(done) = lookups.join_next().await {
        let status = done.unwrap().expect_err("no database, no profile");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.message().contains("read database is unavailable"), "{status:?}");
    }
    let rest = reqwest::get(format!("{base}/v1/profiles/{}", Uuid::now_v7())).await.unwrap();
    assert_eq!(rest.status(), 503);
    assert!(rest.headers().contains_key("retry-after"));
    stop.cancel();
    served.await.unwrap().expect("a clean stop");
}
