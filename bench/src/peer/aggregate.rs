//! Tally's Profile aggregate behind the `cqrs_es::Aggregate` trait, unchanged: `handle`
//! is Tally's `decide`, `apply` is Tally's `evolve`, so both sides run the same domain code.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tally_domain::{
    Aggregate as _, DomainError, DomainEvent as _, Profile, ProfileCreated, ProfileDeleted, ProfileEvent,
};

use super::PeerCommand;

/// The peer's aggregate: Tally's `Profile` state.
#[derive(Debug, Default)]
pub struct PeerProfile(Profile);

/// Tally's event, with the peer's event trait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerEvent(ProfileEvent);

impl cqrs_es::DomainEvent for PeerEvent {
    fn event_type(&self) -> String {
        self.0.event_type().to_owned()
    }

    fn event_version(&self) -> String {
        self.0.schema_version().to_string()
    }
}

impl cqrs_es::Aggregate for PeerProfile {
    const TYPE: &'static str = "profile";
    type Command = PeerCommand;
    type Event = PeerEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: PeerCommand,
        _: &(),
        sink: &cqrs_es::event_sink::EventSink<Self>,
    ) -> Result<(), DomainError> {
        for event in self.0.decide(&command.0)? {
            sink.write(PeerEvent(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: PeerEvent) {
        self.0.evolve(&event.0);
    }
}

/// Snapshots store the shortest event list that rebuilds the state (nothing, a creation,
/// or a creation and a deletion): Tally's state has no serde shape of its own, and events
/// are its storage format.
impl Serialize for PeerProfile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let events: Vec<ProfileEvent> = match &self.0 {
            Profile::Absent => Vec::new(),
            Profile::Active(d) => vec![ProfileEvent::Created(ProfileCreated {
                profile_id: d.id,
                handle: d.handle.clone(),
                display_name: d.display_name.clone(),
                email: d.email.clone(),
                bio: d.bio.clone(),
                avatar_url: d.avatar_url.clone(),
                attributes: d.attributes.clone(),
            })],
            // The deleted state keeps only the id; a deletion event alone restores it.
            Profile::Deleted { id } => vec![ProfileEvent::Deleted(ProfileDeleted { profile_id: *id })],
        };
        events.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PeerProfile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut state = Profile::default();
        for event in Vec::<ProfileEvent>::deserialize(deserializer)? {
            state.evolve(&event);
        }
        Ok(Self(state))
    }
}
