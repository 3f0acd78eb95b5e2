//! Analytics appends against a real Postgres: dedupe by client event id
//! (within a batch, across batches and across concurrent appenders), dense
//! positions, and the daily salts shared by every pod.

use chrono::NaiveDate;
use tally_event_store::{
    AnalyticsAppender, AnalyticsAppenderConfig, AnalyticsBatch, AnalyticsEvent, AnalyticsOutcome, EventMetadata,
    NewEvent, migrate, reader, salts,
};
use uuid::Uuid;

async fn pool() -> (std::sync::Arc<tally_devstack::PgCluster>, deadpool_postgres::Pool) {
    let (cluster, url) = tally_devstack::fresh_database().await.unwrap();
    let config: tokio_postgres::Config = url.parse().unwrap();
    migrate::run(&config).await.unwrap();
    let pool = deadpool_postgres::Pool::builder(deadpool_postgres::Manager::new(config, tokio_postgres::NoTls))
        .max_size(6)
        .build()
        .unwrap();
    (cluster, pool)
}

fn event(id: Option<&str>) -> AnalyticsEvent {
    AnalyticsEvent {
        client_event_id: id.map(str::to_owned),
        event: NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "tally.v1.AnalyticsEventRecorded".into(),
            schema_version: 1,
            payload: b"x".to_vec(),
            metadata: EventMetadata::default(),
        },
    }
}

fn batch(site: Uuid, ids: &[Option<&str>]) -> AnalyticsBatch {
    AnalyticsBatch {
        site_id: site,
        stream_id: format!("analytics-{site}"),
        events: ids.iter().map(|i| event(*i)).collect(),
    }
}

async fn count(pool: &deadpool_postgres::Pool) -> i64 {
    let client = pool.get().await.unwrap();
    client.query_one("SELECT count(*) FROM events WHERE category = 'analytics'", &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_reported_and_not_appended_again() {
    let (_cluster, pool) = pool().await;
    let (appender, _task) = AnalyticsAppender::spawn(pool.clone(), AnalyticsAppenderConfig::default());
    let (site, other) = (Uuid::now_v7(), Uuid::now_v7());

    let first = appender.append(batch(site, &[Some("a"), None, Some("b"), Some("a")])).await.unwrap();
    assert_eq!(
        first,
        [
            AnalyticsOutcome::Appended { global_position: 1 },
            AnalyticsOutcome::Appended { global_position: 2 },
            AnalyticsOutcome::Appended { global_position: 3 },
            AnalyticsOutcome::Duplicate,
        ]
    );
    let again = appender.append(batch(site, &[Some("b"), Some("c")])).await.unwrap();
    assert_eq!(again, [AnalyticsOutcome::Duplicate, AnalyticsOutcome::Appended { global_position: 4 }]);
    // Client ids are per site: another site may use the same id.
    let elsewhere = appender.append(batch(other, &[Some("a")])).await.unwrap();
    assert_eq!(elsewhere, [AnalyticsOutcome::Appended { global_position: 5 }]);
    assert_eq!(count(&pool).await, 5);

    let client = pool.get().await.unwrap();
    let page = reader::read_stream(&client, "analytics", &format!("analytics-{site}"), 0, 100).await.unwrap();
    assert_eq!(page.iter().map(|e| e.stream_version).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appenders_record_each_client_id_once() {
    let (_cluster, pool) = pool().await;
    // Two appenders stand for two command pods.
    let (a, _ta) = AnalyticsAppender::spawn(pool.clone(), AnalyticsAppenderConfig::default());
    let (b, _tb) = AnalyticsAppender::spawn(pool.clone(), AnalyticsAppenderConfig::default());
    let site = Uuid::now_v7();
    let ids: Vec<String> = (0..200).map(|i| format!("e{i}")).collect();
    let mut tasks = Vec::new();
    for round in 0..8 {
        let appender = if round % 2 == 0 { a.clone() } else { b.clone() };
        // Each client sends the same ids in a different order.
        let mut mine: Vec<String> = ids.clone();
        mine.rotate_left(round * 25);
        tasks.push(tokio::spawn(async move {
            let refs: Vec<Option<&str>> = mine.iter().map(|s| Some(s.as_str())).collect();
            appender.append(batch(site, &refs)).await.unwrap()
        }));
    }
    let mut appended = 0;
    for t in tasks {
        appended += t.await.unwrap().iter().filter(|o| matches!(o, AnalyticsOutcome::Appended { .. })).count();
    }
    assert_eq!(appended, 200);
    assert_eq!(count(&pool).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pod_gets_the_same_salt_and_expired_salts_are_destroyed() {
    let (_cluster, pool) = pool().await;
    let site = Uuid::now_v7();
    let today = chrono::Utc::now().date_naive();
    let old = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let client = pool.get().await.unwrap();
    let first = salts::get_or_create(&client, &[(site, today)], &[vec![1; 32]]).await.unwrap();
    let second =
        salts::get_or_create(&client, &[(site, today), (site, old)], &[vec![2; 32], vec![77; 32]]).await.unwrap();
    assert_eq!(first[&(site, today)].salt, vec![1; 32], "the first candidate wins");
    assert_eq!(second[&(site, today)], first[&(site, today)], "later callers read it back");
    let backfilled = &second[&(site, old)];
    assert!(backfilled.expires_at > chrono::Utc::now() + chrono::Duration::hours(47), "a past day lives two days");
    assert!(!format!("{backfilled:?}").contains("77, 77"), "salts are not printed");

    assert_eq!(salts::destroy_expired(&client).await.unwrap(), 0);
    client
        .execute("UPDATE analytics_salts SET expires_at = now() - interval '1 second' WHERE local_date = $1", &[&old])
        .await
        .unwrap();
    assert_eq!(salts::destroy_expired(&client).await.unwrap(), 1);
    let left: i64 = client.query_one("SELECT count(*) FROM analytics_salts", &[]).await.unwrap().get(0);
    assert_eq!(left, 1);
}
