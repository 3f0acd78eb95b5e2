//! `tally.v1.QueryService`: proto requests become reads here.

use tally_platform::error::ApiError;
use tally_proto::v1::{self, query_service_server::QueryService};
use tonic::{Request, Response, Status};

use super::{convert, stats};
use crate::{
    input,
    read::{PageRequest, ReadError, Reads},
};

/// The gRPC service over the shared [`Reads`].
#[derive(Clone)]
pub struct QueryGrpc {
    reads: Reads,
}

impl QueryGrpc {
    pub fn new(reads: Reads) -> Self {
        Self { reads }
    }
}

fn failed(e: ReadError) -> Status {
    e.log_if_internal();
    ApiError::from(e).into()
}

fn invalid(e: ApiError) -> Status {
    e.into()
}

#[tonic::async_trait]
impl QueryService for QueryGrpc {
    async fn get_profile(&self, request: Request<v1::GetProfileRequest>) -> Result<Response<v1::Profile>, Status> {
        let req = request.into_inner();
        let id = input::id(&req.id, "id").map_err(invalid)?;
        let found = self.reads.profile(id, req.min_position).await.map_err(failed)?;
        Ok(Response::new(convert::profile(found)))
    }

    async fn get_profile_by_handle(
        &self,
        request: Request<v1::GetProfileByHandleRequest>,
    ) -> Result<Response<v1::Profile>, Status> {
        let req = request.into_inner();
        let handle = input::handle(&req.handle, "handle").map_err(invalid)?;
        let found = self.reads.profile_by_handle(&handle, req.min_position).await.map_err(failed)?;
        Ok(Response::new(convert::profile(found)))
    }

    async fn list_profiles(
        &self,
        request: Request<v1::ListProfilesRequest>,
    ) -> Result<Response<v1::ListProfilesResponse>, Status> {
        let req = request.into_inner();
        let size = input::page_size(req.page_size).map_err(invalid)?;
        let after = input::cursor(&req.page_token, "page_token").map_err(invalid)?;
        let page = self.reads.profiles(PageRequest::new(size, after), req.min_position).await.map_err(failed)?;
        Ok(Response::new(v1::ListProfilesResponse {
            profiles: page.profiles.into_iter().map(convert::profile).collect(),
            next_page_token: page.next.map(|c| c.encode()).unwrap_or_default(),
        }))
    }

    async fn get_site(&self, request: Request<v1::GetSiteRequest>) -> Result<Response<v1::Site>, Status> {
        let req = request.into_inner();
        let id = input::id(&req.id, "id").map_err(invalid)?;
        let found = self.reads.site(id, req.min_position).await.map_err(failed)?;
        Ok(Response::new(convert::site(found)))
    }

    async fn get_aggregate(
        &self,
        request: Request<v1::AggregateRequest>,
    ) -> Result<Response<v1::AggregateResponse>, Status> {
        Ok(Response::new(
            stats::aggregate(&self.reads, stats::read_key(request.metadata()), request.into_inner()).await?,
        ))
    }

    async fn get_timeseries(
        &self,
        request: Request<v1::TimeseriesRequest>,
    ) -> Result<Response<v1::TimeseriesResponse>, Status> {
        Ok(Response::new(
            stats::timeseries(&self.reads, stats::read_key(request.metadata()), request.into_inner()).await?,
        ))
    }

    async fn get_breakdown(
        &self,
        request: Request<v1::BreakdownRequest>,
    ) -> Result<Response<v1::BreakdownResponse>, Status> {
        Ok(Response::new(
            stats::breakdown(&self.reads, stats::read_key(request.metadata()), request.into_inner()).await?,
        ))
    }

    async fn get_realtime(
        &self,
        request: Request<v1::RealtimeRequest>,
    ) -> Result<Response<v1::RealtimeResponse>, Status> {
        Ok(Response::new(
            stats::realtime(&self.reads, stats::read_key(request.metadata()), request.into_inner()).await?,
        ))
    }

    type StreamRealtimeStream = stats::RealtimeStream;

    async fn stream_realtime(
        &self,
        request: Request<v1::RealtimeRequest>,
    ) -> Result<Response<Self::StreamRealtimeStream>, Status> {
        Ok(Response::new(
            stats::stream_realtime(&self.reads, stats::read_key(request.metadata()), request.into_inner()).await?,
        ))
    }
}
