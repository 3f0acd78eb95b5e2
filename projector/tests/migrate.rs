//! The read-model schema applies to a fresh database, twice without effect.

use std::str::FromStr;

use tokio_postgres::NoTls;

#[tokio::test]
async fn migrations_apply_once_and_create_the_read_model() {
    let (_cluster, url) = tally_devstack::fresh_database().await.unwrap();
    let config = tokio_postgres::Config::from_str(&url).unwrap();
    assert_eq!(tally_projector::migrate::run(&config).await.unwrap(), 3, "V1 read model, V2 analytics, V3 entries");
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

/// A database migrated by an older release refuses a binary whose copy of an applied migration
/// differs (refinery compares checksums), so V1 and V2 — built from the version templates that
/// every rebuild also uses — must keep their exact text. Changing a template means a new
/// migration, as V3 did for `entries`.
#[test]
fn released_migrations_keep_their_text() {
    let released: Vec<(u32, u64)> =
        tally_projector::migrate::checksums().into_iter().filter(|m| m.0 <= 2).map(|(v, _, sum)| (v, sum)).collect();
    assert_eq!(released, vec![(1, V1_CHECKSUM), (2, V2_CHECKSUM)]);
}

const V1_CHECKSUM: u64 = 7_093_306_384_948_246_805;
const V2_CHECKSUM: u64 = 2_308_099_346_536_276_801;

/// A read model an older release filled (page and entry-page rows, no `entries`) gets the
/// column, filled from the entry-page rows, and the view shows it.
#[tokio::test]
async fn v3_fills_the_page_rows_entries_from_the_entry_page_rows() {
    let (_cluster, url) = tally_devstack::fresh_database().await.unwrap();
    let config = tokio_postgres::Config::from_str(&url).unwrap();
    assert_eq!(tally_projector::migrate::run_to(&config, Some(2)).await.unwrap(), 2);
    let (client, conn) = config.connect(NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(
            "INSERT INTO analytics_rollup_v1 (site_id, dim, local_date, hour, value, visitors, visits, pageviews) VALUES
               ('00000000-0000-0000-0000-000000000001', 'page', '2026-11-01', -1, '/a', 5, 4, 9),
               ('00000000-0000-0000-0000-000000000001', 'page', '2026-11-01', -1, '/b', 2, 2, 2),
               ('00000000-0000-0000-0000-000000000001', 'page', '2026-11-02', -1, '/a', 1, 1, 1),
               ('00000000-0000-0000-0000-000000000001', 'entry_page', '2026-11-01', -1, '/a', 3, 3, 0),
               ('00000000-0000-0000-0000-000000000001', 'entry_page', '2026-11-01', -1, '/b', 1, 1, 0),
               ('00000000-0000-0000-0000-000000000002', 'entry_page', '2026-11-01', -1, '/a', 7, 7, 0),
               ('00000000-0000-0000-0000-000000000002', 'page', '2026-11-01', -1, '/a', 7, 7, 7);",
        )
        .await
        .unwrap();

    assert_eq!(tally_projector::migrate::run(&config).await.unwrap(), 1, "V3");
    let rows = client
        .query(
            "SELECT site_id::text, local_date::text, value, entries, visits FROM analytics_rollup
             WHERE dim = 'page' ORDER BY 1, 2, 3",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, String, String, i64, i64)> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect();
    let site = |n: u8| format!("00000000-0000-0000-0000-00000000000{n}");
    let row =
        |s: u8, d: &str, v: &str, entries: i64, visits: i64| (site(s), d.to_owned(), v.to_owned(), entries, visits);
    assert_eq!(
        got,
        vec![
            row(1, "2026-11-01", "/a", 3, 4),
            row(1, "2026-11-01", "/b", 1, 2),
            row(1, "2026-11-02", "/a", 0, 1),
            row(2, "2026-11-01", "/a", 7, 7),
        ],
        "each page row's entries are its own day's and site's entry visits; the other counters are untouched"
    );
}
