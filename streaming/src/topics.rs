//! Topic names: one per category group, versioned so a breaking format change gets a new
//! topic instead of surprising old consumers.

/// Profile **and** site events: a profile page shows the sites it owns, so one consumer
/// sees both in a single order per key.
pub const PROFILE_TOPIC: &str = "tally.profile.v1";
/// Analytics events, keyed by site and visitor.
pub const ANALYTICS_TOPIC: &str = "tally.analytics.v1";
/// Every topic the relay publishes to (and sends watermarks to).
pub const TOPICS: [&str; 2] = [PROFILE_TOPIC, ANALYTICS_TOPIC];

/// The topic for events of `category`, or `None` for a category no topic carries yet.
///
/// The relay treats `None` as an error rather than skipping the event: a new category
/// without a topic is a deployment mistake, and skipping would lose events silently.
pub fn topic_for(category: &str) -> Option<&'static str> {
    match category {
        "profile" | "site" => Some(PROFILE_TOPIC),
        "analytics" => Some(ANALYTICS_TOPIC),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_map_to_their_topic_group() {
        assert_eq!(topic_for("profile"), Some(PROFILE_TOPIC));
        assert_eq!(topic_for("site"), Some(PROFILE_TOPIC));
        assert_eq!(topic_for("analytics"), Some(ANALYTICS_TOPIC));
        assert_eq!(topic_for("invoice"), None);
        assert_eq!(topic_for("Profile"), None, "categories are lower-case identifiers");
    }
}
