//! An outside consumer — Python `confluent-kafka` with code generated from `proto/` —
//! reads the topic from offset 0 and decodes every envelope, and what it saw per key is
//! exactly what the event store's own replay API returns.

use std::{collections::BTreeMap, path::PathBuf};

use serde_json::{Value, json};
use tally_tests::devstack::{self, Broker, BrokerOptions};

fn tools_python() -> PathBuf {
    devstack::workspace_root().join("target/tools-venv/bin/python3")
}

async fn generate_python(out: &std::path::Path) {
    let root = devstack::workspace_root();
    let protos: Vec<PathBuf> = std::fs::read_dir(root.join("proto/proto/tally/v1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    let status = tokio::process::Command::new(tools_python())
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(root.join("proto/proto"))
        .arg(format!("--python_out={}", out.display()))
        .args(&protos)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "protoc for python failed");
}

#[tokio::test]
async fn a_python_consumer_decodes_every_envelope_in_the_event_store_order_per_key() {
    assert!(tools_python().exists(), "run scripts/bootstrap.sh (make test does) to get the Python tools");
    let broker = Broker::start(BrokerOptions::default()).await.unwrap();
    broker.create_topic("tally.profile.v1", 3).await.unwrap();
    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (_service, base) =
        tally_tests::app::spawn_command_service_with(&db_url, Some(&broker.bootstrap())).await.unwrap();

    let http = reqwest::Client::new();
    let mut profile_ids = Vec::new();
    for i in 0..6 {
        let body = json!({"handle": format!("reader{i}"), "display_name": format!("Reader {i}"), "email": format!("r{i}@example.com")});
        let created: Value =
            http.post(format!("{base}/v1/profiles")).json(&body).send().await.unwrap().json().await.unwrap();
        let id = created["profile"]["id"].as_str().unwrap().to_owned();
        let patch = json!({"bio": format!("bio {i}")});
        let resp = http.patch(format!("{base}/v1/profiles/{id}")).json(&patch).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        profile_ids.push(id);
    }
    let site = json!({"domain": "interop.example", "time_zone": "Europe/Berlin", "owner_profile_id": profile_ids[0]});
    assert_eq!(http.post(format!("{base}/v1/sites")).json(&site).send().await.unwrap().status(), 201);
    let delete = http.delete(format!("{base}/v1/profiles/{}", profile_ids[5])).send().await.unwrap();
    assert_eq!(delete.status(), 200);

    // The event store's own replay from position 0 is the reference.
    let page: Value =
        http.get(format!("{base}/v1/events?after=0&limit=1000")).send().await.unwrap().json().await.unwrap();
    let stored = page["events"].as_array().unwrap();
    assert_eq!(stored.len(), 14);

    let generated = tempfile::tempdir().unwrap();
    generate_python(generated.path()).await;
    let out = tokio::process::Command::new(tools_python())
        .arg(devstack::workspace_root().join("tests/interop/kafka_consumer.py"))
        .arg(generated.path())
        .arg(broker.bootstrap())
        .arg("tally.profile.v1")
        .arg(stored.len().to_string())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "consumer failed: {}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    let consumed = seen["events"].as_array().unwrap();
    assert_eq!(consumed.len(), stored.len(), "every stored event reached Kafka exactly once");
    // Watermarks interleave with events (skipped by type); the relay's own tests check them.
    assert!(seen["watermarks"].is_u64());

    // Per key, Kafka's order is the event store's order.
    let mut by_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in consumed {
        assert_eq!(e["position"], e["header_position"], "header and envelope agree");
        by_key.entry(e["key"].as_str().unwrap().to_owned()).or_default().push(e["position"].as_u64().unwrap());
    }
    let mut expected: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in stored {
        let stream = e["stream_id"].as_str().unwrap();
        let key = stream.split_once('-').unwrap().1.to_owned();
        expected.entry(key).or_default().push(e["global_position"].as_u64().unwrap());
    }
    assert_eq!(by_key, expected, "per-key order on Kafka equals the event store's replay");

    // Payloads decode to the values that were written.
    let bio = consumed
        .iter()
        .find(|e| e["type"] == "tally.v1.ProfileUpdated" && e["stream_id"] == format!("profile-{}", profile_ids[3]))
        .expect("the update of profile 3");
    assert_eq!(bio["payload"]["bio"], "bio 3");
    let registered = consumed.iter().find(|e| e["type"] == "tally.v1.SiteRegistered").expect("the site");
    assert_eq!(registered["payload"]["domain"], "interop.example");
    assert_eq!(registered["payload"]["owner_profile_id"], profile_ids[0].as_str());
}
