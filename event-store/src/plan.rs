//! Deciding a batch: which requests succeed, and what to write.
//!
//! Pure on purpose: given the rows the batch transaction read under the
//! append lock, every outcome is computed in memory, in arrival order, with
//! later requests seeing the effects of earlier ones in the same batch. The
//! I/O around it lives in `batch.rs`.

use std::collections::{BTreeMap, HashMap};

use crate::{AppendError, AppendRequest, AppendResult, ClaimAction, ExpectedVersion};

/// A stored idempotency record.
#[derive(Debug, Clone)]
pub(crate) struct StoredResult {
    pub fingerprint: Vec<u8>,
    pub result: AppendResult,
}

/// A stream's head as recorded in `streams`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamHead {
    pub version: u64,
    pub last_position: u64,
}

/// What the batch transaction read before deciding.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub head: u64,
    /// The transaction's timestamp, which becomes every event's `recorded_at`.
    pub now: chrono::DateTime<chrono::Utc>,
    pub results: HashMap<String, StoredResult>,
    pub streams: HashMap<String, StreamHead>,
    pub keys: HashMap<(String, String), String>,
}

/// One event row to insert, pointing into its request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventRow {
    pub request: usize,
    pub event: usize,
    pub stream_version: u64,
    pub global_position: u64,
}

/// Everything the batch must write, plus each request's answer.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub outcomes: Vec<Result<AppendResult, AppendError>>,
    pub rows: Vec<EventRow>,
    /// Final head per touched stream, with the stream's category.
    pub streams: BTreeMap<String, (String, StreamHead)>,
    /// New idempotency records: (command id, fingerprint, stream id, result).
    pub results: Vec<(String, Vec<u8>, String, AppendResult)>,
    /// Final owner of every key the batch changed (`None` = released).
    pub keys: BTreeMap<(String, String), Option<String>>,
    pub head: u64,
}

impl Plan {
    pub fn is_write_free(&self) -> bool {
        self.rows.is_empty() && self.results.is_empty() && self.keys.is_empty()
    }
}

fn expected_label(e: ExpectedVersion) -> String {
    match e {
        ExpectedVersion::Any => "any".into(),
        ExpectedVersion::NoStream => "0 (no stream)".into(),
        ExpectedVersion::Exact(v) => v.to_string(),
    }
}

/// Decides every request of a batch against `snapshot`.
pub(crate) fn plan(requests: &[AppendRequest], mut snapshot: Snapshot) -> Plan {
    let mut plan = Plan { head: snapshot.head, ..Plan::default() };
    for (i, req) in requests.iter().enumerate() {
        let outcome = decide_one(i, req, &mut snapshot, &mut plan);
        plan.outcomes.push(outcome);
    }
    plan
}

fn decide_one(
    i: usize,
    req: &AppendRequest,
    snap: &mut Snapshot,
    plan: &mut Plan,
) -> Result<AppendResult, AppendError> {
    if let Some(id) = &req.command_id
        && let Some(stored) = snap.results.get(id)
    {
        return if stored.fingerprint == req.fingerprint {
            Ok(AppendResult { replayed: true, ..stored.result.clone() })
        } else {
            Err(AppendError::CommandIdReused { command_id: id.clone() })
        };
    }

    let head = snap.streams.get(&req.stream_id).copied().unwrap_or_default();
    if !req.expected.admits(head.version) {
        return Err(AppendError::Conflict {
            stream_id: req.stream_id.clone(),
            expected: expected_label(req.expected),
            current: head.version,
        });
    }

    // All acquisitions are checked before any claim is applied, so a request
    // either takes effect whole or not at all.
    for claim in req.claims.iter().filter(|c| c.action == ClaimAction::Acquire) {
        let k = (claim.scope.clone(), claim.key.clone());
        if let Some(owner) = snap.keys.get(&k)
            && owner != &req.stream_id
        {
            return Err(AppendError::KeyTaken { scope: claim.scope.clone(), key: claim.key.clone() });
        }
    }
    for claim in &req.claims {
        let k = (claim.scope.clone(), claim.key.clone());
        match claim.action {
            ClaimAction::Acquire => {
                snap.keys.insert(k.clone(), req.stream_id.clone());
                plan.keys.insert(k, Some(req.stream_id.clone()));
            }
            ClaimAction::Release => {
                if snap.keys.get(&k) == Some(&req.stream_id) {
                    snap.keys.remove(&k);
                    plan.keys.insert(k, None);
                }
            }
        }
    }

    let mut new_head = head;
    for (e, _) in req.events.iter().enumerate() {
        new_head.version += 1;
        plan.head += 1;
        new_head.last_position = plan.head;
        plan.rows.push(EventRow { request: i, event: e, stream_version: new_head.version, global_position: plan.head });
    }
    if !req.events.is_empty() {
        snap.streams.insert(req.stream_id.clone(), new_head);
        plan.streams.insert(req.stream_id.clone(), (req.category.clone(), new_head));
    }

    let result = AppendResult {
        stream_id: req.stream_id.clone(),
        stream_version: new_head.version,
        global_position: new_head.last_position,
        events_appended: req.events.len() as u32,
        replayed: false,
        recorded_at: snap.now,
    };
    if let Some(id) = &req.command_id {
        snap.results.insert(id.clone(), StoredResult { fingerprint: req.fingerprint.clone(), result: result.clone() });
        plan.results.push((id.clone(), req.fingerprint.clone(), req.stream_id.clone(), result.clone()));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventMetadata, NewEvent, UniqueClaim};

    fn event() -> NewEvent {
        NewEvent {
            event_id: uuid::Uuid::now_v7(),
            event_type: "t".into(),
            schema_version: 1,
            payload: vec![],
            metadata: EventMetadata::default(),
        }
    }

    fn req(stream: &str, expected: ExpectedVersion, n: usize) -> AppendRequest {
        AppendRequest {
            stream_id: stream.into(),
            category: "profile".into(),
            expected,
            events: (0..n).map(|_| event()).collect(),
            claims: vec![],
            command_id: None,
            fingerprint: vec![1],
        }
    }

    fn claim(key: &str, action: ClaimAction) -> UniqueClaim {
        UniqueClaim { scope: "profile.handle".into(), key: key.into(), action }
    }

    #[test]
    fn positions_are_dense_and_follow_arrival_order() {
        let snap = Snapshot { head: 10, ..Default::default() };
        let p = plan(&[req("a", ExpectedVersion::NoStream, 2), req("b", ExpectedVersion::NoStream, 1)], snap);
        let positions: Vec<_> = p.rows.iter().map(|r| r.global_position).collect();
        assert_eq!(positions, vec![11, 12, 13]);
        assert_eq!(p.head, 13);
        assert_eq!(p.outcomes[0].as_ref().unwrap().global_position, 12);
        assert_eq!(p.outcomes[1].as_ref().unwrap().stream_version, 1);
    }

    #[test]
    fn a_later_request_in_the_batch_sees_the_earlier_version() {
        let p = plan(
            &[
                req("a", ExpectedVersion::Exact(0), 1),
                req("a", ExpectedVersion::Exact(0), 1),
                req("a", ExpectedVersion::Exact(1), 1),
            ],
            Snapshot::default(),
        );
        assert!(p.outcomes[0].is_ok());
        match &p.outcomes[1] {
            Err(AppendError::Conflict { current, .. }) => assert_eq!(*current, 1),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(p.outcomes[2].as_ref().unwrap().stream_version, 2);
        assert_eq!(p.streams["a"].1, StreamHead { version: 2, last_position: 2 });
    }

    #[test]
    fn a_repeated_command_id_replays_the_first_result_and_writes_nothing_new() {
        let mut first = req("a", ExpectedVersion::NoStream, 1);
        first.command_id = Some("c1".into());
        let second = first.clone();
        let p = plan(&[first, second], Snapshot::default());
        let (a, b) = (p.outcomes[0].clone().unwrap(), p.outcomes[1].clone().unwrap());
        assert_eq!(b.stream_id, "a");
        assert!(!a.replayed && b.replayed);
        assert_eq!((a.stream_version, a.global_position), (b.stream_version, b.global_position));
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.results.len(), 1);
    }

    #[test]
    fn a_reused_command_id_with_another_body_is_refused() {
        let mut snap = Snapshot::default();
        let stored = AppendResult {
            stream_id: "a".into(),
            stream_version: 1,
            global_position: 1,
            events_appended: 1,
            replayed: false,
            recorded_at: chrono::Utc::now(),
        };
        snap.results.insert("c1".into(), StoredResult { fingerprint: vec![9], result: stored });
        let mut r = req("a", ExpectedVersion::Any, 1);
        r.command_id = Some("c1".into());
        let p = plan(&[r], snap);
        assert!(matches!(p.outcomes[0], Err(AppendError::CommandIdReused { .. })));
        assert!(p.is_write_free());
    }

    #[test]
    fn a_taken_key_refuses_the_whole_request() {
        let mut a = req("a", ExpectedVersion::NoStream, 1);
        a.claims = vec![claim("ada", ClaimAction::Acquire)];
        let mut b = req("b", ExpectedVersion::NoStream, 1);
        b.claims = vec![claim("bob", ClaimAction::Acquire), claim("ada", ClaimAction::Acquire)];
        let p = plan(&[a, b], Snapshot::default());
        assert!(p.outcomes[0].is_ok());
        assert!(matches!(&p.outcomes[1], Err(AppendError::KeyTaken { key, .. }) if key == "ada"));
        assert_eq!(p.keys.len(), 1, "bob must not be claimed by a refused request");
        assert_eq!(p.rows.len(), 1);
    }

    #[test]
    fn a_released_key_can_be_taken_by_another_stream_in_the_same_batch() {
        let mut snap = Snapshot::default();
        snap.keys.insert(("profile.handle".into(), "ada".into()), "a".into());
        snap.streams.insert("a".into(), StreamHead { version: 1, last_position: 1 });
        snap.head = 1;
        let mut rename = req("a", ExpectedVersion::Exact(1), 1);
        rename.claims = vec![claim("ada", ClaimAction::Release), claim("lovelace", ClaimAction::Acquire)];
        let mut take = req("b", ExpectedVersion::NoStream, 1);
        take.claims = vec![claim("ada", ClaimAction::Acquire)];
        let p = plan(&[rename, take], snap);
        assert!(p.outcomes.iter().all(Result::is_ok), "{:?}", p.outcomes);
        assert_eq!(p.keys[&("profile.handle".into(), "ada".into())], Some("b".into()));
        assert_eq!(p.keys[&("profile.handle".into(), "lovelace".into())], Some("a".into()));
    }

    #[test]
    fn releasing_a_key_owned_by_someone_else_changes_nothing() {
        let mut snap = Snapshot::default();
        snap.keys.insert(("profile.handle".into(), "ada".into()), "other".into());
        let mut r = req("a", ExpectedVersion::Any, 1);
        r.claims = vec![claim("ada", ClaimAction::Release)];
        let p = plan(&[r], snap);
        assert!(p.keys.is_empty());
    }
}
