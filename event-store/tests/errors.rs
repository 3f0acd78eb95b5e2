//! Which store failures are "unavailable" (worth a retry, 503) and which are ours (500), from
//! real failures: a refused connection, a terminated backend, a refused statement; and that
//! what the logs say of them names the reason.

use tally_event_store::StoreError;
use tally_platform::causes::Causes;
use tokio_postgres::NoTls;

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = tokio_postgres::connect(&format!("host=127.0.0.1 port={port} user=x dbname=x connect_timeout=2"), NoTls)
        .await
        .err()
        .expect("nothing listens there");
    let e = StoreError::Database(e);
    assert!(e.is_unavailable());
    let logged = Causes(&e).to_string();
    assert!(logged.contains("Connection refused"), "the log line hides the reason: {logged}");
}

#[tokio::test]
async fn a_terminated_backend_is_unavailable_and_a_refused_statement_is_not() {
    let (_cluster, url) = tally_devstack::fresh_database().await.unwrap();
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    let conn = tokio::spawn(conn);

    let bad = client.simple_query("SELEC 1").await.unwrap_err();
    // The driver's own text is just "db error"; the SQLSTATE's message is in its source.
    let logged = Causes(&StoreError::Database(bad)).to_string();
    assert!(logged.contains("syntax error at or near \"SELEC\""), "the log line hides the reason: {logged}");
    let bad = client.simple_query("SELEC 1").await.unwrap_err();
    assert!(!StoreError::Database(bad).is_unavailable(), "a syntax error is the statement's fault");
    let row = client.query_one("SELECT 'text'::text", &[]).await.unwrap();
    let undecodable = row.try_get::<_, i64>(0).unwrap_err();
    assert!(!StoreError::Database(undecodable).is_unavailable(), "a row that does not decode is ours");

    // What a restart or failover of the server does to an open connection.
    let err = client.simple_query("SELECT pg_terminate_backend(pg_backend_pid())").await.unwrap_err();
    assert!(StoreError::Database(err).is_unavailable(), "terminated by the server");
    let _ = conn.await;
    let after = client.simple_query("SELECT 1").await.unwrap_err();
    assert!(after.is_closed());
    assert!(StoreError::Database(after).is_unavailable(), "the connection is gone");
}

#[test]
fn a_pool_that_cannot_hand_out_a_connection_is_unavailable_and_bad_metadata_is_not() {
    let timeout = deadpool_postgres::PoolError::Timeout(deadpool_postgres::TimeoutType::Wait);
    assert!(StoreError::Pool(timeout).is_unavailable());
    let json = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
    assert!(!StoreError::Metadata(json).is_unavailable());
}
