//! How each Tally service of the stack is configured (`TALLY_*` environment).

/// The write database (event store) on the write cluster.
pub const WRITE_DB: &str = "tally_write";
/// The read database on the read cluster (and, replicated, on its replica).
pub const READ_DB: &str = "tally_read";

/// One service's command line and environment.
pub struct Env {
    pub binary: &'static str,
    pub args: &'static [&'static str],
    pub vars: Vec<(&'static str, String)>,
}

fn server(port: u16) -> [(&'static str, String); 2] {
    [("TALLY_SERVER__HOST", "127.0.0.1".to_owned()), ("TALLY_SERVER__PORT", port.to_string())]
}

/// The command-service with its relay publishing to `brokers`. nginx, on loopback, is its
/// trusted proxy (the visitor address comes from `X-Forwarded-For`); `admin_token` enables
/// the analytics backfill the demo seeder uses. Settings a command-service without the
/// analytics API does not know are ignored by it.
pub fn command(write_url: &str, brokers: &str, port: u16, admin_token: &str) -> Env {
    let mut vars = vec![
        ("TALLY_DATABASE__URL", write_url.to_owned()),
        ("TALLY_KAFKA__BROKERS", brokers.to_owned()),
        ("TALLY_KAFKA__TOPIC_PARTITIONS", super::launch::TOPIC_PARTITIONS.to_string()),
        ("TALLY_INGEST__TRUSTED_PROXIES", "127.0.0.1".to_owned()),
        ("TALLY_INGEST__ADMIN_TOKEN", admin_token.to_owned()),
    ];
    vars.extend(server(port));
    Env { binary: "command-service", args: &["serve"], vars }
}

/// The projector in Kafka mode. Manual partition assignment: there is one projector, and a
/// consumer group would take the broker ~20 s to form at every start.
pub fn projector(read_url: &str, write_url: &str, brokers: &str, port: u16) -> Env {
    let mut vars = vec![
        ("TALLY_READ_DATABASE__URL", read_url.to_owned()),
        ("TALLY_EVENT_STORE__URL", write_url.to_owned()),
        ("TALLY_KAFKA__BROKERS", brokers.to_owned()),
        ("TALLY_KAFKA__ASSIGNMENT", "manual".to_owned()),
    ];
    vars.extend(server(port));
    Env { binary: "projector", args: &["run"], vars }
}

/// A query-service instance reading `read_url` (the replica).
pub fn query(read_url: &str, port: u16) -> Env {
    let mut vars = vec![("TALLY_DATABASE__URL", read_url.to_owned())];
    vars.extend(server(port));
    Env { binary: "query-service", args: &["serve"], vars }
}
