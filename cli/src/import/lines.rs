//! One log line → one line of the import request.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The fields a log line may carry; anything else in it is ignored.
const FIELDS: &[&str] =
    &["timestamp", "domain", "name", "url", "referrer", "ip", "user_agent", "props", "screen_width"];

/// The client event id of line `number` with bytes `line`: stable for the same line of
/// the same file, distinct for two identical lines (different numbers).
pub fn client_event_id(number: u64, line: &[u8]) -> String {
    let digest = Sha256::digest(line);
    format!("import:{number}:{}", hex(&digest[..12]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses one NDJSON line; the server validates the values.
pub fn to_import_line(number: u64, line: &[u8]) -> Result<Value, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(object) = value else { return Err("must be a JSON object".to_owned()) };
    let mut out: Map<String, Value> = object.into_iter().filter(|(k, _)| FIELDS.contains(&k.as_str())).collect();
    out.insert("client_event_id".to_owned(), Value::String(client_event_id(number, line)));
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_per_line_and_distinct_for_repeated_lines() {
        let line = br#"{"domain":"a.com"}"#;
        assert_eq!(client_event_id(3, line), client_event_id(3, line));
        assert_ne!(client_event_id(3, line), client_event_id(4, line));
        assert!(client_event_id(u64::MAX, line).len() <= 128);
    }

    #[test]
    fn unknown_keys_are_dropped_and_bad_lines_reported() {
        let v = to_import_line(1, br#"{"domain":"a.com","extra":1}"#).unwrap();
        assert_eq!(v["domain"], "a.com");
        assert!(v.get("extra").is_none());
        assert!(v["client_event_id"].as_str().unwrap().starts_with("import:1:"));
        assert!(to_import_line(1, b"[1]").is_err());
        assert!(to_import_line(1, b"{oops").unwrap_err().starts_with("not JSON"));
    }
}
