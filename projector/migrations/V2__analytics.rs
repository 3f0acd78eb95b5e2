// Version 1 of the analytics projection (rollups, sessions, events) and its
// `projections` row, from the template a rebuild uses.
pub fn migration() -> String {
    crate::analytics::schema::initial()
}
