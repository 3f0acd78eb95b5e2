//! How far the relay has published: one row per relay in `relay_checkpoint`.

use tokio_postgres::GenericClient;

use crate::RelayError;

/// The checkpoint of relay `name`, creating it at 0 the first time.
pub async fn load_or_init(client: &impl GenericClient, name: &str) -> Result<u64, RelayError> {
    client
        .execute(
            "INSERT INTO relay_checkpoint (name, published_position, updated_at) VALUES ($1, 0, now()) \
             ON CONFLICT (name) DO NOTHING",
            &[&name],
        )
        .await?;
    read(client, name).await?.ok_or_else(|| RelayError::CheckpointMissing { name: name.to_owned() })
}

/// Records that every event up to `position` was acknowledged by the brokers.
pub async fn advance(client: &impl GenericClient, name: &str, position: u64) -> Result<(), RelayError> {
    let updated = client
        .execute(
            "UPDATE relay_checkpoint SET published_position = $2, updated_at = now() WHERE name = $1",
            &[&name, &(position as i64)],
        )
        .await?;
    if updated == 1 { Ok(()) } else { Err(RelayError::CheckpointMissing { name: name.to_owned() }) }
}

/// The checkpoint of relay `name`, if it ever ran (for operators and tests).
pub async fn read(client: &impl GenericClient, name: &str) -> Result<Option<u64>, tokio_postgres::Error> {
    let row = client.query_opt("SELECT published_position FROM relay_checkpoint WHERE name = $1", &[&name]).await?;
    Ok(row.map(|r| r.get::<_, i64>(0) as u64))
}
