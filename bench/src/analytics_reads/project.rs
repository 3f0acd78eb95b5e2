//! Lets the real projector build the read tables from the seeded event store: `projector
//! rebuild profiles` (the owner and the sites, for their time zone) then `projector rebuild
//! analytics`, which replays every pageview through the sessionisation rules, verifies the
//! result against the raw payloads and switches the views.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::processes;

/// Upper bound for one rebuild; far beyond any healthy run.
const LIMIT: Duration = Duration::from_secs(4 * 3600);

/// What the analytics rebuild reported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Projected {
    pub events: u64,
    pub dead_lettered: u64,
    /// The projector's own clock: replay, verification and switch.
    pub reported_secs: f64,
    /// The whole command, process start and migrations included.
    pub wall_secs: f64,
    pub events_per_sec: f64,
}

pub async fn run(projector: &Path, read_url: &str, write_url: &str) -> anyhow::Result<Projected> {
    processes::rebuild(projector, read_url, write_url, None, LIMIT).await.context("projecting the sites")?;
    let (wall_secs, stdout) =
        processes::rebuild_projection(projector, "analytics", read_url, write_url, None, LIMIT).await?;
    let (events, reported_secs, dead_lettered) =
        parse(&stdout).with_context(|| format!("unexpected analytics rebuild report:\n{stdout}"))?;
    let events_per_sec = if wall_secs > 0.0 { events as f64 / wall_secs } else { 0.0 };
    Ok(Projected { events, dead_lettered, reported_secs, wall_secs, events_per_sec })
}

/// `rebuilt analytics v1 -> v2: 1000 events in 0.1s, 0 dead-lettered`
fn parse(stdout: &str) -> Option<(u64, f64, u64)> {
    let line = stdout.lines().find(|l| l.starts_with("rebuilt analytics"))?;
    let words: Vec<&str> = line.split_once(": ")?.1.split_whitespace().collect();
    let events = words.first()?.parse().ok()?;
    let secs = words.get(3)?.trim_end_matches(',').trim_end_matches('s').parse().ok()?;
    let dead = words.get(4)?.parse().ok()?;
    Some((events, secs, dead))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_analytics_rebuild_line() {
        let out = "rebuilt analytics v1 -> v2: 12000 events in 3.5s, 0 dead-lettered\nverified:\n";
        assert_eq!(super::parse(out), Some((12000, 3.5, 0)));
        assert_eq!(super::parse("nothing"), None);
    }
}
