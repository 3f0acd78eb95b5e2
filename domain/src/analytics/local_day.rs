//! The site-local day an event belongs to.

use chrono::{DateTime, NaiveDate, Offset, Utc};
use chrono_tz::Tz;

/// An event's local date and the zone's UTC offset at that instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDay {
    /// The date on the site's wall clock.
    pub date: NaiveDate,
    /// `utc + offset = local`, in seconds.
    pub utc_offset_seconds: i32,
}

/// Where `at` falls in `tz`. Instants map to exactly one local time, so DST
/// gaps and folds need no special handling here.
pub fn local_day(at: DateTime<Utc>, tz: Tz) -> LocalDay {
    let local = at.with_timezone(&tz);
    LocalDay { date: local.date_naive(), utc_offset_seconds: local.offset().fix().local_minus_utc() }
}
