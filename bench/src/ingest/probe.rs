//! End-to-end lag: a marker pageview for a dedicated probe site, then `GetAggregate` with
//! the batch's `min_position` until the query-service answers. The lag is the time from the
//! acknowledgement of the marker to that answer: when a dashboard could first count it.

use std::time::{Duration, Instant};

use tally_proto::v1::command_service_client::CommandServiceClient;
use tally_proto::v1::query_service_client::QueryServiceClient;
use tally_proto::v1::{AggregateRequest, AnalyticsEventInput, Metrics, Period, RecordEventsRequest};
use tonic::Code;
use tonic::transport::Channel;

pub type Commands = CommandServiceClient<Channel>;
pub type Queries = QueryServiceClient<Channel>;

/// What one probe saw.
pub struct Sample {
    /// `Ok(lag)` or why it failed.
    pub lag: Result<Duration, String>,
}

/// The site's metrics over the last 7 local days (the run always falls inside them),
/// answering no older than `position`, asked with the site's read `key`; re-asks while the
/// service's bounded wait runs out.
pub async fn aggregate(
    queries: &mut Queries,
    site_id: &str,
    key: &str,
    position: u64,
    limit: Duration,
) -> Result<Metrics, String> {
    let deadline = Instant::now() + limit;
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {key}").parse().map_err(|_| "a read key that is no header value".to_owned())?;
    loop {
        let mut request = tonic::Request::new(AggregateRequest {
            site_id: site_id.to_owned(),
            period: Period::SevenDays as i32,
            min_position: Some(position),
            ..Default::default()
        });
        request.metadata_mut().insert("authorization", bearer.clone());
        match queries.get_aggregate(request).await {
            Ok(r) => return r.into_inner().metrics.ok_or_else(|| "GetAggregate returned no metrics".to_owned()),
            Err(s) if s.code() == Code::Unavailable && Instant::now() < deadline => {}
            Err(s) => return Err(format!("GetAggregate at position {position}: {:?} {}", s.code(), s.message())),
        }
    }
}

/// Sends marker `k` (its own visitor) and follows it into `aggregate`.
pub async fn probe(
    mut commands: Commands,
    mut queries: Queries,
    site_id: String,
    key: String,
    k: u64,
    limit: Duration,
) -> Sample {
    let marker = AnalyticsEventInput {
        name: "pageview".to_owned(),
        url: format!("https://probe.bench.example/marker/{k}"),
        ip: format!("192.0.2.{}", k % 250 + 1),
        user_agent: format!("Mozilla/5.0 (X11; Linux x86_64; rv:{}.0) Gecko/20100101 Firefox/128.0", k % 1000),
        ..Default::default()
    };
    let request = RecordEventsRequest { site_id: site_id.clone(), events: vec![marker], ..Default::default() };
    let position = match commands.record_events(request).await {
        Ok(r) => {
            let r = r.into_inner();
            if r.accepted != 1 || r.global_position == 0 {
                return Sample {
                    lag: Err(format!("probe {k}: accepted {} at position {}", r.accepted, r.global_position)),
                };
            }
            r.global_position
        }
        Err(s) => return Sample { lag: Err(format!("probe {k}: RecordEvents {:?} {}", s.code(), s.message())) },
    };
    let acked = Instant::now();
    Sample { lag: aggregate(&mut queries, &site_id, &key, position, limit).await.map(|_| acked.elapsed()) }
}
