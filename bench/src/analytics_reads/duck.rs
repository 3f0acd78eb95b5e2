//! Baseline (b): DuckDB over the same raw pageviews, driven through the tools venv's Python
//! (`bench/duckdb/analytics.py`; scripts/bootstrap.sh installs the pinned `duckdb`). The raw
//! table is exported once to a temporary CSV file; the script loads it (timed apart), runs
//! the naive queries in DuckDB's dialect and prints its latencies and answer as JSON.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use tokio_postgres::Client;

use super::answer::{Answer, Range, Timed, TopPage, Totals};
use super::raw;

#[derive(Deserialize)]
struct Output {
    duckdb: String,
    load_secs: f64,
    rows: u64,
    aggregate_ms: Vec<f64>,
    breakdown_ms: Vec<f64>,
    answer: Reply,
}

#[derive(Deserialize)]
struct Reply {
    visitors: u64,
    visits: u64,
    pageviews: u64,
    bounces: u64,
    duration_secs: f64,
    pages: Vec<TopPage>,
}

/// What the DuckDB side did besides answering.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Loaded {
    pub duckdb_version: String,
    pub export_secs: f64,
    pub load_secs: f64,
    pub rows: u64,
}

fn python() -> PathBuf {
    tally_devstack::target_dir().join("tools-venv").join("bin").join("python")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("duckdb").join("analytics.py")
}

/// Exports the raw table, then runs the script over it.
pub async fn measure(
    raw_db: &Client,
    range: &Range,
    limit: u32,
    warmup: u32,
    reps: u32,
) -> anyhow::Result<(Timed, Loaded)> {
    let python = python();
    anyhow::ensure!(python.is_file(), "{} not found: run scripts/bootstrap.sh (it installs duckdb)", python.display());
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("pageviews.csv");
    let started = std::time::Instant::now();
    export(raw_db, &csv).await?;
    let export_secs = started.elapsed().as_secs_f64();
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let output = tokio::process::Command::new(&python)
        .arg(script())
        .arg("--csv")
        .arg(&csv)
        .args(["--site", "0", "--start", &stamp(range.from()), "--stop", &stamp(range.to())])
        .args(["--limit", &limit.to_string(), "--warmup", &warmup.to_string(), "--reps", &reps.to_string()])
        .kill_on_drop(true)
        .output()
        .await
        .context("running the DuckDB baseline")?;
    anyhow::ensure!(
        output.status.success(),
        "the DuckDB baseline failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Output = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("unexpected DuckDB output: {}", String::from_utf8_lossy(&output.stdout)))?;
    let ms = |v: &[f64]| v.iter().map(|m| Duration::from_secs_f64(m / 1000.0)).collect();
    let r = out.answer;
    let timed = Timed {
        aggregate: ms(&out.aggregate_ms),
        breakdown: ms(&out.breakdown_ms),
        answer: Some(Answer {
            totals: Totals::from_sums(r.visitors, r.visits, r.pageviews, r.bounces, r.duration_secs),
            pages: r.pages,
        }),
    };
    Ok((timed, Loaded { duckdb_version: out.duckdb, export_secs, load_secs: out.load_secs, rows: out.rows }))
}

/// `COPY … TO STDOUT` of the raw table into `path`.
async fn export(raw_db: &Client, path: &Path) -> anyhow::Result<()> {
    use futures::TryStreamExt as _;
    let stream = raw_db.copy_out(raw::EXPORT).await.context("exporting the raw table")?;
    // Plain blocking writes: a one-off export on a runtime with spare workers, and the
    // workspace's tokio has no `fs`.
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.try_next().await? {
        file.write_all(&chunk)?;
    }
    file.flush()?;
    Ok(())
}
