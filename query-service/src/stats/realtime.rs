//! The realtime count as a live stream, shared by gRPC `StreamRealtime` and
//! the REST server-sent events.

use std::time::Duration;

use futures::Stream;

use crate::{
    read::{ReadError, Reads},
    stats::access::{Access, Presented},
};

/// How often a realtime stream re-counts; a message goes out when the count
/// changes, or at least every [`HEARTBEAT`].
pub const REALTIME_POLL: Duration = Duration::from_secs(2);
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// The realtime count now, then on every change (and every heartbeat), for a site whose key
/// the caller has just [authorized](Reads::authorize) (`access`). The key is checked again
/// before every later count, so a stream outlives neither its key's revocation nor its site's
/// deletion: it then yields the refusal and ends.
pub fn updates(
    reads: Reads,
    access: Access,
    key: Presented,
) -> impl Stream<Item = Result<(u64, chrono::DateTime<chrono::Utc>), ReadError>> + Send {
    struct State {
        reads: Reads,
        access: Access,
        key: Presented,
        last: Option<u64>,
        sent_at: tokio::time::Instant,
        first: bool,
        refused: bool,
    }
    let start =
        State { reads, access, key, last: None, sent_at: tokio::time::Instant::now(), first: true, refused: false };
    futures::stream::unfold(start, |mut s| async move {
        if s.refused {
            return None;
        }
        loop {
            let authorized = if s.first {
                Ok(s.access.clone())
            } else {
                tokio::time::sleep(REALTIME_POLL).await;
                s.reads.authorize(s.access.site(), None, &s.key).await
            };
            s.first = false;
            let counted = match authorized {
                Ok(access) => s.reads.realtime(&access).await,
                Err(e) => Err(e),
            };
            match counted {
                Ok((n, at)) => {
                    if s.last != Some(n) || s.sent_at.elapsed() >= HEARTBEAT {
                        s.last = Some(n);
                        s.sent_at = tokio::time::Instant::now();
                        return Some((Ok((n, at)), s));
                    }
                }
                Err(e) => {
                    s.refused = matches!(e, ReadError::Unauthenticated(_));
                    return Some((Err(e), s));
                }
            }
        }
    })
}
