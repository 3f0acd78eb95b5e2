//! Where the CPUs went during one phase, per process: on one 2-core machine the write load,
//! the read load, Postgres and every service share the same cores, which the reader of an
//! isolation figure must be able to see.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cpu::{self, Sample, Watch};
use crate::window::Window;

/// Cores used (1.0 = one core busy for the whole window).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuUse {
    pub cpus: usize,
    pub postgres: f64,
    /// Per Tally service, by name (empty for the single-database baseline).
    pub services: BTreeMap<String, f64>,
    /// This program: both load generators, and the baseline's client side.
    pub load_generator: f64,
    pub other: f64,
    pub idle: f64,
}

/// Samples the window's edges for `postmaster` and each named service.
pub async fn observe(window: Window, postmaster: Option<i32>, services: Vec<(String, i32)>) -> CpuUse {
    let watches: Vec<Watch> = std::iter::once(None)
        .chain(services.iter().map(|(_, pid)| Some(*pid)))
        .map(|service| Watch { postmaster, service, pgbench: None })
        .collect();
    let sample = || watches.iter().map(|w| cpu::sample(*w)).collect::<Vec<Sample>>();
    tokio::time::sleep_until(window.start.into()).await;
    let before = sample();
    tokio::time::sleep_until(window.end.into()).await;
    let after = sample();
    let splits: Vec<_> = before.iter().zip(&after).map(|(b, a)| cpu::split(b, a)).collect();
    let base = splits[0];
    let services: BTreeMap<String, f64> =
        services.into_iter().zip(&splits[1..]).map(|((name, _), s)| (name, s.service)).collect();
    CpuUse {
        cpus: base.cpus,
        postgres: base.postgres,
        load_generator: base.load_generator,
        // The first split knows no service, so their time is in its `other`.
        other: (base.other - services.values().sum::<f64>()).max(0.0),
        services,
        idle: base.idle + base.iowait,
    }
}
