//! Progress display (indicatif): one bar for the whole run, one for the current phase.
//!
//! indicatif hides itself when stderr is not a terminal (CI, the smoke test); status lines
//! then go to stderr as plain text so logs still say what happened.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Live counters a phase displays while it runs.
#[derive(Debug, Default)]
pub struct Live {
    pub ok: AtomicU64,
    pub errors: AtomicU64,
}

pub struct Progress {
    multi: MultiProgress,
    overall: ProgressBar,
}

impl Progress {
    pub fn new(steps: u64) -> Self {
        let multi = MultiProgress::new();
        let overall = multi.add(ProgressBar::new(steps));
        overall.set_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} steps, {elapsed} {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        overall.set_prefix("run");
        Self { multi, overall }
    }

    /// A status line above the bars (or on stderr when they are hidden).
    pub fn note(&self, line: impl AsRef<str>) {
        if self.multi.is_hidden() {
            eprintln!("{}", line.as_ref());
        } else {
            let _ = self.multi.println(line.as_ref());
        }
    }

    /// A timed phase of `total` (warm-up + measurement), drawn until the returned guard drops.
    pub fn phase(&self, name: &str, total: Duration, live: Option<Arc<Live>>) -> Phase {
        self.overall.set_message(name.to_owned());
        let bar = self.multi.add(ProgressBar::new(total.as_millis() as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:30}] {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(name.to_owned());
        let started = Instant::now();
        let ticker_bar = bar.clone();
        // Redraw from a timer rather than from the hot loop, so progress costs the load
        // generator nothing per request.
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                ticker_bar.set_position(started.elapsed().as_millis() as u64);
                if let Some(live) = &live {
                    let ok = live.ok.load(Ordering::Relaxed);
                    let err = live.errors.load(Ordering::Relaxed);
                    ticker_bar.set_message(format!("{ok} ok, {err} errors"));
                }
            }
        });
        Phase { bar, ticker }
    }

    pub fn step_done(&self) {
        self.overall.inc(1);
    }

    pub fn finish(&self) {
        self.overall.finish_and_clear();
    }
}

/// The bar of one phase; dropping it stops its ticker and clears it.
pub struct Phase {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Drop for Phase {
    fn drop(&mut self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}
