//! The table of what `tally up` runs. Adding a service (projector, query-service, broker,
//! proxy) means adding a database and/or a row here, not new control flow.

use tally_devstack::PgCluster;

/// Databases created (if missing) before any service starts.
pub const DATABASES: &[&str] = &["tally_write"];

/// Values services are configured from.
pub struct Ctx<'a> {
    pub pg: &'a PgCluster,
    pub http_port: u16,
}

/// One supervised process of the stack, started in table order and stopped in reverse.
pub struct ServiceDef {
    pub name: &'static str,
    /// A workspace binary, looked up next to the `tally` executable (or in `--bin-dir`).
    pub binary: &'static str,
    pub args: &'static [&'static str],
    pub env: fn(&Ctx) -> Vec<(&'static str, String)>,
    /// Readiness URL (HTTP 2xx); `None` = ready once started.
    pub ready_url: fn(&Ctx) -> Option<String>,
}

pub const SERVICES: &[ServiceDef] = &[ServiceDef {
    name: "command-service",
    binary: "command-service",
    args: &["serve"],
    env: |ctx| {
        vec![
            ("TALLY_DATABASE__URL", ctx.pg.url("tally_write")),
            ("TALLY_SERVER__HOST", "127.0.0.1".to_owned()),
            ("TALLY_SERVER__PORT", ctx.http_port.to_string()),
        ]
    },
    ready_url: |ctx| Some(format!("http://127.0.0.1:{}/readyz", ctx.http_port)),
}];
