// Visitor-day states as compact bytes instead of jsonb, so a live batch no
// longer pays for parsing and printing JSON on the server (docs/analytics-read.md).
pub fn migration() -> String {
    crate::analytics::schema::packed_days_migration()
}
