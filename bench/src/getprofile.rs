//! The read load: GetProfile over gRPC from many concurrent tasks that share a few keep-alive
//! HTTP/2 connections (as a frontend's pooled channel would), each asking for a random
//! seeded profile. Closed loop: every task sends its next request when the previous one is
//! answered, so the rate found is the highest the service sustains at that concurrency.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tally_proto::v1::GetProfileRequest;
use tally_proto::v1::query_service_client::QueryServiceClient;
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};

use crate::http1::Http1;
use crate::latency::{Latencies, LatencySummary};
use crate::progress::Live;
use crate::seed;
use crate::window::Window;

const SAMPLE_ERRORS: usize = 5;
const ERROR_BACKOFF: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy)]
pub struct ReadLoad {
    /// HTTP/2 connections the tasks share (round robin).
    pub connections: u32,
    /// Requests in flight.
    pub concurrency: u32,
    /// Seeded profiles 1..=profiles exist.
    pub profiles: u64,
    pub timeout: Duration,
    /// Each task's interval between requests; `None` = closed loop at full speed. A paced
    /// load checks availability without taking the CPU a measured job needs.
    pub pace: Option<Duration>,
}

/// What the tasks measured together.
#[derive(Debug, Clone, Serialize)]
pub struct ReadResult {
    pub concurrency: u32,
    pub connections: u32,
    /// Answers completed inside the window, per second.
    pub rps: f64,
    pub requests: u64,
    /// Failed requests over the whole run (must be 0).
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    pub sample_errors: Vec<String>,
    pub latency: LatencySummary,
    /// The longest time any task went without an answer: a stall of the service (e.g. while
    /// a rebuild switches versions) shows here even when no request fails.
    pub longest_gap_ms: f64,
}

#[derive(Default)]
struct Outcome {
    latencies: Latencies,
    error_kinds: BTreeMap<String, u64>,
    sample_errors: Vec<String>,
    longest_gap: Duration,
}

impl ReadLoad {
    /// Opens the shared connections (not measured).
    pub async fn connect(&self, base: &str) -> anyhow::Result<Vec<Channel>> {
        let mut channels = Vec::new();
        for _ in 0..self.connections.max(1) {
            let channel = Endpoint::from_shared(base.to_owned())?
                .connect_timeout(self.timeout)
                .timeout(self.timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(10))
                .connect()
                .await
                .with_context(|| format!("gRPC connect to {base}"))?;
            channels.push(channel);
        }
        Ok(channels)
    }

    /// Runs until the window closes or `stop` is set; counts answers inside `window`.
    pub async fn run(
        &self,
        channels: &[Channel],
        window: Window,
        stop: Arc<AtomicBool>,
        live: Arc<Live>,
    ) -> ReadResult {
        let mut tasks = JoinSet::new();
        for i in 0..self.concurrency {
            let client = QueryServiceClient::new(channels[i as usize % channels.len()].clone());
            tasks.spawn(drive(Reader::Grpc(client), *self, window, stop.clone(), live.clone()));
        }
        self.collect(tasks, window).await
    }

    /// The same load as `GET /v1/profiles/{id}` (REST/JSON), one keep-alive HTTP/1.1
    /// connection per request in flight: HTTP/1.1 has no multiplexing, so a browser or a
    /// backend's pool holds as many connections as it has requests outstanding.
    pub async fn run_rest(
        &self,
        base: &str,
        window: Window,
        stop: Arc<AtomicBool>,
        live: Arc<Live>,
    ) -> anyhow::Result<ReadResult> {
        let mut tasks = JoinSet::new();
        for _ in 0..self.concurrency {
            let reader = Reader::Rest(Http1::new(base, self.timeout)?);
            tasks.spawn(drive(reader, *self, window, stop.clone(), live.clone()));
        }
        Ok(self.collect(tasks, window).await)
    }

    async fn collect(&self, mut tasks: JoinSet<Outcome>, window: Window) -> ReadResult {
        let mut all = Outcome::default();
        while let Some(done) = tasks.join_next().await {
            // A panicked task is a bug in this program; count it rather than lose the run.
            let o = done.unwrap_or_else(|e| Outcome {
                error_kinds: BTreeMap::from([("panic".to_owned(), 1)]),
                sample_errors: vec![e.to_string()],
                ..Outcome::default()
            });
            all.latencies.merge(&o.latencies);
            for (k, n) in o.error_kinds {
                *all.error_kinds.entry(k).or_insert(0) += n;
            }
            all.sample_errors.extend(o.sample_errors);
            all.longest_gap = all.longest_gap.max(o.longest_gap);
        }
        all.sample_errors.truncate(SAMPLE_ERRORS);
        let latency = all.latencies.summary();
        let end = window.end.min(Instant::now());
        let seconds = end.saturating_duration_since(window.start).as_secs_f64();
        ReadResult {
            concurrency: self.concurrency,
            connections: self.connections,
            rps: if seconds > 0.0 { latency.count as f64 / seconds } else { 0.0 },
            requests: latency.count,
            errors: all.error_kinds.values().sum(),
            error_kinds: all.error_kinds,
            sample_errors: all.sample_errors,
            latency,
            longest_gap_ms: all.longest_gap.as_secs_f64() * 1000.0,
        }
    }
}

enum Reader {
    Grpc(QueryServiceClient<Channel>),
    Rest(Http1),
}

impl Reader {
    /// Fetches profile `id`; `Err((kind, detail))` for anything but that profile.
    async fn get(&mut self, id: &str) -> Result<(), (String, String)> {
        let got = match self {
            Self::Grpc(client) => {
                let request = GetProfileRequest { id: id.to_owned(), min_position: None };
                match client.get_profile(request).await {
                    Ok(profile) => profile.into_inner().id,
                    Err(status) => return Err((format!("grpc {:?}", status.code()), status.message().to_owned())),
                }
            }
            Self::Rest(http) => {
                let (status, body) =
                    http.get(&format!("/v1/profiles/{id}")).await.map_err(|e| ("transport".to_owned(), e))?;
                if !status.is_success() {
                    return Err((format!("http {}", status.as_u16()), String::from_utf8_lossy(&body).into_owned()));
                }
                #[derive(serde::Deserialize)]
                struct Answer {
                    id: String,
                }
                serde_json::from_slice::<Answer>(&body).map_err(|e| ("unexpected answer".to_owned(), e.to_string()))?.id
            }
        };
        if got == id { Ok(()) } else { Err(("wrong profile".to_owned(), format!("asked {id}, got {got}"))) }
    }

    /// After a request was abandoned (timed out): an HTTP/1.1 connection still owes its
    /// answer, so it is replaced; HTTP/2 streams are independent.
    fn abandoned(&mut self) {
        if let Self::Rest(http) = self {
            http.reset();
        }
    }
}

async fn drive(mut reader: Reader, load: ReadLoad, window: Window, stop: Arc<AtomicBool>, live: Arc<Live>) -> Outcome {
    let mut out = Outcome::default();
    let mut last_answer = Instant::now();
    let mut pace = load.pace.map(|every| {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    });
    while !stop.load(Ordering::Relaxed) && Instant::now() < window.end {
        if let Some(tick) = pace.as_mut() {
            tick.tick().await;
        }
        let n = rand::random_range(1..=load.profiles);
        let id = seed::profile_id(n).to_string();
        let started = Instant::now();
        let result = tokio::time::timeout(load.timeout, reader.get(&id)).await;
        let done = Instant::now();
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(failed)) => Some(failed),
            Err(_) => {
                reader.abandoned();
                Some(("timeout".to_owned(), format!("no answer within {:?}", load.timeout)))
            }
        };
        match error {
            None => {
                out.longest_gap = out.longest_gap.max(done - last_answer);
                last_answer = done;
                if window.contains(done) {
                    out.latencies.record(done - started);
                    live.ok.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some((kind, detail)) => {
                *out.error_kinds.entry(kind.clone()).or_insert(0) += 1;
                if out.sample_errors.len() < SAMPLE_ERRORS {
                    out.sample_errors.push(format!("{kind}: {detail}"));
                }
                live.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
    out
}
