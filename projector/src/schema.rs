//! The read model's DDL. A projection version's tables come from one SQL
//! template (`sql/version.sql`) used by both migration V1 and every rebuild.

/// The name of the profiles projection in `projections`.
pub const PROFILES: &str = "profiles";

const SHARED: &str = include_str!("../sql/shared.sql");
const VERSION_TEMPLATE: &str = include_str!("../sql/version.sql");

/// The tables of one version of the profiles projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionTables {
    pub version: i32,
    pub profiles: String,
    pub sites: String,
    pub tombstones: String,
}

impl VersionTables {
    pub fn new(version: i32) -> Self {
        Self {
            version,
            profiles: format!("profile_view_v{version}"),
            sites: format!("site_view_v{version}"),
            tombstones: format!("tombstones_v{version}"),
        }
    }

    /// `CREATE TABLE …` for this version.
    pub fn create_ddl(&self) -> String {
        VERSION_TEMPLATE.replace("{V}", &self.version.to_string())
    }

    /// The rebuild's split of [`Self::create_ddl`]: the tables, `UNLOGGED` while they fill, and
    /// the secondary indexes, built once the rows are in. Both come from the same template, so
    /// a rebuilt version ends up with exactly the DDL of a migrated one.
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
        format!(
            "ALTER TABLE {} SET LOGGED; ALTER TABLE {} SET LOGGED; ALTER TABLE {} SET LOGGED;",
            self.profiles, self.sites, self.tombstones
        )
    }

    /// Points the views the query-service reads at this version.
    pub fn point_views_ddl(&self) -> String {
        format!(
            "CREATE OR REPLACE VIEW profiles AS SELECT * FROM {};\nCREATE OR REPLACE VIEW sites AS SELECT * FROM {};",
            self.profiles, self.sites
        )
    }

    pub fn drop_ddl(&self) -> String {
        format!("DROP TABLE IF EXISTS {}, {}, {};", self.profiles, self.sites, self.tombstones)
    }
}

/// Migration V1: shared tables, version 1, and the views on it.
pub fn initial() -> String {
    let v1 = VersionTables::new(1);
    format!("{SHARED}\n{}\n{}\n", v1.create_ddl(), v1.point_views_ddl())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_substitutes_every_placeholder() {
        let ddl = VersionTables::new(7).create_ddl();
        assert!(!ddl.contains("{V}"));
        assert!(ddl.contains("CREATE TABLE profile_view_v7 ("));
        assert!(ddl.contains("CREATE TABLE site_view_v7 ("));
        assert!(ddl.contains("CREATE TABLE tombstones_v7 ("));
    }

    #[test]
    fn the_rebuild_split_keeps_every_statement_of_the_template() {
        let v = VersionTables::new(7);
        let (tables, indexes) = v.rebuild_ddl();
        let statements = |sql: &str| sql.matches(';').count();
        assert_eq!(statements(&tables) + statements(&indexes), statements(&v.create_ddl()));
        assert_eq!(tables.matches("CREATE UNLOGGED TABLE ").count(), v.create_ddl().matches("CREATE TABLE ").count());
        assert_eq!(indexes.matches("CREATE INDEX ").count(), 3);
        assert!(!tables.contains("CREATE INDEX") && !indexes.contains("TABLE"));
        // One-line index statements, and nothing lost or added in the split.
        assert!(indexes.lines().all(|l| l.ends_with(';')), "{indexes}");
        assert_eq!(
            tables.replace("CREATE UNLOGGED TABLE ", "CREATE TABLE ").len() + indexes.len(),
            v.create_ddl().len()
        );
    }

    #[test]
    fn the_initial_schema_serves_version_one() {
        let sql = initial();
        assert!(sql.contains("CREATE VIEW profiles") || sql.contains("VIEW profiles AS SELECT * FROM profile_view_v1"));
        assert!(sql.contains("INSERT INTO projections (name, active_version) VALUES ('profiles', 1)"));
    }
}
