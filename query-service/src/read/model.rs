//! What the read DB holds, as the service hands it to its transports.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio_postgres::{Row, types::Json};
use uuid::Uuid;

use super::ReadError;

/// One row of the `profiles` view.
#[derive(Debug, Clone)]
pub struct ProfileRecord {
    pub id: Uuid,
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub bio: String,
    pub avatar_url: String,
    pub attributes: BTreeMap<String, String>,
    pub sites: Vec<SiteSummary>,
    pub version: u64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// An element of `profiles.sites`, as the projector writes it.
#[derive(Debug, Clone, Deserialize)]
pub struct SiteSummary {
    pub id: String,
    pub domain: String,
    pub name: String,
    pub time_zone: String,
}

/// One row of the `sites` view.
#[derive(Debug, Clone)]
pub struct SiteRecord {
    pub id: Uuid,
    pub domain: String,
    pub name: String,
    pub time_zone: String,
    pub owner_profile_id: Uuid,
    pub version: u64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

fn col<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, name: &str) -> Result<T, ReadError> {
    row.try_get(name).map_err(|e| ReadError::Decode(format!("column {name}: {e}")))
}

fn version(row: &Row) -> Result<u64, ReadError> {
    let v: i64 = col(row, "version")?;
    u64::try_from(v).map_err(|_| ReadError::Decode(format!("negative version {v}")))
}

impl ProfileRecord {
    /// Columns, in the order [`ProfileRecord::from_row`] reads them by name.
    pub const COLUMNS: &str =
        "id, handle, display_name, email, bio, avatar_url, attributes, sites, version, create_time, update_time";

    pub fn from_row(row: &Row) -> Result<Self, ReadError> {
        let Json(attributes) = col::<Json<BTreeMap<String, String>>>(row, "attributes")?;
        let Json(sites) = col::<Json<Vec<SiteSummary>>>(row, "sites")?;
        Ok(Self {
            id: col(row, "id")?,
            handle: col(row, "handle")?,
            display_name: col(row, "display_name")?,
            email: col(row, "email")?,
            bio: col(row, "bio")?,
            avatar_url: col(row, "avatar_url")?,
            attributes,
            sites,
            version: version(row)?,
            create_time: col(row, "create_time")?,
            update_time: col(row, "update_time")?,
        })
    }
}

impl SiteRecord {
    pub const COLUMNS: &str = "id, domain, name, time_zone, owner_profile_id, version, create_time, update_time";

    pub fn from_row(row: &Row) -> Result<Self, ReadError> {
        Ok(Self {
            id: col(row, "id")?,
            domain: col(row, "domain")?,
            name: col(row, "name")?,
            time_zone: col(row, "time_zone")?,
            owner_profile_id: col(row, "owner_profile_id")?,
            version: version(row)?,
            create_time: col(row, "create_time")?,
            update_time: col(row, "update_time")?,
        })
    }
}
