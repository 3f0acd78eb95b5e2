//! Reading the event store for consumers: pages of one stream, pages of the
//! global order, and subscriptions that catch up and then follow it live.
//!
//! Transport-neutral: the gRPC `tally.v1.EventStore` service and the REST
//! `/v1/events` endpoints both sit on it and differ only in encoding.

mod params;
mod reads;
mod subscription;

pub use params::{DEFAULT_PAGE_SIZE, Kind, MAX_PAGE_SIZE, MAX_POSITION, StreamId, filter, page_size, position};
use reads::store_failed;
pub use reads::{AllPage, EventReads, StreamPage};
pub use subscription::{Deliveries, Delivery};
