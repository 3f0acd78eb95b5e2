//! Open days: live batches write a site's open days without their weeks and
//! months, and closing rounds add them once the days are over. Rounds that run
//! while partitions apply concurrently leave, once every day is closed, exactly
//! the rows a rebuild writes (every day straight into its spans).

mod support;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, NaiveDate, Utc};
use support::{
    Harness,
    visits::{self, snapshot},
};
use tally_projector::{
    analytics::closing::{self, Closed},
    batch::Applier,
};

/// Local time in Paris (UTC+2 in May) as an instant.
fn paris(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{local}+02:00")).unwrap().to_utc()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The site's pageviews in its page rows: of the days `first..=last`, and of its month rows.
async fn pageviews(h: &Harness, first: &str, last: &str) -> (i64, i64) {
    let days: i64 = h
        .query_one(&format!(
            "SELECT COALESCE(sum(pageviews), 0)::int8 FROM analytics_rollup WHERE dim = 'page' AND hour = -1 \
             AND local_date BETWEEN '{first}' AND '{last}'"
        ))
        .await;
    let months: i64 = h
        .query_one("SELECT COALESCE(sum(pageviews), 0)::int8 FROM analytics_rollup WHERE dim = 'page' AND hour = -3")
        .await;
    (days, months)
}

async fn open_from(h: &Harness) -> Option<NaiveDate> {
    h.query_one("SELECT max(open_from) FROM analytics_open").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_closed_while_partitions_apply_equal_a_rebuild() {
    let mut h = Harness::new().await;
    let owner = h.create_profile("owner").await;
    let site = h.register_site(owner, "shop.example").await;
    let applier = Arc::new(Applier::new(h.read.clone(), "tally-projector"));
    for p in visits::partitions(&h).await {
        applier.apply(&p).await.unwrap();
    }

    // Before its first event the site's days are open from its "today".
    let first = closing::close(&h.read, paris("2026-05-04T00:10:00")).await.unwrap();
    assert_eq!(first, Closed { opened: 1, sites: 0, days: 0 });
    assert_eq!(open_from(&h).await, Some(date("2026-05-04")));
    assert_eq!(closing::close(&h.read, paris("2026-05-04T23:59:00")).await.unwrap(), Closed::default());

    visits::append(&mut h, site, 3, 11).await;
    let partitions = visits::partitions(&h).await;
    // While the partitions apply, the 4th and then the 5th close, so batches write both
    // sides of a round.
    let read = h.read.clone();
    let rounds = tokio::spawn(async move {
        let mut closed = Vec::new();
        for as_of in ["2026-05-05T00:10:00", "2026-05-05T00:10:00", "2026-05-06T00:10:00"] {
            tokio::time::sleep(Duration::from_millis(40)).await;
            closed.push(closing::close(&read, paris(as_of)).await.unwrap());
        }
        closed
    });
    visits::apply_concurrently(&applier, partitions, Duration::from_millis(2), false).await;
    let closed = rounds.await.unwrap();
    assert_eq!(closed.iter().map(|c| c.days).sum::<i64>(), 2, "{closed:?}");
    assert_eq!(open_from(&h).await, Some(date("2026-05-06")));

    // From the 6th on the days are open (late visits run past midnight into the 7th): their
    // rows are in no month yet, the closed days' all are.
    let (closed_days, months) = pageviews(&h, "2026-05-04", "2026-05-05").await;
    let (open_days, _) = pageviews(&h, "2026-05-06", "2026-05-07").await;
    assert!(closed_days > 0 && open_days > 0, "{closed_days} {open_days}");
    assert_eq!(months, closed_days);
    let round = closing::close(&h.read, paris("2026-05-08T00:10:00")).await.unwrap();
    assert_eq!(round, Closed { opened: 0, sites: 1, days: 2 });
    assert_eq!(pageviews(&h, "2026-05-04", "2026-05-07").await.1, closed_days + open_days);

    let live = snapshot(&h, 1).await;
    let rebuilt = visits::rebuilt(&h).await;
    for (i, name) in ["rollup", "sessions", "events", "visitor_days"].iter().enumerate() {
        assert_eq!(rebuilt[i], live[i], "{name} differ between the live run with closing rounds and the rebuild");
    }
    // The rebuilt version has every day in its spans, so no open days until a round gives it.
    assert_eq!(open_from(&h).await, None);
}

/// A site that already has rows when it first gets open days (one projected before closing
/// ran, or before an upgrade): its rows from its today on leave their spans, and come back as
/// their days close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_site_with_rows_takes_its_open_days_out_of_their_spans() {
    let mut h = Harness::new().await;
    let owner = h.create_profile("owner").await;
    let site = h.register_site(owner, "shop.example").await;
    visits::append(&mut h, site, 3, 5).await;
    let applier = Applier::new(h.read.clone(), "tally-projector");
    for p in visits::partitions(&h).await {
        for batch in p.chunks(9) {
            applier.apply(batch).await.unwrap();
        }
    }
    let (all, months) = pageviews(&h, "2026-05-04", "2026-05-07").await;
    assert_eq!(months, all, "no open days yet: every day is in its month");

    let round = closing::close(&h.read, paris("2026-05-05T00:10:00")).await.unwrap();
    assert_eq!(round, Closed { opened: 1, sites: 0, days: 0 });
    assert_eq!(open_from(&h).await, Some(date("2026-05-05")));
    let (before, months) = pageviews(&h, "2026-05-04", "2026-05-04").await;
    assert!(0 < before && before < all, "{before} of {all}");
    assert_eq!(months, before, "only the 4th is left in its month");

    let round = closing::close(&h.read, paris("2026-05-08T00:10:00")).await.unwrap();
    assert_eq!(round, Closed { opened: 0, sites: 1, days: 3 });
    assert_eq!(pageviews(&h, "2026-05-04", "2026-05-07").await.1, all);
    let live = snapshot(&h, 1).await;
    assert_eq!(visits::rebuilt(&h).await, live, "the rows equal a rebuild's");
}
