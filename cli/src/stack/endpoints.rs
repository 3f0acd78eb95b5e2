//! Where a running stack listens, and the examples `tally up` prints for it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Every address of a running stack (kept in `stack.json` for `tally status`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoints {
    /// The gateway's REST base URL.
    pub http: String,
    /// The gateway's gRPC (h2c) base URL.
    pub grpc: String,
    pub command: String,
    pub projector: String,
    pub query: Vec<String>,
    pub write_db: String,
    pub read_db: String,
    pub replica_db: String,
    pub brokers: String,
    pub logs: PathBuf,
    pub nginx_logs: PathBuf,
    /// The command-service's analytics backfill token (`ingest.admin_token`) of this run;
    /// kept in memory only, never in `stack.json`.
    #[serde(skip)]
    pub ingest_admin_token: String,
}

/// The demo site of the printed examples, with the read key its statistics need.
#[derive(Debug, Clone)]
pub struct DemoSite {
    pub domain: String,
    pub id: String,
    /// `<key_id>.<secret>`, when one could be issued.
    pub read_key: Option<String>,
}

impl Endpoints {
    /// The summary printed by `tally up`; every example goes through nginx. `site` is the
    /// demo site, when seeded, for the analytics examples.
    pub fn describe(&self, tally: &str, new_handle: &str, site: Option<&DemoSite>) -> String {
        let http = &self.http;
        let grpc = self.grpc.trim_start_matches("http://");
        let analytics = match site {
            Some(DemoSite { domain, id, read_key }) => {
                let key = read_key.as_deref().unwrap_or("<key_id>.<secret>");
                format!(
                    "\nAnalytics of the demo site {domain} (statistics are eventually consistent; a few ms).\n\
                     The statistics API takes a read key of the site, this one kept in the state directory\n\
                     (`POST /v1/sites/{id}/read-keys` with the command-service's admin token issues more):\n\
                     \x20 KEY='{key}'\n\
                     \x20 curl -sS '{http}/v1/sites/{id}/aggregate?period=7d' -H \"authorization: Bearer $KEY\"\n\
                     \x20 curl -sS '{http}/v1/sites/{id}/timeseries?period=7d&interval=day' -H \"authorization: Bearer $KEY\"\n\
                     \x20 curl -sS '{http}/v1/sites/{id}/breakdown?period=7d&dimension=page&limit=5' -H \"authorization: Bearer $KEY\"\n\
                     \x20 curl -sS -X POST {http}/api/event -H 'content-type: application/json' \\\n\
                     \x20   -H 'user-agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' \\\n\
                     \x20   -d '{{\"name\":\"pageview\",\"url\":\"https://{domain}/hello\",\"domain\":\"{domain}\"}}'\n\
                     \x20 curl -sS '{http}/v1/sites/{id}/realtime' -H \"authorization: Bearer $KEY\"\n"
                )
            }
            None => String::new(),
        };
        let profiles = format!(
            "\nTally is running behind nginx:\n\
             \x20 REST       {http}   (GET/HEAD /v1/… → 2 query-services, other methods → command-service)\n\
             \x20 gRPC (h2c) {grpc}   (tally.v1.CommandService, EventStore → command; QueryService → query)\n\
             \x20 Health     {http}/healthz (nginx), {http}/-/command/readyz, /-/query-1/readyz, /-/query-2/readyz, /-/projector/readyz\n\
             \x20 Metrics    {http}/-/command/metrics, /-/query-1/metrics, /-/query-2/metrics, /-/projector/metrics\n\
             \x20 OpenAPI    {http}/openapi.json (writes), {http}/-/query/openapi.json (reads)\n\
             \x20 Direct     command {}, projector {}, query {}\n\
             \x20 Databases  write {} · read {} · read replica {}\n\
             \x20 Kafka      {} (tansu, in memory)\n\
             \x20 Logs       {} · nginx {}\n\
             \nTry it (the X-Upstream response header names the instance that answered):\n\
             \x20 curl -sSi {http}/v1/profiles/by-handle/ada\n\
             \x20 curl -sS '{http}/v1/profiles?limit=5'\n\
             \x20 curl -sS -X POST {http}/v1/profiles -H 'content-type: application/json' \\\n\
             \x20   -d '{{\"handle\":\"{new_handle}\",\"display_name\":\"Hedy Lamarr\",\"email\":\"{new_handle}@example.com\"}}'\n\
             \x20 curl -sS '{http}/v1/events?after=0&limit=3'\n\
             \x20 {tally} grpc list-profiles\n\
             \x20 {tally} grpc get-profile --handle grace\n\
             \x20 {tally} grpc create-profile --handle {new_handle}_grpc --display-name 'Hedy Lamarr' --email {new_handle}.grpc@example.com\n",
            self.command,
            self.projector,
            self.query.join(", "),
            self.write_db,
            self.read_db,
            self.replica_db,
            self.brokers,
            self.logs.display(),
            self.nginx_logs.display(),
        );
        profiles + &analytics
    }
}
