//! Revenue amounts of conversion events.

use crate::error::FieldViolation;

/// A validated amount in a currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revenue {
    /// Upper-case ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// Normalised decimal, e.g. `19.9` for `"019.90"`.
    pub amount: String,
}

/// Digits allowed before and after the decimal point: enough for any real
/// order, small enough to fit a `numeric(28, 10)` in a read model.
const MAX_INTEGER_DIGITS: usize = 18;
const MAX_FRACTION_DIGITS: usize = 10;

impl Revenue {
    /// Checks both fields, reporting each under `revenue.<field>`.
    pub fn parse(currency: &str, amount: &str) -> Result<Self, Vec<FieldViolation>> {
        let mut bad = Vec::new();
        let currency = currency.trim().to_ascii_uppercase();
        // The format of an ISO 4217 code; whether a code is in the current
        // list changes over time and is the reader's concern.
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            bad.push(FieldViolation::new("revenue.currency", "must be a three-letter ISO 4217 code like EUR"));
        }
        let amount = normalise(amount.trim());
        if amount.is_none() {
            bad.push(FieldViolation::new(
                "revenue.amount",
                format!(
                    "must be a plain decimal like 19.99 (at most {MAX_INTEGER_DIGITS} digits before and \
                     {MAX_FRACTION_DIGITS} after the point)"
                ),
            ));
        }
        match amount {
            Some(amount) if bad.is_empty() => Ok(Revenue { currency, amount }),
            _ => Err(bad),
        }
    }
}

fn normalise(raw: &str) -> Option<String> {
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) || (digits.contains('.') && frac.is_empty()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if int.len() > MAX_INTEGER_DIGITS || frac.len() > MAX_FRACTION_DIGITS {
        return None;
    }
    let int = if int.is_empty() { "0" } else { int };
    let body = if frac.is_empty() { int.to_owned() } else { format!("{int}.{frac}") };
    Some(if negative && body != "0" { format!("-{body}") } else { body })
}
