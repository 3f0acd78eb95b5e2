//! Keyset pagination of lists: a page size and where the page starts.

use super::{Cursor, model::ProfileRecord};

/// Page size when the client does not choose one.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page; a bigger `page_size` is coerced to it (AIP-158).
pub const MAX_PAGE_SIZE: usize = 500;

/// Which page to read: at most `size` (1..=[`MAX_PAGE_SIZE`]) items after
/// `after` (from the start when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    size: usize,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// `size` is clamped into 1..=[`MAX_PAGE_SIZE`]; transports validate
    /// before, so a clamp here only guards the invariant.
    pub fn new(size: usize, after: Option<Cursor>) -> Self {
        Self { size: size.clamp(1, MAX_PAGE_SIZE), after }
    }

    pub fn size(&self) -> usize {
        self.size
    }
}

/// One page of profiles in id order; `next` is set when more follow.
#[derive(Debug, Clone)]
pub struct ProfilePage {
    pub profiles: Vec<ProfileRecord>,
    pub next: Option<Cursor>,
}
