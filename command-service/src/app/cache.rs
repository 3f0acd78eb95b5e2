//! Aggregate states kept in memory between commands.
//!
//! Re-reading a stream for every command would cost a query per command; the
//! cache keeps the folded state with the version it reflects. It never needs
//! to be right: a stale entry only makes the append fail its version check,
//! after which the executor refreshes the entry from the store and retries.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use quick_cache::sync::Cache;

/// A folded aggregate and where its stream stood.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub state: A,
    pub version: u64,
    /// Position of the stream's last event (0 if it has none).
    pub last_position: u64,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl<A: Default> Default for Loaded<A> {
    fn default() -> Self {
        Self { state: A::default(), version: 0, last_position: 0, created_at: None, updated_at: None }
    }
}

/// A bounded map from stream id to its latest known state.
pub struct StreamCache<A: Clone + Send + Sync + 'static> {
    entries: Cache<String, Arc<Loaded<A>>>,
}

impl<A: Clone + Send + Sync + 'static> StreamCache<A> {
    pub fn new(capacity: usize) -> Self {
        Self { entries: Cache::new(capacity.max(1)) }
    }

    pub fn get(&self, stream_id: &str) -> Option<Arc<Loaded<A>>> {
        self.entries.get(stream_id)
    }

    /// Stores `loaded` unless the cache already holds a newer version (two
    /// commands of one stream can finish out of order).
    pub fn offer(&self, stream_id: &str, loaded: Arc<Loaded<A>>) {
        match self.entries.get(stream_id) {
            Some(current) if current.version > loaded.version => {}
            _ => self.entries.insert(stream_id.to_owned(), loaded),
        }
    }

    pub fn forget(&self, stream_id: &str) {
        self.entries.remove(stream_id);
    }
}
