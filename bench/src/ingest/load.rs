//! The ingest clients: each sends batches of generated events over gRPC `RecordEvents` or
//! REST `POST /v1/events`, closed loop, until the deadline.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use tally_proto::v1::RecordEventsRequest;
use tally_proto::v1::command_service_client::CommandServiceClient;
use tonic::transport::{Channel, Endpoint};

use super::events::{Event, Generator};
use crate::cli::Transport;
use crate::latency::Latencies;
use crate::progress::Live;

/// What one client did.
#[derive(Default)]
pub struct ClientResult {
    pub requests: u64,
    pub accepted: u64,
    pub latencies: Latencies,
    pub errors: u64,
    pub sample_error: Option<String>,
    /// The highest global position any of its requests appended.
    pub max_position: u64,
}

/// A connection to the command-service over either transport.
pub enum Sender {
    Grpc(CommandServiceClient<Channel>),
    Rest { http: reqwest::Client, url: String },
}

/// What the service answered for one batch.
pub struct Answer {
    pub accepted: u64,
    pub position: u64,
}

impl Sender {
    pub async fn connect(transport: Transport, base: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(match transport {
            Transport::Grpc => {
                let channel = Endpoint::from_shared(base.to_owned())?
                    .connect_timeout(timeout)
                    .timeout(timeout)
                    .tcp_nodelay(true)
                    .connect()
                    .await
                    .with_context(|| format!("gRPC connect to {base}"))?;
                // Batches of 100 events are ~30 kB: the 4 MB default limits are ample.
                Self::Grpc(CommandServiceClient::new(channel))
            }
            Transport::Rest => Self::Rest {
                // One keep-alive connection per client, like the profile workload.
                http: reqwest::Client::builder()
                    .timeout(timeout)
                    .pool_max_idle_per_host(1)
                    .tcp_nodelay(true)
                    .build()?,
                url: format!("{base}/v1/events"),
            },
        })
    }

    /// Records `events` for `site_id`; an event that is not accepted is an error.
    pub async fn send(&mut self, site_id: &str, events: &[Event]) -> Result<Answer, String> {
        let want = events.len() as u64;
        let answer = match self {
            Self::Grpc(client) => {
                let request = RecordEventsRequest {
                    site_id: site_id.to_owned(),
                    events: events.iter().map(Event::to_proto).collect(),
                    ..Default::default()
                };
                let r = client
                    .record_events(request)
                    .await
                    .map_err(|s| format!("RecordEvents: {:?} {}", s.code(), s.message()))?
                    .into_inner();
                if r.rejected > 0 || r.dropped_bots > 0 || r.outcomes.iter().any(|o| o.duplicate) {
                    let bad = r.outcomes.iter().find(|o| !o.accepted || o.duplicate);
                    return Err(format!(
                        "RecordEvents: {} rejected, {} bots; first: {bad:?}",
                        r.rejected, r.dropped_bots
                    ));
                }
                Answer { accepted: u64::from(r.accepted), position: r.global_position }
            }
            Self::Rest { http, url } => {
                let body = serde_json::json!({
                    "site_id": site_id,
                    "events": events.iter().map(Event::to_json).collect::<Vec<_>>(),
                });
                let response =
                    http.post(url.as_str()).json(&body).send().await.map_err(|e| format!("POST /v1/events: {e}"))?;
                let status = response.status();
                let view: serde_json::Value =
                    response.json().await.map_err(|e| format!("POST /v1/events: {status}: {e}"))?;
                if !status.is_success() || view["rejected"] != 0 || view["dropped_bots"] != 0 {
                    return Err(format!("POST /v1/events: {status}: {view}"));
                }
                Answer {
                    accepted: view["accepted"].as_u64().unwrap_or(0),
                    position: view["global_position"].as_u64().unwrap_or(0),
                }
            }
        };
        if answer.accepted != want {
            return Err(format!("{} of {want} events accepted", answer.accepted));
        }
        Ok(answer)
    }
}

/// One client's closed loop until `deadline`.
pub async fn client(
    mut sender: Sender,
    mut generator: Generator,
    site_ids: Arc<Vec<String>>,
    batch: usize,
    pace: Option<Duration>,
    deadline: Instant,
    live: Arc<Live>,
) -> ClientResult {
    let mut out = ClientResult::default();
    // Paced: one batch per `pace`, late ones sent as soon as the previous answer is in
    // (never two at once), so the offered rate holds unless the service cannot take it.
    let mut ticks = pace.map(|p| {
        let mut t = tokio::time::interval(p);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    while Instant::now() < deadline {
        if let Some(ticks) = ticks.as_mut() {
            ticks.tick().await;
            if Instant::now() >= deadline {
                break;
            }
        }
        let (site, events) = generator.batch(batch);
        let started = Instant::now();
        let result = sender.send(&site_ids[site], &events).await;
        out.requests += 1;
        match result {
            Ok(answer) => {
                out.latencies.record(started.elapsed());
                out.accepted += answer.accepted;
                out.max_position = out.max_position.max(answer.position);
                live.ok.fetch_add(answer.accepted, Ordering::Relaxed);
            }
            Err(e) => {
                out.errors += 1;
                live.errors.fetch_add(1, Ordering::Relaxed);
                out.sample_error.get_or_insert(e);
            }
        }
    }
    out
}
