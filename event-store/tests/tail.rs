//! Tailing the global order live: woken by NOTIFY, not by a timer.

use std::time::{Duration, Instant};

use tally_event_store::{
    AppendRequest, Appender, AppenderConfig, EventMetadata, ExpectedVersion, NewEvent, migrate, reader,
    tail::{Listener, Tailer},
};
use tokio_util::sync::CancellationToken;

fn request(stream: &str) -> AppendRequest {
    AppendRequest {
        stream_id: stream.into(),
        category: "profile".into(),
        expected: ExpectedVersion::NoStream,
        events: vec![NewEvent {
            event_id: uuid::Uuid::now_v7(),
            event_type: "test.Event".into(),
            schema_version: 1,
            payload: b"x".to_vec(),
            metadata: EventMetadata::default(),
        }],
        claims: vec![],
        command_id: None,
        fingerprint: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caught_up_tailer_wakes_on_commit_within_milliseconds() {
    let (_cluster, url) = tally_devstack::fresh_database().await.unwrap();
    let config: tokio_postgres::Config = url.parse().unwrap();
    migrate::run(&config).await.unwrap();
    let pool = deadpool_postgres::Pool::builder(deadpool_postgres::Manager::new(config.clone(), tokio_postgres::NoTls))
        .max_size(4)
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let listener = Listener::spawn(config, shutdown.clone());
    let (appender, _task) = Appender::spawn(pool.clone(), AppenderConfig::default());
    let mut tailer = Tailer::new(pool.clone(), listener, 0, reader::Filter::default(), 100);

    appender.append(request("profile-a")).await.unwrap();
    assert_eq!(tailer.next().await.unwrap().len(), 1, "catch-up read");

    for round in 0..5 {
        // Let the tailer go to sleep, then commit and time the wake-up.
        let waiting = tokio::spawn(async move {
            let events = tailer.next().await.unwrap();
            (tailer, events, Instant::now())
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let committed = Instant::now();
        appender.append(request(&format!("profile-{round}"))).await.unwrap();
        let (t, events, woke) = waiting.await.unwrap();
        tailer = t;
        assert_eq!(events.len(), 1);
        let latency = woke.duration_since(committed);
        // The safety recheck is 5 s; anything near it means NOTIFY did not wake us.
        assert!(latency < Duration::from_secs(1), "round {round}: woke after {latency:?}");
    }
    assert_eq!(tailer.position(), 6);
    shutdown.cancel();
}
