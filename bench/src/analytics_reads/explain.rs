//! The plan behind the page breakdown's latency: `EXPLAIN (ANALYZE, BUFFERS)` of the
//! query-service's own statement, on the read DB, for the big site's range — the profile
//! `docs/benchmarks.md` quotes when the goal is missed.

use tokio_postgres::Client;

use super::{Range, store};

/// Explains the statement's first execution, which Postgres plans for the actual values — as
/// for the query-service, which prepares its statistics statements afresh every time.
/// Its parameters are the query-service's for the benchmark's request: the default order
/// (visitors), and one row more than `limit` (which says whether there is a next page).
pub async fn breakdown(db: &Client, range: &Range, limit: u32) -> anyhow::Result<String> {
    use tally_query_service::stats::{Dimension, Order, Pick, rollup_breakdown};
    db.batch_execute(&format!(
        "PREPARE tally_breakdown(uuid, int2[], date[], int8[], text, text, int8) AS {}",
        rollup_breakdown(Pick::Top(Order::Visitors))
    ))
    .await?;
    let open_from = store::open_from(db, store::site_id(0)).await?;
    let (codes, starts, signs) = tally_query_service::stats::spans(range.first, range.last, open_from);
    let array = |items: Vec<String>| format!("'{{{}}}'", items.join(","));
    let args = format!(
        "'{}', {}, {}, {}, 'page', '{}', {}",
        store::site_id(0),
        array(codes.iter().map(i16::to_string).collect()),
        array(starts.iter().map(|d| d.to_string()).collect()),
        array(signs.iter().map(i64::to_string).collect()),
        Dimension::Page.empty_label(),
        u64::from(limit) + 1,
    );
    let rows = db.query(&format!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE tally_breakdown({args})"), &[]).await?;
    db.batch_execute("DEALLOCATE tally_breakdown").await?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n"))
}
