//! The backlog: records read from Kafka, queued per partition until a lane takes them.
//!
//! One reader hands every record to the backlog, and any idle lane takes the next batch of
//! any partition that no other lane is applying. A partition is applied by one lane at a
//! time, batch after batch, so its records keep their order; but no partition belongs to a
//! lane. Pinning partitions to lanes left lanes idle behind a busy one: librdkafka hands
//! out long runs of one partition, so the reader sat blocked on that partition's full lane
//! while the other lanes ran dry, and the partitions two lanes shared drained last, at one
//! lane's speed (docs/benchmarks.md, "ingest").
//!
//! A batch may hold several partitions: the lane's first partition tops it up with the
//! others that are due and fit whole ([`Backlog::take`]). The rollup writes one row per key
//! and batch, so many small one-partition batches (six partitions on one pod, or a paced
//! load) cost more rows per event, and their lanes queued on each other's rollup rows.
//!
//! The backlog is bounded as a whole, not per lane or partition: the reader waits only
//! once it holds `capacity` records, and then every lane has a batch to take unless they
//! all belong to fewer partitions than there are lanes. That holds as long as librdkafka
//! keeps fetching every partition: with its default `fetch.queue.backoff.ms` (1 s) the
//! backlog held runs of thousands of records of the one partition a lane was applying
//! (`ConsumerOptions::queue_backoff` in tally-streaming). Pausing a full partition in Kafka
//! instead (and reading on) cost more than it saved: delivery fell to a steady ~5,800
//! records/s while Kafka held a backlog (docs/benchmarks.md, "ingest").
//!
//! Should librdkafka hand out a record the backlog already holds (a partition assigned
//! again after a rebalance starts over at the read DB's offset), [`Backlog::push`] drops it
//! as [`Pushed::Stale`].

use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, MutexGuard},
};

use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

use super::lanes::BatchShape;
use crate::{message::Message, offsets::Partition};

/// What [`Backlog::push`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// At or before an offset already queued or taken for its partition: dropped.
    Stale,
}

/// A lane's batch: the next records of one or more partitions, each partition's in offset
/// order. A lane applies them all in one transaction, and none of these partitions goes to
/// another lane until it has [`finished`](Backlog::finished).
#[derive(Debug)]
pub struct Batch {
    pub partitions: Vec<Partition>,
    pub records: Vec<Message>,
}

/// Records waiting per partition; see the module docs.
#[derive(Debug)]
pub struct Backlog {
    state: Mutex<State>,
    /// Wakes lanes when a partition may have become ready for one.
    work: Notify,
    /// Wakes the reader when a lane has taken records.
    space: Notify,
    shape: BatchShape,
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    queues: HashMap<Partition, Queue>,
    queued: usize,
}

#[derive(Debug, Default)]
struct Queue {
    records: VecDeque<Message>,
    /// Since when the oldest queued record has waited for a lane.
    waiting_since: Option<Instant>,
    /// A lane is applying a batch of this partition.
    in_flight: bool,
    /// The highest offset queued so far.
    last_offset: Option<i64>,
}

/// What a lane looking for work found.
enum Pick {
    Take(Partition),
    WaitUntil(Instant),
    Nothing,
}

impl Backlog {
    /// Batches shaped by `shape`, at most `capacity` records queued.
    pub fn new(shape: BatchShape, capacity: usize) -> Self {
        Backlog {
            state: Mutex::new(State::default()),
            work: Notify::new(),
            space: Notify::new(),
            shape: BatchShape { max_events: shape.max_events.max(1), ..shape },
            capacity: capacity.max(1),
        }
    }

    /// Queues `message` behind the others of its partition, once there is room.
    pub async fn push(&self, message: Message) -> Pushed {
        loop {
            // Registered before looking, so a take between the look and the wait wakes us.
            let space = self.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            if self.lock().queued < self.capacity {
                break;
            }
            space.await;
        }
        self.queue(message)
    }

    fn queue(&self, message: Message) -> Pushed {
        let partition = (message.source.topic.clone(), message.source.partition);
        let offset = message.source.offset;
        let mut state = self.lock();
        state.queued += 1;
        let queue = state.queues.entry(partition).or_default();
        if queue.last_offset.is_some_and(|last| offset <= last) {
            state.queued -= 1;
            return Pushed::Stale;
        }
        queue.last_offset = Some(offset);
        queue.records.push_back(message);
        let queued = queue.records.len();
        if queued == 1 {
            queue.waiting_since = Some(Instant::now());
        }
        // A lane needs to hear of a partition when it has something to start a batch
        // from, and again when a full batch is ready; in between it waits on a timer.
        if !queue.in_flight && (queued == 1 || queued == self.shape.max_events) {
            self.work.notify_waiters();
        }
        Pushed::Queued
    }

    /// The next batch for a lane: the partition with the most records among those no lane
    /// is applying, once it has `max_events` or its oldest has waited `max_wait`. `None`
    /// once `shutdown` fires.
    pub async fn next_batch(&self, shutdown: &CancellationToken) -> Option<Batch> {
        loop {
            // Registered before looking, so a push between the look and the wait wakes us.
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let deadline = match self.pick() {
                Pick::Take(partition) => return Some(self.take(partition)),
                Pick::WaitUntil(deadline) => Some(deadline),
                Pick::Nothing => None,
            };
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {}
            }
        }
    }

    /// A lane has committed (or given up on) `batch`: its partitions' next batches may go.
    pub fn finished(&self, batch: &Batch) {
        let mut state = self.lock();
        let mut ready = false;
        for partition in &batch.partitions {
            if let Some(queue) = state.queues.get_mut(partition) {
                queue.in_flight = false;
                ready |= !queue.records.is_empty();
            }
        }
        if ready {
            self.work.notify_waiters();
        }
    }

    /// Records queued over all partitions.
    pub fn queued(&self) -> usize {
        self.lock().queued
    }

    fn pick(&self) -> Pick {
        let now = Instant::now();
        let state = self.lock();
        let mut best: Option<(&Partition, usize, Instant)> = None;
        let mut earliest: Option<Instant> = None;
        for (partition, queue) in state.queues.iter() {
            let Some(since) = queue.waiting_since.filter(|_| !queue.in_flight && !queue.records.is_empty()) else {
                continue;
            };
            if !self.due(queue, now) {
                let at = since + self.shape.max_wait;
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
                continue;
            }
            // Fullest first, then longest waiting: the partition furthest behind.
            let better = best.is_none_or(|(_, len, at)| {
                (queue.records.len(), std::cmp::Reverse(since)) > (len, std::cmp::Reverse(at))
            });
            if better {
                best = Some((partition, queue.records.len(), since));
            }
        }
        match (best, earliest) {
            (Some((partition, _, _)), _) => Pick::Take(partition.clone()),
            (None, Some(deadline)) => Pick::WaitUntil(deadline),
            (None, None) => Pick::Nothing,
        }
    }

    /// Takes the next batch of `first`, topped up to `max_events` with every other partition
    /// that is due as well and fits whole, fullest first (see the module docs). Only due
    /// partitions: one that is not would otherwise leave sooner than on its own, and be
    /// in flight when it becomes due.
    fn take(&self, first: Partition) -> Batch {
        let now = Instant::now();
        let mut state = self.lock();
        let mut records = Vec::new();
        let mut partitions = vec![first.clone()];
        let queue = state.queues.get_mut(&first).expect("picked partitions are queued");
        let n = queue.records.len().min(self.shape.max_events);
        records.extend(queue.records.drain(..n));
        queue.in_flight = true;
        // The rest waited as long, but cannot go before this batch commits anyway.
        queue.waiting_since = (!queue.records.is_empty()).then_some(now);

        let mut more: Vec<(&Partition, usize)> = state
            .queues
            .iter()
            .filter(|(_, q)| !q.in_flight && !q.records.is_empty() && self.due(q, now))
            .map(|(p, q)| (p, q.records.len()))
            .collect();
        more.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let mut room = self.shape.max_events - records.len();
        let mut also = Vec::new();
        for (partition, len) in more {
            if len <= room {
                room -= len;
                also.push(partition.clone());
            }
        }
        for partition in also {
            let queue = state.queues.get_mut(&partition).expect("listed partitions are queued");
            records.extend(queue.records.drain(..));
            queue.in_flight = true;
            queue.waiting_since = None;
            partitions.push(partition);
        }
        state.queued -= records.len();
        self.space.notify_waiters();
        Batch { partitions, records }
    }

    /// Whether `queue` would make a batch of its own now: full, or its oldest record has
    /// waited `max_wait`. The one rule for both picking a batch and topping one up.
    fn due(&self, queue: &Queue, now: Instant) -> bool {
        queue.records.len() >= self.shape.max_events
            || queue.waiting_since.is_some_and(|since| since + self.shape.max_wait <= now)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only plain data behind, still consistent.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use super::*;
    use crate::message::{Body, Source};

    const SHAPE: BatchShape = BatchShape { max_events: 3, max_wait: Duration::from_millis(20) };

    fn record(topic: &str, partition: i32, offset: i64) -> Message {
        let source = Source { topic: topic.to_owned(), partition, offset };
        Message { source, headers: Vec::new(), body: Body::Undecodable { raw: Vec::new(), reason: String::new() } }
    }

    fn offsets(batch: &Batch) -> Vec<i64> {
        batch.records.iter().map(|m| m.source.offset).collect()
    }

    fn p(topic: &str, partition: i32) -> Partition {
        (topic.to_owned(), partition)
    }

    #[tokio::test(start_paused = true)]
    async fn a_partition_goes_out_in_order_one_batch_at_a_time() {
        let backlog = Backlog::new(SHAPE, 100);
        let never = CancellationToken::new();
        for offset in 0..5 {
            assert_eq!(backlog.push(record("a", 0, offset)).await, Pushed::Queued);
        }
        let first = backlog.next_batch(&never).await.unwrap();
        assert_eq!((first.partitions.clone(), offsets(&first)), (vec![p("a", 0)], vec![0, 1, 2]));
        // Offsets 3 and 4 wait for the first batch, however long a second lane asks.
        let second = tokio::time::timeout(Duration::from_secs(5), backlog.next_batch(&never)).await;
        assert!(second.is_err(), "a partition in flight went to a second lane: {second:?}");
        backlog.finished(&first);
        assert_eq!(offsets(&backlog.next_batch(&never).await.unwrap()), vec![3, 4]);
        assert_eq!(backlog.queued(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_batch_waits_at_most_max_wait_for_more() {
        let backlog = Backlog::new(SHAPE, 100);
        let start = Instant::now();
        backlog.push(record("a", 0, 7)).await;
        let batch = backlog.next_batch(&CancellationToken::new()).await.unwrap();
        assert_eq!(offsets(&batch), vec![7]);
        assert_eq!(start.elapsed(), SHAPE.max_wait);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_batch_does_not_wait() {
        let backlog = Arc::new(Backlog::new(SHAPE, 100));
        backlog.push(record("a", 0, 0)).await;
        let start = Instant::now();
        let lane = tokio::spawn({
            let backlog = backlog.clone();
            async move { backlog.next_batch(&CancellationToken::new()).await.unwrap() }
        });
        tokio::task::yield_now().await;
        backlog.push(record("a", 0, 1)).await;
        backlog.push(record("a", 0, 2)).await;
        assert_eq!(offsets(&lane.await.unwrap()), vec![0, 1, 2]);
        assert!(start.elapsed() < SHAPE.max_wait, "waited {:?} with a full batch", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_lanes_take_other_partitions_fullest_first() {
        let backlog = Backlog::new(SHAPE, 100);
        let never = CancellationToken::new();
        for offset in 0..4 {
            backlog.push(record("a", 0, offset)).await;
        }
        for offset in 0..6 {
            backlog.push(record("a", 1, offset)).await;
        }
        backlog.push(record("b", 0, 0)).await;
        let lanes =
            [backlog.next_batch(&never).await, backlog.next_batch(&never).await, backlog.next_batch(&never).await];
        let got: Vec<_> = lanes.iter().map(|b| b.as_ref().map(|b| (b.partitions.clone(), offsets(b)))).collect();
        assert_eq!(
            got,
            [
                Some((vec![p("a", 1)], vec![0, 1, 2])),
                Some((vec![p("a", 0)], vec![0, 1, 2])),
                Some((vec![p("b", 0)], vec![0]))
            ],
            "three lanes, three partitions, the one furthest behind first"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_batch_takes_along_the_other_due_partitions_that_fit_whole() {
        let shape = BatchShape { max_events: 5, max_wait: Duration::from_millis(20) };
        let backlog = Backlog::new(shape, 100);
        let never = CancellationToken::new();
        for offset in 0..2 {
            backlog.push(record("a", 0, offset)).await;
        }
        backlog.push(record("a", 1, 7)).await;
        for offset in 0..3 {
            backlog.push(record("a", 2, offset)).await;
        }
        tokio::time::sleep(shape.max_wait).await;
        // Not yet due: waits for a batch of its own.
        backlog.push(record("b", 0, 0)).await;
        let batch = backlog.next_batch(&never).await.unwrap();
        // a2 is the fullest; a0 fits whole beside it, a1 then does not.
        assert_eq!(batch.partitions, vec![p("a", 2), p("a", 0)]);
        assert_eq!(offsets(&batch), vec![0, 1, 2, 0, 1]);
        let next = backlog.next_batch(&never).await.unwrap();
        assert_eq!((next.partitions.clone(), offsets(&next)), (vec![p("a", 1)], vec![7]));
        // Every partition of a batch is in flight until it has finished.
        backlog.push(record("a", 0, 2)).await;
        let waited = tokio::time::timeout(Duration::from_secs(1), backlog.next_batch(&never)).await.unwrap().unwrap();
        assert_eq!(waited.partitions, vec![p("b", 0)], "a0 went out while its batch was in flight");
        backlog.finished(&batch);
        assert_eq!(offsets(&backlog.next_batch(&never).await.unwrap()), vec![2]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_reader_waits_while_the_backlog_is_full_and_goes_on_once_a_lane_takes() {
        let backlog = Arc::new(Backlog::new(SHAPE, 4));
        for offset in 0..4 {
            backlog.push(record("a", 0, offset)).await;
        }
        let reader = tokio::spawn({
            let backlog = backlog.clone();
            async move { backlog.push(record("b", 0, 0)).await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!reader.is_finished(), "pushed a fifth record into a backlog of 4");
        let batch = backlog.next_batch(&CancellationToken::new()).await.unwrap();
        assert_eq!(offsets(&batch), vec![0, 1, 2]);
        assert_eq!(reader.await.unwrap(), Pushed::Queued);
        assert_eq!(backlog.queued(), 2);
    }

    #[tokio::test]
    async fn a_record_at_or_before_one_already_queued_is_dropped() {
        let backlog = Backlog::new(SHAPE, 100);
        backlog.push(record("a", 0, 10)).await;
        backlog.push(record("a", 0, 11)).await;
        assert_eq!(backlog.push(record("a", 0, 11)).await, Pushed::Stale);
        assert_eq!(backlog.push(record("a", 0, 3)).await, Pushed::Stale);
        assert_eq!(backlog.push(record("a", 1, 3)).await, Pushed::Queued, "offsets are per partition");
        let _ = backlog.take(p("a", 0));
        assert_eq!(backlog.push(record("a", 0, 11)).await, Pushed::Stale, "also once taken");
        assert_eq!(backlog.push(record("a", 0, 12)).await, Pushed::Queued);
        assert_eq!(backlog.queued(), 2, "stale records take no room");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_lane_stops_at_shutdown() {
        let backlog = Backlog::new(SHAPE, 100);
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        assert!(backlog.next_batch(&shutdown).await.is_none());
    }
}
