//! `tally.v1.EventStore`: replay and live tailing for consumers that do not
//! (or cannot yet) read Kafka.

use futures::{StreamExt, stream::BoxStream};
use tally_platform::error::ApiError;
use tally_proto::v1::{self, event_store_server::EventStore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use tally_streaming::into_envelope;

use super::replay::{self, Delivery, EventReads, Kind, StreamId};

/// The gRPC service over the shared [`EventReads`].
#[derive(Clone)]
pub struct EventStoreGrpc {
    reads: EventReads,
}

impl EventStoreGrpc {
    pub fn new(reads: EventReads) -> Self {
        Self { reads }
    }
}

fn filter(categories: Vec<String>, event_types: Vec<String>) -> Result<tally_event_store::reader::Filter, ApiError> {
    replay::filter(categories, event_types, |kind, index| match kind {
        Kind::Category => format!("categories[{index}]"),
        Kind::EventType => format!("event_types[{index}]"),
    })
}

fn to_response(delivery: Delivery) -> v1::SubscribeResponse {
    let message = match delivery {
        Delivery::Event(event) => v1::subscribe_response::Message::Event(into_envelope(event)),
        Delivery::CaughtUp { head_position } => {
            v1::subscribe_response::Message::CaughtUp(v1::CaughtUp { head_position })
        }
    };
    v1::SubscribeResponse { message: Some(message) }
}

#[tonic::async_trait]
impl EventStore for EventStoreGrpc {
    #[tracing::instrument(skip_all, fields(stream_id = %request.get_ref().stream_id))]
    async fn read_stream(
        &self,
        request: Request<v1::ReadStreamRequest>,
    ) -> Result<Response<v1::ReadStreamResponse>, Status> {
        let req = request.into_inner();
        let stream = StreamId::parse(&req.stream_id, "stream_id")?;
        let from_version = replay::position(req.from_version, "from_version")?;
        let limit = replay::page_size(req.page_size.into(), "page_size")?;
        let page = self.reads.read_stream(&stream, from_version, limit).await?;
        Ok(Response::new(v1::ReadStreamResponse {
            events: page.events.into_iter().map(into_envelope).collect(),
            end_of_stream: page.end_of_stream,
            next_version: page.next_version,
        }))
    }

    #[tracing::instrument(skip_all, fields(after_position = request.get_ref().after_position))]
    async fn read_all(&self, request: Request<v1::ReadAllRequest>) -> Result<Response<v1::ReadAllResponse>, Status> {
        let req = request.into_inner();
        let after = replay::position(req.after_position, "after_position")?;
        let limit = replay::page_size(req.page_size.into(), "page_size")?;
        let filter = filter(req.categories, req.event_types)?;
        let page = self.reads.read_all(after, limit, &filter).await?;
        Ok(Response::new(v1::ReadAllResponse {
            events: page.events.into_iter().map(into_envelope).collect(),
            next_after_position: page.next_after_position,
            head_position: page.head_position,
        }))
    }

    type SubscribeStream = BoxStream<'static, Result<v1::SubscribeResponse, Status>>;

    #[tracing::instrument(skip_all, fields(after_position = request.get_ref().after_position))]
    async fn subscribe(
        &self,
        request: Request<v1::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let req = request.into_inner();
        let after = replay::position(req.after_position, "after_position")?;
        let filter = filter(req.categories, req.event_types)?;
        // Dropping this stream (the client cancelled or disconnected) closes
        // the channel, which ends the subscription's task.
        let deliveries = ReceiverStream::new(self.reads.subscribe(after, filter))
            .map(|item| item.map(to_response).map_err(Status::from));
        Ok(Response::new(deliveries.boxed()))
    }
}
