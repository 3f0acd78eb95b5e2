//! Ingest limits (the same as Plausible's where Plausible has one).

/// Longest `url` and `referrer`, in bytes.
pub const MAX_URL_BYTES: usize = 2_000;
/// Longest event name, in characters.
pub const MAX_NAME_CHARS: usize = 120;
/// Most custom properties per event.
pub const MAX_PROPS: usize = 30;
/// Longest property key, in bytes.
pub const MAX_PROP_KEY_BYTES: usize = 300;
/// Longest property value, in bytes.
pub const MAX_PROP_VALUE_BYTES: usize = 2_000;
/// Longest client event id, in bytes (a UUID or ULID with a prefix fits).
pub const MAX_CLIENT_EVENT_ID_BYTES: usize = 128;
/// Longest `utm_*` value, in bytes; they come from URLs, so the URL's bound.
pub const MAX_UTM_BYTES: usize = 2_000;
/// Longest User-Agent considered, in bytes; longer ones are cut before
/// hashing and classification (real browsers send a few hundred).
pub const MAX_USER_AGENT_BYTES: usize = 1_000;
/// Most events per batch request.
pub const MAX_BATCH: usize = 1_000;
/// Widest screen width taken as real, in CSS pixels.
pub const MAX_SCREEN_WIDTH: u32 = 100_000;
