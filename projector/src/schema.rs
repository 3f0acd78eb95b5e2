//! The read model's DDL. A projection version's tables come from one SQL
//! template (`sql/version.sql`) used by both migration V1 and every rebuild.

/// The name of the profiles projection in `projections`.
pub const PROFILES: &str = "profiles";

const SHARED: &str = include_str!("../sql/shared.sql");
const VERSION_TEMPLATE: &str = include_str!("../sql/version.sql");
const READ_KEYS: &str = include_str!("../sql/read_keys.sql");

/// The tables of one version of the profiles projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionTables {
    pub version: i32,
    pub profiles: String,
    pub sites: String,
    pub tombstones: String,
    pub read_keys: String,
}

impl VersionTables {
    pub fn new(version: i32) -> Self {
        Self {
            version,
            profiles: format!("profile_view_v{version}"),
            sites: format!("site_view_v{version}"),
            tombstones: format!("tombstones_v{version}"),
            read_keys: format!("site_read_keys_v{version}"),
        }
    }

    /// `CREATE TABLE …` for this version.
    pub fn create_ddl(&self) -> String {
        format!("{}\n{}", self.v1_ddl(), READ_KEYS.replace("{V}", &self.version.to_string()))
    }

    /// The version as migration V1 created it (its text must never change).
    fn v1_ddl(&self) -> String {
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
        self.all().iter().map(|t| format!("ALTER TABLE {t} SET LOGGED;")).collect::<Vec<_>>().join(" ")
    }

    /// Points the views the query-service reads at this version.
    pub fn point_views_ddl(&self) -> String {
        format!(
            "CREATE OR REPLACE VIEW profiles AS SELECT * FROM {};\nCREATE OR REPLACE VIEW sites AS SELECT * FROM {};\n\
             CREATE OR REPLACE VIEW site_read_keys AS SELECT * FROM {};",
            self.profiles, self.sites, self.read_keys
        )
    }

    pub fn drop_ddl(&self) -> String {
        format!("DROP TABLE IF EXISTS {};", self.all().join(", "))
    }

    /// Every table of the version.
    pub fn all(&self) -> [&str; 4] {
        [&self.profiles, &self.sites, &self.tombstones, &self.read_keys]
    }
}

/// Migration V1: shared tables, version 1, and the views on it.
pub fn initial() -> String {
    let v1 = VersionTables::new(1);
    format!(
        "{SHARED}\n{}\n{}\n",
        v1.v1_ddl(),
        "CREATE OR REPLACE VIEW profiles AS SELECT * FROM profile_view_v1;\n\
         CREATE OR REPLACE VIEW sites AS SELECT * FROM site_view_v1;"
    )
}

/// Migration V6: the read keys' table in every stored version of the profiles projection
/// (`read_keys.sql`), and the `site_read_keys` view on the active one. Every version, not
/// only the active one, so a version kept after a rebuild can still be switched back to by
/// hand. The tables start empty: before this release no command issued keys.
pub fn read_keys_migration() -> String {
    format!(
        "DO $migration$ \
         DECLARE v int; \
         BEGIN \
           FOR v IN SELECT substring(c.relname FROM '^site_view_v([0-9]+)$')::int \
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                    WHERE n.nspname = current_schema() AND c.relkind = 'r' \
                      AND c.relname ~ '^site_view_v[0-9]+$' LOOP \
             IF to_regclass(format('site_read_keys_v%s', v)) IS NULL THEN \
               EXECUTE replace($ddl${keys}$ddl$, '{{V}}', v::text); \
             END IF; \
           END LOOP; \
           SELECT active_version INTO v FROM projections WHERE name = '{PROFILES}'; \
           EXECUTE format('CREATE OR REPLACE VIEW site_read_keys AS SELECT * FROM site_read_keys_v%s', v); \
         END $migration$;",
        keys = READ_KEYS.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join(" ")
    )
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
