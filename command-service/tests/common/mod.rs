//! An in-process command-service on a fresh database of a real, throw-away
//! Postgres cluster (zero2prod style): the real `App::build`, real sockets.
#![allow(dead_code)]

use std::{net::SocketAddr, time::Duration};

use serde_json::Value;
use tally_command_service::{App, Settings};
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
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
    s
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let (_cluster, db_url) = tally_devstack::fresh_database().await.expect("throw-away Postgres");
        Self::spawn_on(&db_url).await
    }

    /// A second "pod" on the same database.
    pub async fn spawn_on(db_url: &str) -> TestApp {
        Self::spawn_with(settings(db_url)).await
    }

    pub async fn spawn_with(settings: Settings) -> TestApp {
        let db_url = tally_platform_url(&settings);
        let app = App::build(settings).await.expect("app builds");
        let addr = app.local_addr();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move { app.run_until_stopped(token).await.expect("app runs") });
        TestApp {
            addr,
            base: format!("http://{addr}"),
            db_url,
            http: reqwest::Client::new(),
            shutdown,
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("app stops cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    pub async fn create_profile(&self, handle: &str) -> Value {
        let resp = self
            .post_json(
                "/v1/profiles",
                &serde_json::json!({"handle": handle, "display_name": handle, "email": format!("{handle}@example.com")}),
            )
            .await;
        assert_eq!(resp.status(), 201, "creating {handle}");
        resp.json().await.unwrap()
    }

    /// Rows in the event store: the ground truth for "nothing was appended".
    pub async fn event_count(&self) -> i64 {
        let (client, conn) = tokio_postgres::connect(&self.db_url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0)
    }
}

fn tally_platform_url(settings: &Settings) -> String {
    settings.database.expose_url().to_owned()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
