//! `tally import`: backfill raw event logs (NDJSON) through the command-service's
//! authenticated import endpoint, in batches, with a progress bar.
//!
//! - **Idempotent per line**: each line's client event id is derived from its line number
//!   and the SHA-256 of its bytes, so importing the same file again (or resuming after a
//!   crash mid-batch) records nothing twice.
//! - **Resumable**: after every acknowledged batch the next line number is saved next to
//!   the file (`<file>.tally-import.json`); a new run continues there unless `--restart`.

mod checkpoint;
mod lines;
mod send;

use std::{
    io::{BufRead, BufReader, IsTerminal},
    path::PathBuf,
};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use checkpoint::Checkpoint;
use send::{Client, Totals};

/// Most lines per request (the endpoint's limit is 1,000).
const MAX_BATCH: usize = 1_000;
/// Body budget per request, under the server's 1 MB limit with room for JSON framing.
const MAX_BATCH_BYTES: usize = 900_000;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// NDJSON file: one JSON object per line with `timestamp` (RFC 3339), `domain`, `name`,
    /// `url`, `referrer`, `ip`, `user_agent` and optional `props`.
    file: PathBuf,
    /// The command-service's base URL.
    #[arg(long, env = "TALLY_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The command-service's `ingest.admin_token`.
    #[arg(long, env = "TALLY_ADMIN_TOKEN", hide_env_values = true)]
    token: String,
    /// Lines per request (1–1000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=1000))]
    batch: u16,
    /// Ignore a saved checkpoint and send the whole file again (still idempotent).
    #[arg(long)]
    restart: bool,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let size = file.metadata()?.len();
    let checkpoint = Checkpoint::for_file(&args.file)?;
    let start_line = if args.restart { 1 } else { checkpoint.resume_line()? };
    if start_line > 1 {
        crate::ui::note(format!("resuming at line {start_line} (use --restart to start over)"));
    }
    let client = Client::new(&args.url, &args.token)?;
    let bar = progress(size);
    let mut totals = Totals::default();
    let mut batch: Vec<(u64, serde_json::Value)> = Vec::new();
    let mut batch_bytes = 0;
    let mut last_line = 0;
    let reader = BufReader::new(file);
    for (index, line) in reader.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("reading {}", args.file.display()))?;
        let number = index as u64 + 1;
        bar.inc(line.len() as u64 + 1);
        last_line = number;
        if number < start_line || line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match lines::to_import_line(number, &line) {
            Ok(value) => {
                batch_bytes += line.len() + 200;
                batch.push((number, value));
            }
            Err(reason) => totals.reject_locally(number, &reason),
        }
        if batch.len() >= usize::from(args.batch).min(MAX_BATCH) || batch_bytes >= MAX_BATCH_BYTES {
            client.send(&std::mem::take(&mut batch), &mut totals).await?;
            batch_bytes = 0;
            checkpoint.save(number + 1)?;
            bar.set_message(totals.summary());
        }
    }
    if !batch.is_empty() {
        client.send(&batch, &mut totals).await?;
    }
    checkpoint.save(last_line + 1)?;
    bar.finish_with_message(totals.summary());
    if !std::io::stderr().is_terminal() {
        eprintln!("{}", totals.summary());
    }
    totals.print_rejections();
    Ok(())
}

fn progress(size: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}")
            .expect("static template"),
    );
    bar
}
