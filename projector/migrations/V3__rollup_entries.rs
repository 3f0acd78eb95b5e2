// Page rows of the analytics rollup carry the visits that entered on the page,
// so a page breakdown reads one set of rows (docs/analytics-read.md).
pub fn migration() -> String {
    crate::analytics::schema::entries_migration()
}
