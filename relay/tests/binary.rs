//! The real `command-service` binary relays when `TALLY_KAFKA__BROKERS` is set: REST
//! writes reach Kafka without the requests waiting for it, and a SIGTERM releases the
//! leadership.

mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tally_devstack::{Broker, BrokerOptions, Readiness, Service};
use tally_streaming::PROFILE_TOPIC;

async fn post(http: &reqwest::Client, url: String, body: Value) -> Value {
    let resp = http.post(url).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn query_i64(db_url: &str, sql: &str) -> Option<i64> {
    let (client, conn) = tokio_postgres::connect(db_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.query_opt(sql, &[]).await.unwrap().map(|r| r.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_service_binary_relays_rest_writes_to_kafka() {
    let (_cluster, db_url) = tally_devstack::fresh_database().await.unwrap();
    let broker = Broker::start(BrokerOptions::default()).await.unwrap();
    let port = tally_devstack::free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut service = Service::spawn(
        "command-service",
        tally_devstack::binary("command-service").unwrap(),
        ["serve"],
        [
            ("TALLY_DATABASE__URL", db_url.clone()),
            ("TALLY_SERVER__PORT", port.to_string()),
            ("TALLY_DATABASE__POOL_SIZE", "4".to_owned()),
            ("TALLY_KAFKA__BROKERS", broker.bootstrap()),
            // The relay creates the topics itself.
            ("TALLY_KAFKA__TOPIC_PARTITIONS", "2".to_owned()),
        ],
        Readiness::Http(format!("{base}/readyz")),
    )
    .await
    .unwrap();

    let http = reqwest::Client::new();
    let mut keys = Vec::new();
    for handle in ["ada", "bob"] {
        let created = post(
            &http,
            format!("{base}/v1/profiles"),
            json!({"handle": handle, "display_name": handle, "email": format!("{handle}@example.com")}),
        )
        .await;
        keys.push(created["profile"]["id"].as_str().unwrap().to_owned());
    }
    let site = post(
        &http,
        format!("{base}/v1/sites"),
        json!({"domain": "ada.example", "time_zone": "Europe/London", "owner_profile_id": keys[0]}),
    )
    .await;
    let site_stream = site["result"]["stream_id"].as_str().unwrap_or_else(|| panic!("no stream id in {site}"));
    keys.push(site_stream.strip_prefix("site-").unwrap().to_owned());

    let deadline = Instant::now() + Duration::from_secs(60);
    let checkpoint = "SELECT published_position FROM relay_checkpoint WHERE name = 'kafka'";
    while query_i64(&db_url, checkpoint).await != Some(3) {
        assert!(Instant::now() < deadline, "relay did not publish 3 events within 60 s:\n{}", service.log_tail(40));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let records = common::consume(&broker.bootstrap(), &[(PROFILE_TOPIC, 2)], Duration::from_secs(60), |r| {
        common::complete(r, 3, 2)
    })
    .await;
    assert!(common::complete(&records, 3, 2), "3 events and a watermark on both partitions");
    let events: Vec<_> = records.iter().filter(|r| !r.incoming.is_watermark()).collect();
    let types: Vec<&str> = events.iter().map(|r| r.incoming.envelope.event_type.as_str()).collect();
    let mut sorted = events.clone();
    sorted.sort_by_key(|r| r.incoming.position);
    let sorted_keys: Vec<&str> = sorted.iter().map(|r| r.key.as_deref().unwrap()).collect();
    assert_eq!(sorted_keys, keys, "profile events keyed by profile id, site events by site id");
    assert_eq!(types.iter().filter(|t| **t == "tally.v1.ProfileCreated").count(), 2);
    assert_eq!(types.iter().filter(|t| **t == "tally.v1.SiteRegistered").count(), 1);

    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("relay_leader 1"), "leader gauge:\n{metrics}");
    assert!(metrics.contains("relay_published_events_total{topic=\"tally.profile.v1\"} 3"), "{metrics}");

    let status = service.terminate().await.unwrap();
    assert!(status.success(), "graceful exit: {status}\n{}", service.log_tail(40));
    let holder = query_i64(
        &db_url,
        "SELECT pid::bigint FROM pg_locks WHERE locktype = 'advisory' AND classid = 31249 AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await;
    assert_eq!(holder, None, "leadership released on SIGTERM");
}
