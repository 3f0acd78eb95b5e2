//! Serde helpers for event payloads.

/// Serde adapter for `Option<Option<T>>` fields that must keep "not
/// changed" (field absent) apart from "cleared" (`null`). Plain serde turns
/// both into `null` and reads `null` back as "not changed", which would
/// silently drop a clear on replay.
///
/// Use with `#[serde(default, skip_serializing_if = "Option::is_none",
/// with = "crate::serde_util::double_option")]`.
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}
