//! Starting Tally's services for a test.

use crate::devstack::{self, Readiness, Service};

/// Starts `command-service serve` against `db_url` on a free loopback port and waits for
/// `/readyz`. Returns the service and its base URL (`http://127.0.0.1:<port>`).
pub async fn spawn_command_service(db_url: &str) -> devstack::Result<(Service, String)> {
    let port = devstack::free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let service = Service::spawn(
        "command-service",
        devstack::binary("command-service")?,
        ["serve"],
        [
            ("TALLY_DATABASE__URL", db_url.to_owned()),
            ("TALLY_SERVER__HOST", "127.0.0.1".to_owned()),
            ("TALLY_SERVER__PORT", port.to_string()),
            ("RUST_LOG", "info".to_owned()),
        ],
        Readiness::Http(format!("{base}/readyz")),
    )
    .await?;
    Ok((service, base))
}
