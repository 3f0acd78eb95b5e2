//! Progress output: a spinner per step on a terminal, plain lines otherwise (CI, pipes).

use std::fmt::Display;
use std::future::Future;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Runs `work` as a named step, showing progress and the outcome.
pub async fn step<T, F>(label: &str, work: F, detail: impl FnOnce(&T) -> String) -> anyhow::Result<T>
where
    F: Future<Output = anyhow::Result<T>>,
{
    let started = Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner:.cyan} {msg}").expect("static template"));
        bar.set_message(format!("{label}…"));
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    if bar.is_none() {
        eprintln!("… {label}");
    }
    let result = work.await;
    let elapsed = format!("{:.1}s", started.elapsed().as_secs_f64());
    let line = match &result {
        Ok(value) => format!("✔ {label}: {} ({elapsed})", detail(value)),
        Err(_) => format!("✘ {label} failed ({elapsed})"),
    };
    match bar {
        Some(bar) => bar.finish_with_message(line),
        None => eprintln!("{line}"),
    }
    result
}

/// A one-line notice on stderr, in the same style as steps.
pub fn note(text: impl Display) {
    eprintln!("• {text}");
}
