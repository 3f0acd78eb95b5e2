//! The read-model schema applies to a fresh database, twice without effect.

use std::str::FromStr;

use tokio_postgres::NoTls;

#[tokio::test]
async fn migrations_apply_once_and_create_the_read_model() {
    let (_cluster, url) = tally_devstack::fresh_database().await.unwrap();
    let config = tokio_postgres::Config::from_str(&url).unwrap();
    assert_eq!(tally_projector::migrate::run(&config).await.unwrap(), 2, "V1 read model + V2 analytics");
    assert_eq!(tally_projector::migrate::run(&config).await.unwrap(), 0, "a second run applies nothing");

    let (client, conn) = config.connect(NoTls).await.unwrap();
    tokio::spawn(conn);
    let active: i32 =
        client.query_one("SELECT active_version FROM projections WHERE name = 'profiles'", &[]).await.unwrap().get(0);
    assert_eq!(active, 1);
    let analytics: i32 =
        client.query_one("SELECT active_version FROM projections WHERE name = 'analytics'", &[]).await.unwrap().get(0);
    assert_eq!(analytics, 1);
    for relation in [
        "profiles",
        "sites",
        "projector_offsets",
        "dead_letters",
        "profile_view_v1",
        "site_view_v1",
        "analytics_rollup",
        "analytics_sessions",
        "analytics_events",
        "analytics_visitor_days_v1",
    ] {
        client.query_one(&format!("SELECT count(*) FROM {relation}"), &[]).await.unwrap();
    }
}
