//! Tally's side: `aggregate` and `breakdown(dimension=page)` over the REST API of the real
//! query-service, one keep-alive client asking in turn (a dashboard's pattern).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;

use super::answer::{Answer, Range, Timed, TopPage, Totals};
use crate::progress::Live;

#[derive(Deserialize)]
struct Metrics {
    visitors: u64,
    visits: u64,
    pageviews: u64,
    bounce_rate: f64,
    visit_duration: f64,
}

#[derive(Deserialize)]
struct Aggregate {
    metrics: Metrics,
}

#[derive(Deserialize)]
struct Row {
    value: String,
    metrics: Metrics,
}

#[derive(Deserialize)]
struct Breakdown {
    rows: Vec<Row>,
}

/// Where the statistics are asked: the query-service, the site, its read key.
pub struct Target<'a> {
    pub base: &'a str,
    pub site: uuid::Uuid,
    pub key: &'a str,
}

/// Asks `warmup + reps` times for both; every answer must be a 200 (an error fails the run).
/// `live.ok` counts answered requests.
pub async fn measure(
    target: &Target<'_>,
    range: &Range,
    limit: u32,
    warmup: u32,
    reps: u32,
    live: Arc<Live>,
) -> anyhow::Result<(Timed, u64)> {
    let Target { base, site, key } = *target;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let period = format!("period=custom&start_date={}&end_date={}", range.first, range.last);
    let aggregate_url = format!("{base}/v1/sites/{site}/aggregate?{period}");
    let breakdown_url = format!("{base}/v1/sites/{site}/breakdown?{period}&dimension=page&limit={limit}");
    let mut timed = Timed::default();
    let mut answered = 0u64;
    for i in 0..warmup + reps {
        let (a, aggregate): (Duration, Aggregate) = get(&client, &aggregate_url, key).await?;
        let (b, breakdown): (Duration, Breakdown) = get(&client, &breakdown_url, key).await?;
        answered += 2;
        live.ok.store(answered, Ordering::Relaxed);
        if i >= warmup {
            timed.aggregate.push(a);
            timed.breakdown.push(b);
        }
        let m = &aggregate.metrics;
        let totals = Totals {
            visitors: m.visitors,
            visits: m.visits,
            pageviews: m.pageviews,
            bounce_rate: m.bounce_rate,
            visit_duration: m.visit_duration,
        };
        let pages = breakdown
            .rows
            .into_iter()
            .map(|r| TopPage { page: r.value, visitors: r.metrics.visitors, pageviews: r.metrics.pageviews })
            .collect();
        timed.answer = Some(Answer { totals, pages });
    }
    Ok((timed, answered))
}

/// One GET, timed from sending to the whole body received; the JSON is parsed after.
async fn get<T: for<'de> Deserialize<'de>>(
    client: &reqwest::Client,
    url: &str,
    key: &str,
) -> anyhow::Result<(Duration, T)> {
    let started = Instant::now();
    let response = client.get(url).bearer_auth(key).send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response.bytes().await.with_context(|| format!("reading {url}"))?;
    let elapsed = started.elapsed();
    anyhow::ensure!(status.is_success(), "GET {url}: {status}: {}", String::from_utf8_lossy(&body));
    Ok((elapsed, serde_json::from_slice(&body).with_context(|| format!("parsing the answer of {url}"))?))
}
