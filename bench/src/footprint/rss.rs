//! Resident memory of a process, from `/proc/<pid>/status`, and a sampler that keeps the
//! maximum of a timeline rather than one reading.
//!
//! `VmRSS` is what the process holds now; `VmHWM` is the kernel's own high-water mark of it
//! since start, so a spike between two samples still shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

/// One reading, in KiB as the kernel reports it.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// `None` when the process is gone or the file has no such lines.
pub fn read(pid: i32) -> Option<Memory> {
    parse(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// `VmRSS:     12345 kB` style lines; the unit is always kB in this file (proc(5)).
fn parse(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    Some(Memory { rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")? })
}

/// The timeline of one process while the sampler ran.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timeline {
    pub samples: u64,
    pub max_rss_kib: u64,
    /// The last `VmHWM` read: the peak since the process started.
    pub hwm_kib: u64,
}

/// Samples `pids` every `every` until stopped; [`Sampler::finish`] returns one timeline each.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Timeline>>,
}

impl Sampler {
    pub fn start(pids: Vec<i32>, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut lines = vec![Timeline::default(); pids.len()];
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                for (line, &pid) in lines.iter_mut().zip(&pids) {
                    if let Some(m) = read(pid) {
                        line.samples += 1;
                        line.max_rss_kib = line.max_rss_kib.max(m.rss_kib);
                        line.hwm_kib = m.hwm_kib;
                    }
                }
                // Checked after sampling, so even a stop right after start leaves one sample.
                if flag.load(Ordering::Relaxed) {
                    return lines;
                }
            }
        });
        Self { stop, task }
    }

    pub async fn finish(self) -> anyhow::Result<Vec<Timeline>> {
        self.stop.store(true, Ordering::Relaxed);
        Ok(self.task.await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_high_water_mark_from_status() {
        let status = "Name:\tquery-service\nVmPeak:\t  900 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(parse(status), Some(Memory { rss_kib: 10240, hwm_kib: 20480 }));
        assert_eq!(parse("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn this_process_has_resident_memory() {
        let m = read(std::process::id() as i32).expect("own status");
        assert!(m.rss_kib > 0 && m.hwm_kib >= m.rss_kib, "{m:?}");
    }
}
