//! The analytics projection's DDL, one template for migration V2 and every
//! rebuild (like the profiles projection's).

/// The name of the analytics projection in `projections`.
pub const ANALYTICS: &str = "analytics";

use tally_domain::sessions::Span;

use super::store::COUNTERS;

const TEMPLATE: &str = include_str!("../../sql/analytics.sql");
const ENTRIES: &str = include_str!("../../sql/analytics_entries.sql");
const PACKED_DAYS: &str = include_str!("../../sql/analytics_packed_days.sql");
const OPEN: &str = include_str!("../../sql/analytics_open.sql");

/// The tables of one version of the analytics projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsTables {
    pub version: i32,
    pub rollup: String,
    pub visitor_days: String,
    pub sessions: String,
    pub events: String,
    /// Each site's first open day (`analytics_open.sql`).
    pub open: String,
}

impl AnalyticsTables {
    pub fn new(version: i32) -> Self {
        AnalyticsTables {
            version,
            rollup: format!("analytics_rollup_v{version}"),
            visitor_days: format!("analytics_visitor_days_v{version}"),
            sessions: format!("analytics_sessions_v{version}"),
            events: format!("analytics_events_v{version}"),
            open: format!("analytics_open_v{version}"),
        }
    }

    pub fn create_ddl(&self) -> String {
        let v = self.version.to_string();
        format!(
            "{}\n{}\n{}\n{}",
            self.v2_ddl(),
            self.entries_ddl(),
            PACKED_DAYS.replace("{V}", &v),
            OPEN.replace("{V}", &v)
        )
    }

    /// The version as migration V2 created it (its text must never change).
    fn v2_ddl(&self) -> String {
        TEMPLATE.replace("{V}", &self.version.to_string())
    }

    fn entries_ddl(&self) -> String {
        ENTRIES.replace("{V}", &self.version.to_string())
    }

    /// The rebuild's split of [`Self::create_ddl`]: the tables (primary keys inline: the fill
    /// looks rows up and merges by them), and the secondary indexes, built once the rows are
    /// in. Unlike profiles' the tables are not `UNLOGGED` while they fill: `SET LOGGED`
    /// rewrites a table and its indexes, which for these (a row per event, a jsonb state per
    /// visitor-day) cost more than the WAL of the `COPY`s it saves (docs/benchmarks.md).
    pub fn rebuild_ddl(&self) -> (String, String) {
        let (mut tables, mut indexes) = (String::new(), String::new());
        for line in self.create_ddl().lines() {
            let into = if line.starts_with("CREATE INDEX ") { &mut indexes } else { &mut tables };
            into.push_str(line);
            into.push('\n');
        }
        (tables, indexes)
    }

    /// The views the query-service reads.
    pub fn point_views_ddl(&self) -> String {
        format!("{}\nCREATE OR REPLACE VIEW analytics_open AS SELECT * FROM {};", self.v2_views_ddl(), self.open)
    }

    /// The views as migration V2 created them (its text must never change).
    fn v2_views_ddl(&self) -> String {
        format!(
            "CREATE OR REPLACE VIEW analytics_rollup AS SELECT * FROM {};\n\
             CREATE OR REPLACE VIEW analytics_sessions AS SELECT * FROM {};\n\
             CREATE OR REPLACE VIEW analytics_events AS SELECT * FROM {};",
            self.rollup, self.sessions, self.events
        )
    }

    pub fn drop_ddl(&self) -> String {
        format!(
            "DROP TABLE IF EXISTS {}, {}, {}, {}, {};",
            self.rollup, self.visitor_days, self.sessions, self.events, self.open
        )
    }
}

/// Migration V2: version 1 of the analytics projection and its views.
pub fn initial() -> String {
    let v1 = AnalyticsTables::new(1);
    format!(
        "{}\n{}\nINSERT INTO projections (name, active_version) VALUES ('{ANALYTICS}', 1);\n",
        v1.v2_ddl(),
        v1.v2_views_ddl()
    )
}

/// Migration V3: `entries` on the active version's page rows, filled from its
/// entry-page rows (the visits that started in the same day and value), and
/// the view re-pointed so it shows the column. A projector of an older release
/// still running during a rolling upgrade would leave `entries` out of the
/// rows it writes; `projector rebuild analytics` re-derives them.
pub fn entries_migration() -> String {
    format!(
        "DO $migration$ \
         DECLARE v int; \
         BEGIN \
           SELECT active_version INTO v FROM projections WHERE name = '{ANALYTICS}'; \
           EXECUTE replace($ddl${entries}$ddl$, '{{V}}', v::text); \
           EXECUTE format('INSERT INTO analytics_rollup_v%1$s (site_id, dim, local_date, hour, value, entries) \
                           SELECT site_id, ''page'', local_date, hour, value, visits FROM analytics_rollup_v%1$s \
                           WHERE dim = ''entry_page'' AND visits <> 0 \
                           ON CONFLICT (site_id, dim, local_date, hour, value) \
                           DO UPDATE SET entries = EXCLUDED.entries', v); \
           EXECUTE format('CREATE OR REPLACE VIEW analytics_rollup AS SELECT * FROM analytics_rollup_v%s', v); \
         END $migration$;",
        entries = ENTRIES.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join(" ")
    )
}

/// Migration V5: every stored version's visitor-day states become bytes (their JSON text,
/// which the projector reads as well as its own encoding; `analytics_packed_days.sql`).
/// Every version, not only the active one: a rebuild in progress or an older version an
/// operator kept must not be left with a column the projector no longer writes.
pub fn packed_days_migration() -> String {
    format!(
        "DO $migration$ \
         DECLARE v int; \
         BEGIN \
           FOR v IN SELECT substring(c.relname FROM '^analytics_visitor_days_v([0-9]+)$')::int \
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                    WHERE n.nspname = current_schema() AND c.relkind = 'r' \
                      AND c.relname ~ '^analytics_visitor_days_v[0-9]+$' LOOP \
             EXECUTE replace($ddl${packed}$ddl$, '{{V}}', v::text); \
           END LOOP; \
         END $migration$;",
        packed = PACKED_DAYS.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join(" ")
    )
}

/// The week and month rows of a rollup table recomputed from its day rows (dimensions other
/// than the total), as `site_id, dim, local_date, hour, value` and the counters: what
/// [`AnalyticsFold::seal`](super::fold::AnalyticsFold::seal) adds as it writes. Postgres'
/// weeks start on Monday, as [`Span::Week`]'s do.
pub fn span_sums(table: &str) -> String {
    span_sums_of(table, table, "")
}

/// [`span_sums`] of each site's closed days only (`open`: the version's open-days table),
/// which is what a version's week and month rows hold while some days are open.
pub fn closed_span_sums(table: &str, open: &str) -> String {
    let closed = format!(
        " AND NOT EXISTS (SELECT 1 FROM {open} o WHERE o.site_id = {table}.site_id \
          AND {table}.local_date >= o.open_from)"
    );
    span_sums_of(table, table, &closed)
}

/// [`span_sums`] over the day rows of `table` that `from` (the table, or a join that adds
/// no column of its names but `site_id`) and `extra` (`AND …`) select. Both `from = table`
/// and an empty `extra` for migration V4, whose text must never change.
pub(crate) fn span_sums_of(table: &str, from: &str, extra: &str) -> String {
    let (day, week, month) = (Span::Day.code(), Span::Week.code(), Span::Month.code());
    format!(
        "SELECT site_id, dim, (CASE x.hour WHEN {week} THEN date_trunc('week', local_date) \
                ELSE date_trunc('month', local_date) END)::date AS local_date, x.hour, value, {sums} \
         FROM {from} CROSS JOIN (VALUES ({week}::int2), ({month}::int2)) AS x(hour) \
         WHERE dim <> '' AND {table}.hour = {day}{extra} GROUP BY 1, 2, 3, 4, 5",
        sums = COUNTERS.map(|c| format!("sum({c})::int8 AS {c}")).join(", ")
    )
}

/// Migration V4: the week and month rows of the active version, summed from its day rows
/// (recomputed whole, so running it on rows a newer projector already spread is harmless).
/// As with V3, a projector of an older release still running during a rolling upgrade writes
/// day rows only; `projector rebuild analytics` re-derives the spans, and its verification
/// counts rows that disagree with their days. The query-service that reads the spans must
/// follow the projector that migrates, not lead it.
pub fn spans_migration() -> String {
    let (week, month) = (Span::Week.code(), Span::Month.code());
    let table = "analytics_rollup_v%1$s";
    format!(
        "DO $migration$ \
         DECLARE v int; \
         BEGIN \
           SELECT active_version INTO v FROM projections WHERE name = '{ANALYTICS}'; \
           EXECUTE format('DELETE FROM {table} WHERE hour IN ({week}, {month})', v); \
           EXECUTE format('INSERT INTO {table} (site_id, dim, local_date, hour, value, {cols}) {sums}', v); \
         END $migration$;",
        cols = COUNTERS.join(", "),
        sums = span_sums(table).replace('\'', "''"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_substitutes_every_placeholder() {
        let ddl = AnalyticsTables::new(4).create_ddl();
        assert!(!ddl.contains("{V}"));
        for t in [
            "analytics_rollup_v4",
            "analytics_visitor_days_v4",
            "analytics_sessions_v4",
            "analytics_events_v4",
            "analytics_open_v4",
        ] {
            assert!(ddl.contains(&format!("CREATE TABLE {t} (")), "{t}");
        }
    }

    #[test]
    fn the_rebuild_split_keeps_every_statement_of_the_template() {
        let v = AnalyticsTables::new(4);
        let (tables, indexes) = v.rebuild_ddl();
        let statements = |sql: &str| sql.matches(';').count();
        assert_eq!(statements(&tables) + statements(&indexes), statements(&v.create_ddl()));
        assert_eq!(tables.matches("CREATE TABLE ").count(), 5);
        assert_eq!(tables.matches("CREATE TABLE ").count(), v.create_ddl().matches("CREATE TABLE ").count());
        assert!(indexes.matches("CREATE INDEX ").count() >= 1, "{indexes}");
        assert!(!tables.contains("CREATE INDEX") && !indexes.contains("TABLE"));
        // One-line index statements, and nothing lost or added in the split.
        assert!(indexes.lines().all(|l| l.ends_with(';')), "{indexes}");
        assert_eq!(tables.len() + indexes.len(), v.create_ddl().len());
    }
}
