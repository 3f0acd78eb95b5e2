//! Countries of IP addresses, from an optional MaxMind-format database
//! (GeoLite2 / GeoIP2 Country or City, or any compatible `.mmdb`).

use std::{net::IpAddr, path::Path, sync::Arc};

use maxminddb::{Reader, geoip2};
use tally_platform::causes::Causes;

/// A loaded database; cheap to clone.
#[derive(Clone)]
pub struct CountryDb {
    reader: Arc<Reader<Vec<u8>>>,
}

impl CountryDb {
    /// Reads the whole file into memory (tens of MB; lookups then need no I/O).
    pub fn open(path: &Path) -> Result<Self, String> {
        Reader::open_readfile(path)
            .map(|reader| Self { reader: Arc::new(reader) })
            .map_err(|e| format!("cannot read country database {}: {e}", path.display()))
    }

    /// The ISO 3166-1 alpha-2 code of `ip`, or empty when unknown.
    pub fn country(&self, ip: IpAddr) -> String {
        let found = self.reader.lookup(ip).and_then(|r| r.decode::<geoip2::Country>());
        match found {
            Ok(Some(record)) => record.country.iso_code.unwrap_or_default().to_owned(),
            Ok(None) => String::new(),
            Err(e) => {
                tracing::debug!(error = %Causes(&e), "country lookup failed");
                String::new()
            }
        }
    }
}
