//! Test harness: a real write DB with the event store (fed through the real
//! `Appender` with protobuf payloads, exactly as the command-service writes
//! them), a real read DB, and the projector running in-process or as its
//! binary.
#![allow(dead_code)]

pub mod visits;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use deadpool_postgres::Pool;
use prost::Message as _;
use tally_event_store::{AppendRequest, Appender, AppenderConfig, EventMetadata, ExpectedVersion, NewEvent};
use tally_projector::{App, Settings};
use tally_proto::{convert::event_types as t, v1};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct Harness {
    pub write_url: String,
    pub read_url: String,
    pub store: Pool,
    pub read: Pool,
    pub appender: Appender,
    _appender_task: tokio::task::JoinHandle<()>,
    _cluster: std::sync::Arc<tally_devstack::PgCluster>,
    /// Last position appended.
    pub head: u64,
}

fn pool(url: &str) -> Pool {
    let config: tokio_postgres::Config = url.parse().unwrap();
    Pool::builder(deadpool_postgres::Manager::new(config, tokio_postgres::NoTls)).max_size(8).build().unwrap()
}

impl Harness {
    pub async fn new() -> Harness {
        let (cluster, write_url) = tally_devstack::fresh_database().await.unwrap();
        let (_, read_url) = tally_devstack::fresh_database().await.unwrap();
        tally_event_store::migrate::run(&write_url.parse().unwrap()).await.unwrap();
        tally_projector::migrate::run(&read_url.parse().unwrap()).await.unwrap();
        let store = pool(&write_url);
        let read = pool(&read_url);
        let (appender, task) = Appender::spawn(store.clone(), AppenderConfig { max_batch: 256, queue_capacity: 1024 });
        Harness { write_url, read_url, store, read, appender, _appender_task: task, _cluster: cluster, head: 0 }
    }

    /// Projector settings for these databases (single-node mode, ops port 0).
    pub fn settings(&self) -> Settings {
        let mut s = Settings::load(None).unwrap();
        s.read_database.url = secrecy::SecretString::from(self.read_url.clone());
        s.event_store.url = secrecy::SecretString::from(self.write_url.clone());
        s.server.port = 0;
        s
    }

    /// Environment for the projector binary.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("TALLY_READ_DATABASE__URL".into(), self.read_url.clone()),
            ("TALLY_EVENT_STORE__URL".into(), self.write_url.clone()),
            ("TALLY_SERVER__PORT".into(), "0".into()),
            ("TALLY_TELEMETRY__LOG_FORMAT".into(), "pretty".into()),
        ]
    }

    /// Appends one event to a stream and returns its position.
    pub async fn append(&mut self, stream: &str, event_type: &str, payload: Vec<u8>) -> u64 {
        self.append_many(stream, vec![(event_type.to_owned(), payload)]).await
    }

    pub async fn append_many(&mut self, stream: &str, events: Vec<(String, Vec<u8>)>) -> u64 {
        let category = stream.split('-').next().unwrap().to_owned();
        let events = events
            .into_iter()
            .map(|(event_type, payload)| NewEvent {
                event_id: Uuid::now_v7(),
                event_type,
                schema_version: 1,
                payload,
                metadata: EventMetadata {
                    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
                    ..EventMetadata::default()
                },
            })
            .collect();
        let request = AppendRequest {
            stream_id: stream.into(),
            category,
            expected: ExpectedVersion::Any,
            events,
            claims: vec![],
            command_id: None,
            fingerprint: vec![],
        };
        let result = self.appender.append(request).await.unwrap();
        self.head = self.head.max(result.global_position);
        result.global_position
    }

    pub async fn create_profile(&mut self, handle: &str) -> Uuid {
        let id = Uuid::now_v7();
        self.create_profile_with_id(id, handle).await;
        id
    }

    pub async fn create_profile_with_id(&mut self, id: Uuid, handle: &str) -> u64 {
        let payload = v1::ProfileCreated {
            profile_id: id.to_string(),
            handle: handle.into(),
            display_name: format!("Display {handle}"),
            email: format!("{handle}@example.com"),
            bio: "Hello".into(),
            avatar_url: "https://example.com/a.png".into(),
            attributes: [("team".to_owned(), "core".to_owned())].into(),
        };
        self.append(&format!("profile-{id}"), t::PROFILE_CREATED, payload.encode_to_vec()).await
    }

    pub async fn update_profile(&mut self, patch: v1::ProfileUpdated) -> u64 {
        let stream = format!("profile-{}", patch.profile_id);
        self.append(&stream, t::PROFILE_UPDATED, patch.encode_to_vec()).await
    }

    pub async fn delete_profile(&mut self, id: Uuid) -> u64 {
        let payload = v1::ProfileDeleted { profile_id: id.to_string() };
        self.append(&format!("profile-{id}"), t::PROFILE_DELETED, payload.encode_to_vec()).await
    }

    pub async fn register_site(&mut self, owner: Uuid, domain: &str) -> Uuid {
        let id = Uuid::now_v7();
        let payload = v1::SiteRegistered {
            site_id: id.to_string(),
            domain: domain.into(),
            time_zone: "Europe/Paris".into(),
            owner_profile_id: owner.to_string(),
            name: format!("Site {domain}"),
        };
        self.append(&format!("site-{id}"), t::SITE_REGISTERED, payload.encode_to_vec()).await;
        id
    }

    pub async fn update_site(&mut self, patch: v1::SiteUpdated) -> u64 {
        let stream = format!("site-{}", patch.site_id);
        self.append(&stream, t::SITE_UPDATED, patch.encode_to_vec()).await
    }

    pub async fn delete_site(&mut self, id: Uuid) -> u64 {
        let payload = v1::SiteDeleted { site_id: id.to_string() };
        self.append(&format!("site-{id}"), t::SITE_DELETED, payload.encode_to_vec()).await
    }

    /// Issues read key `key_id` of `site` (the hash is the SHA-256 of `secret` in the real
    /// thing; any 32 bytes do here).
    pub async fn issue_key(&mut self, site: Uuid, key_id: &str, hash_byte: u8, label: &str) -> u64 {
        let payload = v1::SiteReadKeyIssued {
            site_id: site.to_string(),
            key_id: key_id.into(),
            key_hash: vec![hash_byte; 32],
            label: label.into(),
        };
        self.append(&format!("site-{site}"), t::SITE_READ_KEY_ISSUED, payload.encode_to_vec()).await
    }

    pub async fn revoke_key(&mut self, site: Uuid, key_id: &str) -> u64 {
        let payload = v1::SiteReadKeyRevoked { site_id: site.to_string(), key_id: key_id.into() };
        self.append(&format!("site-{site}"), t::SITE_READ_KEY_REVOKED, payload.encode_to_vec()).await
    }

    /// Every read-key row of a relation as text, sorted.
    pub async fn keys_snapshot(&self, relation: &str) -> Vec<String> {
        let client = self.read.get().await.unwrap();
        let sql = format!("SELECT t::text FROM {relation} t ORDER BY site_id, key_id");
        client.query(&sql, &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
    }

    /// A varied history: profiles with sites, updates, deletions.
    pub async fn populate(&mut self, profiles: usize, seed: usize) -> Vec<Uuid> {
        let mut ids = Vec::with_capacity(profiles);
        for i in 0..profiles {
            let id = self.create_profile(&format!("user_{seed}_{i}")).await;
            ids.push(id);
            if i % 3 == 0 {
                let site = self.register_site(id, &format!("s{i}-{seed}.example.com")).await;
                self.register_site(id, &format!("a{i}-{seed}.example.org")).await;
                if i % 2 == 0 {
                    self.update_site(v1::SiteUpdated {
                        site_id: site.to_string(),
                        name: Some(format!("Renamed {i}")),
                        ..Default::default()
                    })
                    .await;
                }
            }
            if i % 4 == 1 {
                self.update_profile(v1::ProfileUpdated {
                    profile_id: id.to_string(),
                    bio: Some(format!("bio number {i}")),
                    ..Default::default()
                })
                .await;
            }
            if i % 10 == 7 {
                self.delete_profile(id).await;
            }
        }
        ids
    }

    /// Waits until the projector's committed position reaches `position`.
    pub async fn wait_projected(&self, position: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let client = self.read.get().await.unwrap();
            let at = tally_projector::offsets::projected_position(&**client, "tally-projector").await.unwrap();
            if at.is_some_and(|p| p as u64 >= position) {
                return;
            }
            assert!(Instant::now() < deadline, "projector did not reach position {position} (at {at:?})");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every row of a relation as text, sorted: equal snapshots are equal tables.
    pub async fn snapshot(&self, relation: &str) -> Vec<String> {
        let client = self.read.get().await.unwrap();
        let rows = client.query(&format!("SELECT t::text FROM {relation} t ORDER BY id"), &[]).await.unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }

    pub async fn query_one<T: for<'a> tokio_postgres::types::FromSql<'a>>(&self, sql: &str) -> T {
        self.read.get().await.unwrap().query_one(sql, &[]).await.unwrap().get(0)
    }

    pub async fn profile(&self, id: Uuid) -> Option<tokio_postgres::Row> {
        let client = self.read.get().await.unwrap();
        client.query_opt("SELECT * FROM profiles WHERE id = $1", &[&id]).await.unwrap()
    }
}

/// The projector running in-process.
pub struct Running {
    pub shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), tally_projector::startup::StartupError>>,
}

impl Running {
    pub async fn start(settings: Settings) -> Running {
        let app = App::build(settings).await.unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Running { shutdown, task }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("projector stops").unwrap().unwrap();
    }
}

pub fn counts(rows: &[tokio_postgres::Row]) -> HashMap<String, i64> {
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

impl Harness {
    /// Projector settings for Kafka mode against `brokers`.
    pub fn kafka_settings(&self, brokers: &str, assignment: tally_projector::settings::Assignment) -> Settings {
        let mut s = self.settings();
        s.kafka.brokers = brokers.to_owned();
        s.kafka.assignment = assignment;
        s.kafka.session_timeout_ms = 6000;
        s
    }
}
