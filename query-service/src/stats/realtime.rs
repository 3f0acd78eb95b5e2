//! The realtime count as a live stream, shared by gRPC `StreamRealtime` and
//! the REST server-sent events.

use std::time::Duration;

use futures::Stream;

use crate::read::Reads;

/// How often a realtime stream re-counts; a message goes out when the count
/// changes, or at least every [`HEARTBEAT`].
pub const REALTIME_POLL: Duration = Duration::from_secs(2);
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// The realtime count now, then on every change (and every heartbeat).
pub fn updates(
    reads: Reads,
    site: uuid::Uuid,
) -> impl Stream<Item = Result<(u64, chrono::DateTime<chrono::Utc>), crate::read::ReadError>> + Send {
    struct State {
        reads: Reads,
        site: uuid::Uuid,
        last: Option<u64>,
        sent_at: tokio::time::Instant,
        first: bool,
    }
    let start = State { reads, site, last: None, sent_at: tokio::time::Instant::now(), first: true };
    futures::stream::unfold(start, |mut s| async move {
        loop {
            if !s.first {
                tokio::time::sleep(REALTIME_POLL).await;
            }
            s.first = false;
            match s.reads.realtime(s.site, None).await {
                Ok((n, at)) => {
                    if s.last != Some(n) || s.sent_at.elapsed() >= HEARTBEAT {
                        s.last = Some(n);
                        s.sent_at = tokio::time::Instant::now();
                        return Some((Ok((n, at)), s));
                    }
                }
                Err(e) => return Some((Err(e), s)),
            }
        }
    })
}
