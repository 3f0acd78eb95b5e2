//! The read-model schema applies to a fresh database, twice without effect.

use std::str::FromStr;

use tokio_postgres::NoTls;

#[tokio::test]
async fn migrations_apply_once_and_create_the_read_model() {
    let (_cluster, url) = tally_devstack::fresh_database().await.unwrap();
    let config = tokio_postgres::Config::from_str(&url).unwrap();
    assert_eq!(tally_projector::migrate::run(&config).await.unwrap(), 1);
    assert_eq!(tally_projector::migrate::run(&config).await.unwrap(), 0, "a second run applies nothing");

    let (client, conn) = config.connect(NoTls).await.unwrap();
    tokio::spawn(conn);
    let active: i32 =
        client.query_one("SELECT active_version FROM projections WHERE name = 'profiles'", &[]).await.unwrap().get(0);
    assert_eq!(active, 1);
    for relation in ["profiles", "sites", "projector_offsets", "dead_letters", "profile_view_v1", "site_view_v1"] {
        client.query_one(&format!("SELECT count(*) FROM {relation}"), &[]).await.unwrap();
    }
}
