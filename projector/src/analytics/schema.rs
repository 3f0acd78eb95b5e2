//! The analytics projection's DDL, one template for migration V2 and every
//! rebuild (like the profiles projection's).

/// The name of the analytics projection in `projections`.
pub const ANALYTICS: &str = "analytics";

const TEMPLATE: &str = include_str!("../../sql/analytics.sql");

/// The tables of one version of the analytics projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsTables {
    pub version: i32,
    pub rollup: String,
    pub visitor_days: String,
    pub sessions: String,
    pub events: String,
}

impl AnalyticsTables {
    pub fn new(version: i32) -> Self {
        AnalyticsTables {
            version,
            rollup: format!("analytics_rollup_v{version}"),
            visitor_days: format!("analytics_visitor_days_v{version}"),
            sessions: format!("analytics_sessions_v{version}"),
            events: format!("analytics_events_v{version}"),
        }
    }

    pub fn create_ddl(&self) -> String {
        TEMPLATE.replace("{V}", &self.version.to_string())
    }

    /// The rebuild's split of [`Self::create_ddl`], as for profiles (`VersionTables::rebuild_ddl`):
    /// the tables `UNLOGGED` while they fill (primary keys inline: the fill looks rows up and
    /// merges by them), and the secondary indexes, built once the rows are in.
    pub fn rebuild_ddl(&self) -> (String, String) {
        let (mut tables, mut indexes) = (String::new(), String::new());
        for line in self.create_ddl().lines() {
            if line.starts_with("CREATE INDEX ") {
                indexes.push_str(line);
                indexes.push('\n');
            } else {
                tables.push_str(&line.replace("CREATE TABLE ", "CREATE UNLOGGED TABLE "));
                tables.push('\n');
            }
        }
        (tables, indexes)
    }

    /// Makes the tables of [`Self::rebuild_ddl`] crash-safe (and replicated) again.
    pub fn set_logged_ddl(&self) -> String {
        [&self.rollup, &self.visitor_days, &self.sessions, &self.events]
            .iter()
            .map(|t| format!("ALTER TABLE {t} SET LOGGED;"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The views the query-service reads.
    pub fn point_views_ddl(&self) -> String {
        format!(
            "CREATE OR REPLACE VIEW analytics_rollup AS SELECT * FROM {};\n\
             CREATE OR REPLACE VIEW analytics_sessions AS SELECT * FROM {};\n\
             CREATE OR REPLACE VIEW analytics_events AS SELECT * FROM {};",
            self.rollup, self.sessions, self.events
        )
    }

    pub fn drop_ddl(&self) -> String {
        format!("DROP TABLE IF EXISTS {}, {}, {}, {};", self.rollup, self.visitor_days, self.sessions, self.events)
    }
}

/// Migration V2: version 1 of the analytics projection and its views.
pub fn initial() -> String {
    let v1 = AnalyticsTables::new(1);
    format!(
        "{}\n{}\nINSERT INTO projections (name, active_version) VALUES ('{ANALYTICS}', 1);\n",
        v1.create_ddl(),
        v1.point_views_ddl()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_substitutes_every_placeholder() {
        let ddl = AnalyticsTables::new(4).create_ddl();
        assert!(!ddl.contains("{V}"));
        for t in ["analytics_rollup_v4", "analytics_visitor_days_v4", "analytics_sessions_v4", "analytics_events_v4"] {
            assert!(ddl.contains(&format!("CREATE TABLE {t} (")), "{t}");
        }
    }

    #[test]
    fn the_rebuild_split_keeps_every_statement_of_the_template() {
        let v = AnalyticsTables::new(4);
        let (tables, indexes) = v.rebuild_ddl();
        let statements = |sql: &str| sql.matches(';').count();
        assert_eq!(statements(&tables) + statements(&indexes), statements(&v.create_ddl()));
        assert_eq!(tables.matches("CREATE UNLOGGED TABLE ").count(), 4);
        assert_eq!(tables.matches("CREATE UNLOGGED TABLE ").count(), v.create_ddl().matches("CREATE TABLE ").count());
        assert!(indexes.matches("CREATE INDEX ").count() >= 1, "{indexes}");
        assert!(!tables.contains("CREATE INDEX") && !indexes.contains("TABLE"));
        // One-line index statements, and nothing lost or added in the split.
        assert!(indexes.lines().all(|l| l.ends_with(';')), "{indexes}");
        assert_eq!(
            tables.replace("CREATE UNLOGGED TABLE ", "CREATE TABLE ").len() + indexes.len(),
            v.create_ddl().len()
        );
        assert_eq!(v.set_logged_ddl().matches("SET LOGGED").count(), 4);
    }
}
