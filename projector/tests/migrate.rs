//! The read-model schema applies to a fresh database, twice without effect.

use std::str::FromStr;

use tokio_postgres::NoTls;

#[tokio::test]
async fn migrations_apply_once_and_create_the_read_model() {
    let (_cluster, url) = tally_devstack::fresh_database().await.unwrap();
    let config = tokio_postgres::Config::from_str(&url).unwrap();
    assert_eq!(
        tally_projector::migrate::run(&config).await.unwrap(),
        8,
        "V1 read model, V2 analytics, V3 entries, V4 spans, V5 packed visitor-days, V6 read keys, \
         V7 hours into days, V8 open days"
    );
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
        "site_read_keys",
        "site_read_keys_v1",
        "analytics_open",
        "analytics_open_v1",
    ] {
        client.query_one(&format!("SELECT count(*) FROM {relation}"), &[]).await.unwrap();
    }
}

/// A database migrated by an older release refuses a binary whose copy of an applied migration
/// differs (refinery compares checksums), so every released migration must keep its exact
/// text, V1 to V6 included, though they are built from the templates every rebuild also uses.
/// Changing a template means a new migration, as V3 did for `entries` and V4 for the spans.
#[test]
fn released_migrations_keep_their_text() {
    let mut released: Vec<(u32, u64)> =
        tally_projector::migrate::checksums().into_iter().filter(|m| m.0 <= 8).map(|(v, _, sum)| (v, sum)).collect();
    released.sort_unstable();
    assert_eq!(
        released,
        vec![
            (1, V1_CHECKSUM),
            (2, V2_CHECKSUM),
            (3, V3_CHECKSUM),
            (4, V4_CHECKSUM),
            (5, V5_CHECKSUM),
            (6, V6_CHECKSUM),
            (7, V7_CHECKSUM),
            (8, V8_CHECKSUM)
        ]
    );
}

const V1_CHECKSUM: u64 = 7_093_306_384_948_246_805;
const V2_CHECKSUM: u64 = 2_308_099_346_536_276_801;
const V3_CHECKSUM: u64 = 8_338_590_236_501_510_304;
const V4_CHECKSUM: u64 = 5_046_210_906_813_880_884;
const V5_CHECKSUM: u64 = 6_978_609_763_217_641_256;
const V6_CHECKSUM: u64 = 6_187_065_899_375_128_670;
const V7_CHECKSUM: u64 = 15_273_458_396_708_766_507;
const V8_CHECKSUM: u64 = 14_691_925_715_904_211_296;

/// A fresh database migrated up to `version` only, as an older release left it, and a
/// connection to it.
async fn migrated_to(
    version: u32,
) -> (std::sync::Arc<tally_devstack::PgCluster>, tokio_postgres::Config, tokio_postgres::Client) {
    let (cluster, url) = tally_devstack::fresh_database().await.unwrap();
    let config = tokio_postgres::Config::from_str(&url).unwrap();
    assert_eq!(tally_projector::migrate::run_to(&config, Some(version)).await.unwrap(), version as usize);
    let (client, conn) = config.connect(NoTls).await.unwrap();
    tokio::spawn(conn);
    (cluster, config, client)
}

/// Rollup rows of `from` (a relation and what follows it: conditions, order) as
/// `dim|date|hour|value|[visitors, visits, pageviews, entries]`.
async fn rollup_rows(client: &tokio_postgres::Client, from: &str) -> Vec<String> {
    let sql = format!("SELECT dim, local_date::text, hour, value, visitors, visits, pageviews, entries FROM {from}");
    let rows = client.query(&sql, &[]).await.unwrap();
    rows.iter()
        .map(|r| {
            let (dim, date, hour, value): (String, String, i16, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
            let c: [i64; 4] = [r.get(4), r.get(5), r.get(6), r.get(7)];
            format!("{dim}|{date}|{hour}|{value}|{c:?}")
        })
        .collect()
}

/// A read model an older release filled (page and entry-page rows, no `entries`) gets the
/// column, filled from the entry-page rows, and the view shows it.
#[tokio::test]
async fn v3_fills_the_page_rows_entries_from_the_entry_page_rows() {
    let (_cluster, config, client) = migrated_to(2).await;
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

    assert_eq!(tally_projector::migrate::run_to(&config, Some(3)).await.unwrap(), 1, "V3");
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

/// Day rows an older release wrote get their week and month rows, summed per site, dimension
/// and value; the total rows get none, and a stale span row is recomputed, not added to.
#[tokio::test]
async fn v4_sums_each_dimensions_day_rows_into_week_and_month_rows() {
    let (_cluster, config, client) = migrated_to(3).await;
    // 2026-11-01 is a Sunday (week of Oct 26), 11-02 a Monday, 10-31 a Saturday.
    client
        .batch_execute(
            "INSERT INTO analytics_rollup_v1 (site_id, dim, local_date, hour, value, visitors, visits, pageviews, entries) VALUES
               ('00000000-0000-0000-0000-000000000001', 'page', '2026-10-31', -1, '/a', 1, 1, 1, 1),
               ('00000000-0000-0000-0000-000000000001', 'page', '2026-11-01', -1, '/a', 2, 2, 3, 0),
               ('00000000-0000-0000-0000-000000000001', 'page', '2026-11-02', -1, '/a', 4, 4, 5, 2),
               ('00000000-0000-0000-0000-000000000001', 'source', '2026-11-02', -1, 'Google', 8, 8, 8, 0),
               ('00000000-0000-0000-0000-000000000001', 'page', '2026-11-01', -3, '/a', 99, 99, 99, 99),
               ('00000000-0000-0000-0000-000000000001', '', '2026-11-02', 9, '', 5, 5, 5, 0);",
        )
        .await
        .unwrap();
    assert_eq!(tally_projector::migrate::run_to(&config, Some(4)).await.unwrap(), 1, "V4");
    let got = rollup_rows(&client, "analytics_rollup WHERE hour < -1 ORDER BY 1, 2, 3, 4").await;
    assert_eq!(
        got,
        [
            "page|2026-10-01|-3|/a|[1, 1, 1, 1]",
            "page|2026-10-26|-2|/a|[3, 3, 4, 1]",
            "page|2026-11-01|-3|/a|[6, 6, 8, 2]",
            "page|2026-11-02|-2|/a|[4, 4, 5, 2]",
            "source|2026-11-01|-3|Google|[8, 8, 8, 0]",
            "source|2026-11-02|-2|Google|[8, 8, 8, 0]",
        ]
    );
}

/// States an older release stored as jsonb read back, unchanged, after V5 made the column bytes
/// (in every stored version, not only the active one); the projector's own encoding, which it
/// writes from then on, reads too.
#[tokio::test]
async fn v5_keeps_every_stored_visitor_day_state_readable() {
    use tally_domain::sessions::{Dim, Seen, VisitorDay};
    use tally_projector::analytics::{schema::AnalyticsTables, state};

    let (_cluster, config, client) = migrated_to(4).await;
    // A second, inactive version, as a rebuild left it (created before the upgrade).
    let v2_ddl = AnalyticsTables::new(2).create_ddl();
    let v2_ddl = v2_ddl.split("ALTER TABLE analytics_visitor_days_v2").next().unwrap();
    client.batch_execute(v2_ddl).await.unwrap();
    let mut seen = Seen::default();
    seen.insert(Dim::Total, "");
    seen.insert(Dim::Page, "/docs");
    let stored = VisitorDay { session: None, seen };
    let json = serde_json::to_value(&stored).unwrap();
    for version in [1, 2] {
        client
            .execute(
                &format!(
                    "INSERT INTO analytics_visitor_days_v{version} (site_id, local_date, visitor_id, state, last_position) \
                     VALUES ('00000000-0000-0000-0000-000000000001', '2026-11-22', 'v', $1, 7)"
                ),
                &[&json],
            )
            .await
            .unwrap();
    }

    assert_eq!(tally_projector::migrate::run_to(&config, Some(5)).await.unwrap(), 1, "V5");
    for version in [1, 2] {
        let sql = format!("SELECT state FROM analytics_visitor_days_v{version}");
        let bytes: Vec<u8> = client.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(state::decode(&bytes).unwrap(), stored, "version {version}");
        let packed = state::encode(&stored);
        client.execute(&format!("UPDATE analytics_visitor_days_v{version} SET state = $1"), &[&packed]).await.unwrap();
        let bytes: Vec<u8> = client.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(state::decode(&bytes).unwrap(), stored, "version {version}, re-encoded");
    }
}

/// An installation an older release migrated, with a rebuilt and an older version, gets the
/// read keys' table in both, and the view on the active one; its existing rows are untouched.
#[tokio::test]
async fn v6_adds_the_read_keys_table_to_every_version_and_the_view_to_the_active_one() {
    use tally_projector::schema::VersionTables;

    let (_cluster, config, client) = migrated_to(5).await;
    // A rebuild an older release made: version 2 is active, version 1 kept.
    let v2 = VersionTables::new(2).create_ddl();
    let v2 = v2.split("CREATE TABLE site_read_keys_v2").next().unwrap();
    client.batch_execute(v2).await.unwrap();
    client
        .batch_execute(
            "UPDATE projections SET active_version = 2 WHERE name = 'profiles';
             CREATE OR REPLACE VIEW sites AS SELECT * FROM site_view_v2;
             INSERT INTO tombstones_v2 (id, last_position) VALUES ('00000000-0000-0000-0000-000000000009', 4);",
        )
        .await
        .unwrap();
    assert!(
        client
            .query_opt("SELECT to_regclass('site_read_keys')::text", &[])
            .await
            .unwrap()
            .unwrap()
            .get::<_, Option<String>>(0)
            .is_none()
    );

    assert_eq!(tally_projector::migrate::run_to(&config, Some(6)).await.unwrap(), 1, "V6");
    for version in [1, 2] {
        client
            .execute(
                &format!(
                    "INSERT INTO site_read_keys_v{version} (site_id, key_id, key_hash, label, last_position) \
                     VALUES ('00000000-0000-0000-0000-000000000001', 'k{version}', $1, 'l', 7)"
                ),
                &[&vec![0u8; 32]],
            )
            .await
            .unwrap();
    }
    let seen: Vec<(String, bool)> = client
        .query("SELECT key_id, revoked FROM site_read_keys", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(seen, vec![("k2".to_owned(), false)], "the view shows the active version; a new key is not revoked");
    assert_eq!(client.query_one("SELECT count(*) FROM tombstones_v2", &[]).await.unwrap().get::<_, i64>(0), 1);
}

/// A read model projected before dimension rows became daily holds them per hour, which
/// breakdowns and goal conversions (day, week and month rows only) no longer read. V7 folds
/// each day's hours into its day row (adding to one a newer projector already wrote), leaves
/// the total's hourly rows alone, and recomputes the week and month rows; in every version.
#[tokio::test]
async fn v7_folds_hourly_dimension_rows_into_day_rows_and_respreads_the_weeks_and_months() {
    use tally_projector::analytics::schema::AnalyticsTables;

    let (_cluster, config, client) = migrated_to(6).await;
    let v2_ddl = AnalyticsTables::new(2).create_ddl();
    client.batch_execute(&v2_ddl).await.unwrap();
    let site = "00000000-0000-0000-0000-000000000001";
    for version in [1, 2] {
        // 2026-11-19 and -20 are a Thursday and a Friday (week of Nov 16). Columns:
        // visitors, visits, pageviews, entries.
        client
            .batch_execute(&format!(
                "INSERT INTO analytics_rollup_v{version} (site_id, dim, local_date, hour, value, visitors, visits, pageviews, entries) VALUES
                   ('{site}', 'page', '2026-11-19', 8, '/a', 2, 2, 3, 1),
                   ('{site}', 'page', '2026-11-19', 15, '/a', 1, 1, 4, 1),
                   ('{site}', 'page', '2026-11-19', 15, '/b', 1, 1, 1, 0),
                   ('{site}', 'source', '2026-11-19', 8, 'Google', 3, 3, 7, 0),
                   ('{site}', 'page', '2026-11-20', 9, '/a', 1, 1, 1, 0),
                   ('{site}', 'page', '2026-11-20', -1, '/a', 5, 5, 6, 2),
                   ('{site}', 'page', '2026-11-16', -2, '/a', 5, 5, 6, 2),
                   ('{site}', 'page', '2026-11-01', -3, '/a', 5, 5, 6, 2),
                   ('{site}', '', '2026-11-19', 8, '', 4, 4, 10, 0);"
            ))
            .await
            .unwrap();
    }

    assert_eq!(tally_projector::migrate::run_to(&config, Some(7)).await.unwrap(), 1, "V7");
    for version in [1, 2] {
        let got = rollup_rows(&client, &format!("analytics_rollup_v{version} ORDER BY 1, 3 DESC, 2, 4")).await;
        assert_eq!(
            got,
            [
                "|2026-11-19|8||[4, 4, 10, 0]",
                "page|2026-11-19|-1|/a|[3, 3, 7, 2]",
                "page|2026-11-19|-1|/b|[1, 1, 1, 0]",
                "page|2026-11-20|-1|/a|[6, 6, 7, 2]",
                "page|2026-11-16|-2|/a|[9, 9, 14, 4]",
                "page|2026-11-16|-2|/b|[1, 1, 1, 0]",
                "page|2026-11-01|-3|/a|[9, 9, 14, 4]",
                "page|2026-11-01|-3|/b|[1, 1, 1, 0]",
                "source|2026-11-19|-1|Google|[3, 3, 7, 0]",
                "source|2026-11-16|-2|Google|[3, 3, 7, 0]",
                "source|2026-11-01|-3|Google|[3, 3, 7, 0]",
            ],
            "version {version}"
        );
    }
    assert_eq!(tally_projector::migrate::run_to(&config, Some(7)).await.unwrap(), 0, "V7 is applied once");
}

/// An installation an older release migrated, with a rebuilt and an older analytics version,
/// gets an empty open-days table in both (every day stays in its spans until the projector
/// first closes days) and the view on the active one.
#[tokio::test]
async fn v8_adds_an_empty_open_days_table_to_every_version_and_the_view_to_the_active_one() {
    use tally_projector::analytics::schema::AnalyticsTables;

    let (_cluster, config, client) = migrated_to(7).await;
    let v2 = AnalyticsTables::new(2).create_ddl();
    client.batch_execute(v2.split("CREATE TABLE analytics_open_v2").next().unwrap()).await.unwrap();
    client
        .batch_execute(
            "UPDATE projections SET active_version = 2 WHERE name = 'analytics';
             CREATE OR REPLACE VIEW analytics_rollup AS SELECT * FROM analytics_rollup_v2;",
        )
        .await
        .unwrap();

    assert_eq!(tally_projector::migrate::run_to(&config, Some(8)).await.unwrap(), 1, "V8");
    for version in [1, 2] {
        let rows: i64 =
            client.query_one(&format!("SELECT count(*) FROM analytics_open_v{version}"), &[]).await.unwrap().get(0);
        assert_eq!(rows, 0, "version {version} starts with no open days");
        client
            .execute(
                &format!(
                    "INSERT INTO analytics_open_v{version} (site_id, open_from) \
                     VALUES ('00000000-0000-0000-0000-000000000001', '2026-11-0{version}')"
                ),
                &[],
            )
            .await
            .unwrap();
    }
    let seen: String = client.query_one("SELECT open_from::text FROM analytics_open", &[]).await.unwrap().get(0);
    assert_eq!(seen, "2026-11-02", "the view shows the active version");
    assert_eq!(tally_projector::migrate::run(&config).await.unwrap(), 0, "V8 is the last; nothing left");
}
