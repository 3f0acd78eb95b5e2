// Week and month rows next to the day rows of every dimension but the total,
// so a breakdown over a range reads whole spans (docs/analytics-read.md).
pub fn migration() -> String {
    crate::analytics::schema::spans_migration()
}
