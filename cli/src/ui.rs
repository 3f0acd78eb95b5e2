//! Progress output: a spinner per step on a terminal, plain lines otherwise (CI, pipes).

use std::fmt::Display;
use std::future::Future;
use std::io::{IsTerminal, Write};
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
        line(format_args!("… {label}"));
    }
    let result = work.await;
    let elapsed = format!("{:.1}s", started.elapsed().as_secs_f64());
    let line = match &result {
        Ok(value) => format!("✔ {label}: {} ({elapsed})", detail(value)),
        Err(_) => format!("✘ {label} failed ({elapsed})"),
    };
    match bar {
        Some(bar) => bar.finish_with_message(line),
        None => self::line(format_args!("{line}")),
    }
    result
}

/// A one-line notice on stderr, in the same style as steps.
pub fn note(text: impl Display) {
    line(format_args!("• {text}"));
}

/// One line on stderr. Unlike `eprintln!`, a closed stderr (say, `tally up | tee` where
/// Ctrl-C also stopped `tee`) is ignored instead of panicking in the middle of a shutdown.
fn line(text: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "{text}");
}
