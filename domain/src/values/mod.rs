//! Validated value types.
//!
//! Each type can only be built through `parse`, so holding one proves the
//! text is valid and normalised. Parsers return a bare description ("must be
//! 3 to 30 characters"); the command validator adds the field name, because
//! the same value type may sit in differently named fields.
//!
//! Lengths are counted in `char`s (Unicode scalar values) unless a rule says
//! bytes, so "é" counts as one character whether or not it is precomposed.

mod attributes;
mod bio;
mod display_name;
mod email;
mod handle;
mod http_url;
mod site_domain;
mod site_name;
mod time_zone;

pub use attributes::Attributes;
pub use bio::Bio;
pub use display_name::DisplayName;
pub use email::Email;
pub use handle::Handle;
pub use http_url::HttpUrl;
pub use site_domain::SiteDomain;
pub use site_name::SiteName;
pub use time_zone::TimeZone;

/// Implements the accessors and conversions shared by every `String`-backed
/// value type. Serde goes through `TryFrom<String>` so a stored or received
/// payload cannot smuggle in an unvalidated value.
macro_rules! string_value {
    ($ty:ident) => {
        impl $ty {
            /// The normalised text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = String;

            fn from_str(raw: &str) -> Result<Self, String> {
                Self::parse(raw)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;

            fn try_from(raw: String) -> Result<Self, String> {
                Self::parse(&raw)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.0
            }
        }
    };
}
pub(crate) use string_value;

/// Whether `s` holds characters that would corrupt display or logs
/// (terminal escapes, NUL, stray carriage returns).
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Validates a trimmed single-line name of `1..=max` characters.
fn single_line_name(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    let len = trimmed.chars().count();
    if !(1..=max).contains(&len) {
        return Err(format!("must be 1 to {max} characters"));
    }
    if has_control(trimmed) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(trimmed.to_owned())
}
