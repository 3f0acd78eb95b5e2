// The read model's first schema: the shared tables plus version 1 of the
// profiles projection, built from the same template a rebuild uses.
pub fn migration() -> String {
    crate::schema::initial()
}
