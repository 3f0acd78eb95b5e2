//! Page cursors: the opaque `page_token` / `after` of a keyset page.
//!
//! A cursor is the unpadded base64url of the last returned id's 16 bytes
//! (22 characters), so it is URL-safe, short, and means the same in gRPC and
//! REST. Only canonical encodings are accepted, so one id has one cursor.

use uuid::Uuid;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

/// The position after which the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub Uuid);

impl Cursor {
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    /// Parses a cursor; the error says why, for a message naming the field.
    pub fn decode(token: &str) -> Result<Cursor, &'static str> {
        // The engine refuses padding and non-zero trailing bits, so only the
        // canonical encoding of an id is accepted.
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| "is not a page token returned by this API")?;
        let bytes: [u8; 16] = bytes.try_into().map_err(|_| "is not a page token returned by this API")?;
        Ok(Cursor(Uuid::from_bytes(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_url_safe() {
        for _ in 0..200 {
            let c = Cursor(Uuid::new_v4());
            let token = c.encode();
            assert_eq!(token.len(), 22);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
            assert_eq!(Cursor::decode(&token), Ok(c));
        }
        assert_eq!(Cursor(Uuid::nil()).encode(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(Cursor(Uuid::max()).encode(), "_____________________w");
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for bad in [
            "",
            "abc",
            "not a token",
            "AAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAB",
            "AAAAAAAAAAAAAAAAAAAAAA=",
            "Zm9v",
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
