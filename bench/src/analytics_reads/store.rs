//! Writes the generated pageviews in one pass to both sides: `AnalyticsEventRecorded` events
//! into the event store, exactly as the analytics appender stores them (like
//! [`crate::seed`]: the same protobuf payloads, dense positions, stream versions and
//! `streams` rows, in one transaction under the head lock), and one row per pageview into the
//! baselines' raw table. An owner profile and the sites are seeded first, so the profiles
//! projection knows the sites (and their time zone) the query-service looks up.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use prost::Message;
use tally_proto::convert::{SCHEMA_VERSION, event_types};
use tally_proto::v1;
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::dataset::{Generator, Pageview};
use super::dims;
use super::raw;
use crate::progress::Live;
use crate::seed::EVENT_COLUMNS;

/// What was written.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Written {
    pub pageviews: u64,
    /// Every event appended (pageviews, the owner profile, the sites and the big site's key).
    pub events: u64,
    pub head: u64,
    pub seconds: f64,
}

/// Site `n`'s id (0 = the big site): fixed, so runs are comparable.
pub fn site_id(n: u32) -> Uuid {
    Uuid::from_u128(0x7a11_0000_0000_4000_8000_0000_0000_0000 | u128::from(n))
}

/// The site's first open day on the read DB (days from it on are read as days, not spans).
pub async fn open_from(db: &Client, site: Uuid) -> anyhow::Result<Option<chrono::NaiveDate>> {
    let row = db.query_opt("SELECT open_from FROM analytics_open WHERE site_id = $1", &[&site]).await?;
    Ok(row.map(|r| r.get(0)))
}

fn domain(n: u32) -> String {
    format!("site{n}.bench.example")
}

fn owner() -> Uuid {
    Uuid::from_u128(0x7a11_0000_0000_4000_8000_0000_ffff_ffff)
}

/// One event row about to be copied.
struct Row<'a> {
    position: i64,
    stream: &'a str,
    category: &'static str,
    version: i64,
    event_type: &'static str,
    payload: Vec<u8>,
}

struct Events<'a> {
    writer: std::pin::Pin<&'a mut BinaryCopyInWriter>,
    metadata: serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
}

impl Events<'_> {
    async fn write(&mut self, r: Row<'_>) -> anyhow::Result<()> {
        let values: [&(dyn ToSql + Sync); 10] = [
            &r.position,
            &Uuid::now_v7(),
            &r.stream,
            &r.category,
            &r.version,
            &r.event_type,
            &(SCHEMA_VERSION as i32),
            &r.payload,
            &self.metadata,
            &self.now,
        ];
        self.writer.as_mut().write(&values).await.context("writing an event row")
    }
}

fn payload(p: &Pageview, site: &str, date: &str) -> Vec<u8> {
    let (source, referrer, _) = dims::SOURCES[usize::from(p.source)];
    let (device, browser, os, _) = dims::DEVICES[usize::from(p.device)];
    v1::AnalyticsEventRecorded {
        site_id: site.to_owned(),
        visitor_id: format!("{:032x}", p.visitor),
        name: "pageview".to_owned(),
        timestamp: Some(prost_types::Timestamp {
            seconds: p.at.timestamp(),
            nanos: i32::try_from(p.at.timestamp_subsec_nanos()).unwrap_or(0),
        }),
        local_date: date.to_owned(),
        utc_offset_seconds: 0,
        pathname: dims::path(p.site, p.page),
        hostname: domain(p.site),
        referrer: referrer.to_owned(),
        referrer_source: source.to_owned(),
        device: device.to_owned(),
        browser: browser.to_owned(),
        os: os.to_owned(),
        country_code: dims::COUNTRIES[usize::from(p.country)].to_owned(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Appends the owner, the sites, a read key of the big site and every pageview of `g`; copies
/// the pageviews into the raw table of `raw_db` too. `live.ok` counts the pageviews written.
/// Returns the key's bearer token (`<key_id>.<secret>`, drawn for this run) with the figures.
pub async fn write(
    g: &Generator,
    write_db: &mut Client,
    raw_db: &mut Client,
    live: Arc<Live>,
) -> anyhow::Result<(Written, String)> {
    let started = std::time::Instant::now();
    let sites = g.shape().sites;
    let tx = write_db.transaction().await?;
    let head: i64 = tx.query_one("SELECT last_position FROM event_head WHERE id = 1 FOR UPDATE", &[]).await?.get(0);
    let sink = tx
        .copy_in(
            "COPY events (global_position, event_id, stream_id, category, stream_version, event_type, \
             schema_version, payload, metadata, recorded_at) FROM STDIN BINARY",
        )
        .await
        .context("COPY events")?;
    let writer = pin!(BinaryCopyInWriter::new(sink, &EVENT_COLUMNS));
    let mut events = Events { writer, metadata: serde_json::json!({"actor": "tally-bench"}), now: chrono::Utc::now() };
    let raw_sink = raw_db.copy_in(raw::COPY).await.context("COPY into the raw table")?;
    let mut raw_writer = pin!(BinaryCopyInWriter::new(raw_sink, &raw::COLUMNS));

    let key = draw_key();
    let mut position = head;
    let mut streams: Vec<(String, &'static str, i64, i64)> = Vec::new();
    position += 1;
    let owner_stream = format!("profile-{}", owner());
    let created = v1::ProfileCreated {
        profile_id: owner().to_string(),
        handle: "benchowner".to_owned(),
        display_name: "Bench owner".to_owned(),
        email: "owner@bench.example".to_owned(),
        ..Default::default()
    };
    let owner_row = Row {
        position,
        stream: &owner_stream,
        category: "profile",
        version: 1,
        event_type: event_types::PROFILE_CREATED,
        payload: created.encode_to_vec(),
    };
    events.write(owner_row).await?;
    streams.push((owner_stream.clone(), "profile", 1, position));
    for n in 0..sites {
        position += 1;
        let stream = format!("site-{}", site_id(n));
        let registered = v1::SiteRegistered {
            site_id: site_id(n).to_string(),
            domain: domain(n),
            time_zone: "UTC".to_owned(),
            owner_profile_id: owner().to_string(),
            name: format!("Bench site {n}"),
        };
        let row = Row {
            position,
            stream: &stream,
            category: "site",
            version: 1,
            event_type: event_types::SITE_REGISTERED,
            payload: registered.encode_to_vec(),
        };
        events.write(row).await?;
        if n > 0 {
            streams.push((stream.clone(), "site", 1, position));
            continue;
        }
        // The statistics are read with a key, issued as the command-service would.
        position += 1;
        let issued = v1::SiteReadKeyIssued {
            site_id: site_id(n).to_string(),
            key_id: key.key_id().as_str().to_owned(),
            key_hash: key.digest().to_vec(),
            label: "tally-bench".to_owned(),
        };
        let row = Row {
            position,
            stream: &stream,
            category: "site",
            version: 2,
            event_type: event_types::SITE_READ_KEY_ISSUED,
            payload: issued.encode_to_vec(),
        };
        events.write(row).await?;
        streams.push((stream.clone(), "site", 2, position));
    }

    let ids: Vec<String> = (0..sites).map(|n| site_id(n).to_string()).collect();
    let analytics_streams: Vec<String> = ids.iter().map(|id| format!("analytics-{id}")).collect();
    let mut versions = vec![(0i64, 0i64); sites as usize];
    let mut pageviews = 0u64;
    for d in 0..g.shape().days {
        let date = g.date(d).format("%Y-%m-%d").to_string();
        for p in g.day(d) {
            position += 1;
            let s = p.site as usize;
            versions[s].0 += 1;
            versions[s].1 = position;
            let row = Row {
                position,
                stream: &analytics_streams[s],
                category: "analytics",
                version: versions[s].0,
                event_type: event_types::ANALYTICS_EVENT_RECORDED,
                payload: payload(&p, &ids[s], &date),
            };
            events.write(row).await?;
            raw::write(raw_writer.as_mut(), &p).await?;
            pageviews += 1;
            if pageviews.is_multiple_of(10_000) {
                live.ok.store(pageviews, Ordering::Relaxed);
            }
        }
    }
    live.ok.store(pageviews, Ordering::Relaxed);
    events.writer.finish().await.context("finishing COPY events")?;
    raw_writer.finish().await.context("finishing COPY into the raw table")?;
    for (s, (version, last)) in versions.into_iter().enumerate() {
        if version > 0 {
            streams.push((analytics_streams[s].clone(), "analytics", version, last));
        }
    }
    let (names, cats, vers, lasts): (Vec<String>, Vec<&str>, Vec<i64>, Vec<i64>) =
        streams.into_iter().fold((Vec::new(), Vec::new(), Vec::new(), Vec::new()), |mut acc, (n, c, v, l)| {
            acc.0.push(n);
            acc.1.push(c);
            acc.2.push(v);
            acc.3.push(l);
            acc
        });
    tx.execute(
        "INSERT INTO streams (stream_id, category, version, last_position) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[])",
        &[&names, &cats, &vers, &lasts],
    )
    .await
    .context("writing streams")?;
    tx.execute("UPDATE event_head SET last_position = $1 WHERE id = 1", &[&position]).await?;
    tx.commit().await.context("committing the seed")?;
    let head = u64::try_from(position)?;
    let events = pageviews + u64::from(sites) + 2;
    let written = Written { pageviews, events, head, seconds: started.elapsed().as_secs_f64() };
    Ok((written, key.to_string()))
}

/// A read key drawn for this run, as the command-service draws one.
fn draw_key() -> tally_domain::ReadKeyToken {
    tally_domain::ReadKeyToken::from_random(rand::random(), rand::random())
}
