//! Starting Tally's services for a test.

use crate::devstack::{self, Readiness, Service};

/// Starts `command-service serve` against `db_url` on a free loopback port and waits for
/// `/readyz`. Returns the service and its base URL (`http://127.0.0.1:<port>`).
pub async fn spawn_command_service(db_url: &str) -> devstack::Result<(Service, String)> {
    spawn_command_service_with(db_url, None).await
}

/// Like [`spawn_command_service`], publishing to the Kafka `brokers` (its relay runs) when given,
/// with 3 partitions per topic; without brokers it is in single-node mode.
pub async fn spawn_command_service_with(db_url: &str, brokers: Option<&str>) -> devstack::Result<(Service, String)> {
    spawn_command_service_with_env(db_url, brokers, Vec::new()).await
}

/// Like [`spawn_command_service_with`], with `extra` environment variables (e.g. the OTLP
/// exporter's) on top of the usual ones.
pub async fn spawn_command_service_with_env(
    db_url: &str,
    brokers: Option<&str>,
    extra: Vec<(&'static str, String)>,
) -> devstack::Result<(Service, String)> {
    let port = devstack::free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut envs = vec![
        ("TALLY_DATABASE__URL", db_url.to_owned()),
        ("TALLY_SERVER__HOST", "127.0.0.1".to_owned()),
        ("TALLY_SERVER__PORT", port.to_string()),
        ("RUST_LOG", "info".to_owned()),
    ];
    if let Some(brokers) = brokers {
        envs.push(("TALLY_KAFKA__BROKERS", brokers.to_owned()));
        envs.push(("TALLY_KAFKA__TOPIC_PARTITIONS", "3".to_owned()));
    }
    envs.extend(extra);
    let service = Service::spawn(
        "command-service",
        devstack::binary("command-service")?,
        ["serve"],
        envs,
        Readiness::Http(format!("{base}/readyz")),
    )
    .await?;
    Ok((service, base))
}

/// The environment of a `projector` command: the read DB, the event store (the write DB) and,
/// when given, the Kafka `brokers` with manual partition assignment (Tansu takes ~20 s to form
/// a consumer group); without brokers the projector tails the event store.
pub fn projector_env(read_url: &str, write_url: &str, brokers: Option<&str>) -> Vec<(&'static str, String)> {
    let mut envs = vec![
        ("TALLY_READ_DATABASE__URL", read_url.to_owned()),
        ("TALLY_EVENT_STORE__URL", write_url.to_owned()),
        ("TALLY_SERVER__HOST", "127.0.0.1".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    if let Some(brokers) = brokers {
        envs.push(("TALLY_KAFKA__BROKERS", brokers.to_owned()));
        envs.push(("TALLY_KAFKA__ASSIGNMENT", "manual".to_owned()));
    }
    envs
}

/// Starts `projector run` (see [`projector_env`]) and waits for its `/readyz`; it applies the
/// read-DB migrations on start, so start it before the query-service.
pub async fn spawn_projector(read_url: &str, write_url: &str, brokers: Option<&str>) -> devstack::Result<Service> {
    spawn_projector_with_env(read_url, write_url, brokers, Vec::new()).await
}

/// Like [`spawn_projector`], with `extra` environment variables on top of [`projector_env`].
pub async fn spawn_projector_with_env(
    read_url: &str,
    write_url: &str,
    brokers: Option<&str>,
    extra: Vec<(&'static str, String)>,
) -> devstack::Result<Service> {
    let port = devstack::free_port()?;
    let mut envs = projector_env(read_url, write_url, brokers);
    envs.extend(extra);
    envs.push(("TALLY_SERVER__PORT", port.to_string()));
    Service::spawn(
        "projector",
        devstack::binary("projector")?,
        ["run"],
        envs,
        Readiness::Http(format!("http://127.0.0.1:{port}/readyz")),
    )
    .await
}

/// Starts `query-service serve` over the read DB and waits for `/readyz`. Returns the service
/// and its base URL (REST and gRPC share the port).
pub async fn spawn_query_service(read_url: &str) -> devstack::Result<(Service, String)> {
    let port = devstack::free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let service = Service::spawn(
        "query-service",
        devstack::binary("query-service")?,
        ["serve"],
        [
            ("TALLY_DATABASE__URL", read_url.to_owned()),
            ("TALLY_SERVER__HOST", "127.0.0.1".to_owned()),
            ("TALLY_SERVER__PORT", port.to_string()),
            ("RUST_LOG", "info".to_owned()),
        ],
        Readiness::Http(format!("{base}/readyz")),
    )
    .await?;
    Ok((service, base))
}
