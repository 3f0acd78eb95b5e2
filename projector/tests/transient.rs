//! Which read-DB failures the projector retries (the whole batch, never a dead letter) and
//! which it does not, from real server errors.

use tokio_postgres::NoTls;

/// The error of a statement that raises `sqlstate`.
async fn raised(client: &tokio_postgres::Client, sqlstate: &str) -> tokio_postgres::Error {
    let sql = format!("DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '{sqlstate}'; END $$");
    client.batch_execute(&sql).await.unwrap_err()
}

#[tokio::test]
async fn lost_connections_and_rollbacks_are_transient_and_bad_statements_or_rows_are_not() {
    let (_cluster, url) = tally_devstack::fresh_database().await.unwrap();
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(conn);

    for code in ["40001", "40P01", "53200", "57014", "55P03", "08006", "57P01"] {
        assert!(tally_projector::is_transient(&raised(&client, code).await), "{code}");
    }
    for code in ["23505", "22012", "42P01"] {
        assert!(!tally_projector::is_transient(&raised(&client, code).await), "{code}");
    }
    let row = client.query_one("SELECT 'text'::text", &[]).await.unwrap();
    let undecodable = row.try_get::<_, i64>(0).unwrap_err();
    assert!(!tally_projector::is_transient(&undecodable), "a row that does not decode fails again");
}
