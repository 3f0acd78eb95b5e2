//! Local infrastructure for Tally's end-to-end tests and the `tally up` dev stack.
//!
//! - [`PgCluster`]: a real PostgreSQL server in a temp (or persistent) directory, on its own
//!   loopback port; started as the `postgres` user when we run as root.
//! - [`fresh_database`]: one shared cluster per process plus a brand-new database per call.
//! - [`Service`]: a supervised child process with a log file and an HTTP readiness probe.
//! - [`Nginx`]: the gateway, rendered from `deploy/nginx/tally.conf.template`.
//! - [`reap_stale`]: removes clusters left behind by harnesses that died ungracefully.
//!
//! Every process we start is shadowed by a tiny watchdog (see `watchdog.rs`) that stops it
//! when the owning process dies without running destructors (SIGKILL, abort, a test
//! process that exits with a `static` cluster still alive).
#![forbid(unsafe_code)]

mod error;
mod fresh;
mod kafka;
mod logs;
mod net;
mod nginx;
mod paths;
mod pg;
mod proc;
mod service;
mod watchdog;

pub use error::{Error, Result};
pub use fresh::{fresh_database, shared_cluster};
pub use kafka::{Broker, BrokerOptions};
pub use logs::tail_lines;
pub use net::free_port;
pub use nginx::{GatewayPorts, NGINX_ENV, NGINX_TEMPLATE, Nginx, NginxOptions, render};
pub use paths::{binary, target_dir, workspace_root};
pub use pg::{PgCluster, PgOptions, ReapReport, SUPERUSER, reap_stale, running_cluster_port, stop_cluster_at};
pub use proc::ProcessStamp;
pub use service::{Readiness, Service, ServiceSpec};
