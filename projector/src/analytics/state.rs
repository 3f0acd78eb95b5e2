//! How a visitor-day's sessionisation state is stored (`analytics_visitor_days_v*.state`,
//! `bytea`): a format byte, then the state in [postcard], a compact and deterministic
//! binary serde format.
//!
//! Why not jsonb, as before migration V5: every live batch loads and writes back one state
//! per visitor it touches, and the read DB spent a tenth of its time turning jsonb into text
//! and back (`json_lex`, `escape_json`; docs/benchmarks.md, "ingest"). Postcard is about a
//! third of the JSON's size and needs no parsing on the server.
//!
//! Compatibility: V5 converted every stored jsonb state to its JSON text, which
//! [`decode`] still reads (it starts with `{`). Postcard encodes enums by variant index,
//! so `Dim`'s variants must only ever be appended; `the_encoding_is_pinned` fails otherwise.

use tally_domain::sessions::VisitorDay;

/// The first byte of a postcard-encoded state. A JSON text starts with `{` instead.
const POSTCARD: u8 = 1;

/// Why a stored state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("an empty visitor-day state")]
    Empty,
    #[error("a visitor-day state in an unknown format (first byte {0:#04x})")]
    UnknownFormat(u8),
    #[error("a postcard visitor-day state does not decode: {0}")]
    Postcard(#[from] postcard::Error),
    #[error("a JSON visitor-day state does not decode: {0}")]
    Json(#[from] serde_json::Error),
}

/// The stored bytes of `state`.
pub fn encode(state: &VisitorDay) -> Vec<u8> {
    // Serialising a state cannot fail: every field is a plain value or collection.
    postcard::to_extend(state, vec![POSTCARD]).expect("a visitor-day state always serialises")
}

/// The state stored as `bytes`, in either format.
pub fn decode(bytes: &[u8]) -> Result<VisitorDay, StateError> {
    match bytes.first() {
        None => Err(StateError::Empty),
        Some(&POSTCARD) => Ok(postcard::from_bytes(&bytes[1..])?),
        Some(b'{') => Ok(serde_json::from_slice(bytes)?),
        Some(&other) => Err(StateError::UnknownFormat(other)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use tally_domain::sessions::{Bucket, Dim, Seen, Session, SessionAttributes};

    use super::*;

    fn state() -> VisitorDay {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap();
        let mut seen = Seen::default();
        seen.insert(Dim::Total, "");
        seen.insert(Dim::Page, "/pricing");
        seen.insert(Dim::Browser, "Firefox");
        VisitorDay {
            session: Some(Session {
                seq: 2,
                started_at: at,
                start: Bucket { date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), hour: 9 },
                last_at: at + chrono::Duration::seconds(95),
                pageviews: 3,
                events: 4,
                interactive: true,
                entry_page: Some("/".into()),
                exit_page: Some("/pricing".into()),
                attributes: SessionAttributes {
                    browser: "Firefox".into(),
                    source: "Google".into(),
                    ..Default::default()
                },
                pages: ["/".to_owned(), "/pricing".to_owned()].into(),
                names: ["pageview".to_owned(), "signup".to_owned()].into(),
            }),
            seen,
        }
    }

    #[test]
    fn a_state_round_trips_and_is_much_smaller_than_its_json() {
        let state = state();
        let bytes = encode(&state);
        assert_eq!(decode(&bytes).unwrap(), state);
        let json = serde_json::to_vec(&state).unwrap();
        assert!(bytes.len() * 2 < json.len(), "{} bytes against {} of JSON", bytes.len(), json.len());
        assert_eq!(decode(&encode(&VisitorDay::default())).unwrap(), VisitorDay::default());
    }

    #[test]
    fn a_json_state_converted_by_migration_v5_still_reads() {
        let state = state();
        // What `convert_to(state::text, 'UTF8')` leaves: jsonb's text, with its spacing.
        let text = serde_json::to_string_pretty(&state).unwrap();
        assert_eq!(decode(text.as_bytes()).unwrap(), state);
    }

    #[test]
    fn unreadable_states_are_errors_not_panics() {
        assert!(matches!(decode(&[]), Err(StateError::Empty)));
        assert!(matches!(decode(&[7, 1, 2]), Err(StateError::UnknownFormat(7))));
        assert!(matches!(decode(&[POSTCARD, 0xff, 0xff]), Err(StateError::Postcard(_))));
        assert!(matches!(decode(b"{\"session\": 3}"), Err(StateError::Json(_))));
    }

    /// States stay stored for as long as a late or imported event may continue their day, so
    /// the bytes of a state must not change between releases (e.g. by reordering `Dim`).
    #[test]
    fn the_encoding_is_pinned() {
        let hex: String = encode(&state()).iter().map(|b| format!("{b:02x}")).collect();
        // seen: Total "", Browser "Firefox", Page "/pricing" (variant indexes 0, 9, 14).
        let pinned = concat!(
            "01010214323032362d31312d32325430393a33303a30305a0a323032362d31312d32320914323032362d31312d323254",
            "30393a33313a33355a03040101012f01082f70726963696e6706476f6f676c65000000000000000746697265666f7800",
            "0002012f082f70726963696e6702087061676576696577067369676e7570030000090746697265666f780e082f707269",
            "63696e67"
        );
        assert_eq!(hex, pinned);
    }
}
