// The statistics API's per-site read keys (`site_read_keys`), so the
// query-service can check a bearer key against the read model.
pub fn migration() -> String {
    crate::schema::read_keys_migration()
}
