//! An in-process query-service on a fresh read DB of a real, throw-away
//! Postgres cluster: the real `App::build`, real sockets, the projector's
//! real schema. State is set up by writing the read tables directly, as the
//! projector would.
#![allow(dead_code)]

use std::{net::SocketAddr, time::Duration};

use serde_json::{Value, json};
use tally_query_service::{App, Settings};
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const CONSUMER: &str = "tally-projector";

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub db: tokio_postgres::Client,
    pub db_url: String,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Settings for a test app on `db_url`, on a free port.
pub fn settings(db_url: &str) -> Settings {
    // The environment is process-global and tests run concurrently, so
    // tests override fields directly instead of setting TALLY_* variables.
    let mut s = Settings::load(None).expect("default settings parse");
    s.server.port = 0;
    s.server.drain = Duration::ZERO;
    s.database.url = db_url.to_owned().into();
    s.read_your_writes.max_wait_ms = Duration::from_millis(2000);
    s
}

/// A fresh read DB with the projector's schema.
pub async fn read_db() -> String {
    let (_cluster, db_url) = tally_devstack::fresh_database().await.expect("throw-away Postgres");
    let config: tokio_postgres::Config = db_url.parse().unwrap();
    tally_projector::migrate::run(&config).await.expect("read-model schema");
    db_url
}

async fn connect(db_url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(db_url, NoTls).await.expect("test connection");
    tokio::spawn(conn);
    client
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let db_url = read_db().await;
        Self::spawn_with(settings(&db_url)).await
    }

    pub async fn spawn_with(settings: Settings) -> TestApp {
        let db_url = settings.database.expose_url().to_owned();
        let app = App::build(settings).await.expect("app builds");
        let addr = app.local_addr();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move { app.run_until_stopped(token).await.expect("app runs") });
        TestApp {
            addr,
            base: format!("http://{addr}"),
            db: connect(&db_url).await,
            db_url,
            http: reqwest::Client::new(),
            shutdown,
            task: Some(task),
        }
    }

    /// Fires the shutdown signal without waiting for the drain to end.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("app stops in time")
                .expect("app stops cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("request sent")
    }

    pub async fn get_fresh(&self, path: &str, min_position: u64) -> reqwest::Response {
        self.http.get(self.url(path)).header("X-Min-Position", min_position).send().await.expect("request sent")
    }

    /// Writes a profile row as the projector would; returns its id.
    pub async fn seed_profile(&self, handle: &str, last_position: i64) -> Uuid {
        self.seed_profile_with(Uuid::now_v7(), handle, last_position, json!([])).await
    }

    pub async fn seed_profile_with(&self, id: Uuid, handle: &str, last_position: i64, sites: Value) -> Uuid {
        self.db
            .execute(
                "INSERT INTO profile_view_v1 (id, handle, display_name, email, bio, avatar_url, attributes, sites,
                                              version, create_time, update_time, last_position)
                 VALUES ($1, $2, $3, $4, 'Analyst', 'https://example.com/a.png', $5, $6, 2,
                         '2025-01-02T03:04:05Z', '2025-01-03T03:04:05Z', $7)",
                &[
                    &id,
                    &handle,
                    &format!("Display {handle}"),
                    &format!("{handle}@example.com"),
                    &json!({"team": "engines", "lang": "en"}),
                    &sites,
                    &last_position,
                ],
            )
            .await
            .expect("profile row inserted");
        id
    }

    pub async fn seed_site(&self, owner: Uuid, domain: &str) -> Uuid {
        let id = Uuid::now_v7();
        self.db
            .execute(
                "INSERT INTO site_view_v1 (id, domain, name, time_zone, owner_profile_id, version, create_time,
                                           update_time, last_position)
                 VALUES ($1, $2, $3, 'Europe/Paris', $4, 1, '2025-02-01T00:00:00Z', '2025-02-01T00:00:00Z', 9)",
                &[&id, &domain, &format!("Site {domain}"), &owner],
            )
            .await
            .expect("site row inserted");
        id
    }

    /// Writes a read key of `site` as the projector would (the SHA-256 of the secret, never the
    /// secret) and returns the `Authorization` value that presents it.
    pub async fn seed_key(&self, site: Uuid, key_id: &str, revoked: bool) -> String {
        use sha2::Digest as _;
        let secret = secret_for(key_id);
        let hash = sha2::Sha256::digest(secret.as_bytes()).to_vec();
        self.db
            .execute(
                "INSERT INTO site_read_keys_v1 (site_id, key_id, key_hash, label, revoked, last_position)
                 VALUES ($1, $2, $3, 'test', $4, 9)",
                &[&site, &key_id, &hash, &revoked],
            )
            .await
            .expect("read key row inserted");
        format!("Bearer {key_id}.{secret}")
    }

    /// A GET with `Authorization: <authorization>`.
    pub async fn get_with_key(&self, path: &str, authorization: &str) -> reqwest::Response {
        self.http.get(self.url(path)).header("Authorization", authorization).send().await.expect("request sent")
    }

    /// Sets the projector's position on one partition (single-node mode uses
    /// `$all`/0; several partitions model Kafka).
    pub async fn set_position(&self, partition: i32, position: i64) {
        self.db
            .execute(
                "INSERT INTO projector_offsets (consumer, topic, partition, next_offset, position)
                 VALUES ($1, 'tally.profile.v1', $2, $3, $3)
                 ON CONFLICT (consumer, topic, partition) DO UPDATE SET position = EXCLUDED.position",
                &[&CONSUMER, &partition, &position],
            )
            .await
            .expect("offsets row written");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A well-formed secret (43 base64url characters) that differs per key id.
pub fn secret_for(key_id: &str) -> String {
    let mut secret: String = format!("s3cr3t_{key_id}-").chars().cycle().take(43).collect();
    secret.truncate(43);
    secret
}
