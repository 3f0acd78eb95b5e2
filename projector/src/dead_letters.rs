//! `dead_letters`: messages that could not be decoded or projected, kept with
//! the reason and the raw bytes so an operator can inspect and retry them.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use crate::message::{Body, Message};

/// A dead letter about to be written.
#[derive(Debug, Clone)]
pub struct NewDeadLetter {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub global_position: Option<i64>,
    pub event_type: Option<String>,
    pub reason: String,
    pub raw: Vec<u8>,
    pub headers: serde_json::Value,
}

impl NewDeadLetter {
    pub fn from_message(message: &Message, reason: impl Into<String>) -> Self {
        NewDeadLetter {
            topic: message.source.topic.clone(),
            partition: message.source.partition,
            offset: message.source.offset,
            global_position: message.position().and_then(|p| i64::try_from(p).ok()),
            event_type: message.event_type().map(str::to_owned),
            reason: reason.into(),
            raw: message.raw(),
            headers: headers_json(message),
        }
    }
}

/// The transport headers, or (for the event store, which has none) the same
/// facts taken from the envelope, so every dead letter can be read alike.
fn headers_json(message: &Message) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (k, v) in &message.headers {
        map.insert(k.clone(), serde_json::Value::String(v.clone()));
    }
    if let (true, Body::Envelope(e)) = (map.is_empty(), &message.body) {
        map.insert("tally-event-id".into(), e.event_id.clone().into());
        map.insert("tally-event-type".into(), e.event_type.clone().into());
        map.insert("tally-global-position".into(), e.global_position.to_string().into());
        map.insert("tally-stream-id".into(), e.stream_id.clone().into());
    }
    serde_json::Value::Object(map)
}

/// Writes dead letters for `consumer`. With `skip_known`, an event that
/// already has an open dead letter (same position) is not recorded twice —
/// a rebuild meets the live projector's poison events again.
pub async fn insert(
    client: &impl GenericClient,
    consumer: &str,
    letters: &[NewDeadLetter],
    skip_known: bool,
) -> Result<u64, tokio_postgres::Error> {
    let mut written = 0;
    for l in letters {
        written += client
            .execute(
                "INSERT INTO dead_letters (consumer, topic, partition, \"offset\", global_position, event_type, reason, \
                                           raw, headers) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
                 WHERE NOT ($10 AND EXISTS (SELECT 1 FROM dead_letters WHERE NOT resolved AND global_position = $5))",
                &[
                    &consumer,
                    &l.topic,
                    &l.partition,
                    &l.offset,
                    &l.global_position,
                    &l.event_type,
                    &l.reason,
                    &l.raw,
                    &l.headers,
                    &skip_known,
                ],
            )
            .await?;
    }
    if written > 0 {
        metrics::counter!("projector_dead_letters_total").increment(written);
    }
    Ok(written)
}

/// A stored dead letter.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: i64,
    pub consumer: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub global_position: Option<i64>,
    pub event_type: Option<String>,
    pub reason: String,
    pub raw: Vec<u8>,
    pub headers: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub retried_at: Option<DateTime<Utc>>,
    pub resolved: bool,
}

const COLUMNS: &str = "id, consumer, topic, partition, \"offset\", global_position, event_type, reason, raw, headers, \
                       created_at, retried_at, resolved";

fn from_row(r: &tokio_postgres::Row) -> DeadLetter {
    DeadLetter {
        id: r.get(0),
        consumer: r.get(1),
        topic: r.get(2),
        partition: r.get(3),
        offset: r.get(4),
        global_position: r.get(5),
        event_type: r.get(6),
        reason: r.get(7),
        raw: r.get(8),
        headers: r.get(9),
        created_at: r.get(10),
        retried_at: r.get(11),
        resolved: r.get(12),
    }
}

/// Open dead letters (or all with `include_resolved`), oldest first.
pub async fn list(
    client: &impl GenericClient,
    include_resolved: bool,
) -> Result<Vec<DeadLetter>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM dead_letters WHERE $1 OR NOT resolved ORDER BY id");
    Ok(client.query(&sql, &[&include_resolved]).await?.iter().map(from_row).collect())
}

/// One dead letter, locked for a retry.
pub async fn get_for_update(client: &impl GenericClient, id: i64) -> Result<Option<DeadLetter>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM dead_letters WHERE id = $1 FOR UPDATE");
    Ok(client.query_opt(&sql, &[&id]).await?.as_ref().map(from_row))
}

/// Records a retry's outcome: resolved, or still failing with a new reason.
pub async fn mark_retried(
    client: &impl GenericClient,
    id: i64,
    failure: Option<&str>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE dead_letters SET retried_at = now(), resolved = ($2::text IS NULL), reason = COALESCE($2, reason) \
             WHERE id = $1",
            &[&id, &failure],
        )
        .await?;
    Ok(())
}

/// A plain-text table for `projector dead-letters list`.
pub fn render_table(letters: &[DeadLetter]) -> String {
    if letters.is_empty() {
        return "no dead letters\n".to_owned();
    }
    let header = ["ID", "STATUS", "POSITION", "EVENT TYPE", "SOURCE", "CREATED", "REASON"];
    let rows: Vec<[String; 7]> = letters
        .iter()
        .map(|d| {
            let status = match (d.resolved, d.retried_at) {
                (true, _) => "resolved",
                (false, Some(_)) => "retried",
                (false, None) => "open",
            };
            [
                d.id.to_string(),
                status.to_owned(),
                d.global_position.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                d.event_type.clone().unwrap_or_else(|| "-".into()),
                format!("{}/{}@{}", d.topic, d.partition, d.offset),
                d.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                d.reason.replace('\n', " "),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&header.map(str::to_owned));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}
