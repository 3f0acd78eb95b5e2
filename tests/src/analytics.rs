//! Helpers of the analytics end-to-end tests: real browser User-Agents, registering a site
//! through the command-service, the statistics REST API, and `projector rebuild analytics`.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{app, devstack};

/// Desktop Firefox on Linux: `desktop`, `Firefox`, `GNU/Linux`.
pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
/// Safari on an iPhone: `mobile`, `Safari`, `iOS`.
pub const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
/// Chrome on an Android phone (`Mobile` token): `mobile`, `Chrome`, `Android`.
pub const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
/// A crawler: dropped by ingest, never stored.
pub const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

/// The backfill token the tests configure (`TALLY_INGEST__ADMIN_TOKEN`).
pub const ADMIN_TOKEN: &str = "import-secret-for-tests";

/// Registers a profile and a site through the command-service's REST API; returns the site id.
pub async fn register_site(base: &str, domain: &str, time_zone: &str) -> String {
    let http = reqwest::Client::new();
    let handle = format!("owner_{}", &Uuid::new_v4().simple().to_string()[..8]);
    let profile: Value = http
        .post(format!("{base}/v1/profiles"))
        .json(&json!({"handle": handle, "display_name": "Owner", "email": "owner@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let site: Value = http
        .post(format!("{base}/v1/sites"))
        .json(&json!({"domain": domain, "time_zone": time_zone, "owner_profile_id": profile["profile"]["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    site["site"]["id"].as_str().unwrap_or_else(|| panic!("site not registered: {site}")).to_owned()
}

/// Issues a read key for `site` through the command-service (with the admin token); returns
/// the bearer token and its event's position (ask with at least that `min_position`).
pub async fn issue_read_key(base: &str, site: &str) -> (String, u64) {
    let request =
        reqwest::Client::new().post(format!("{base}/v1/sites/{site}/read-keys")).json(&json!({"label": "tests"}));
    let key = as_admin(request, 201, "issuing a read key").await;
    (key["token"].as_str().unwrap().to_owned(), key["result"]["global_position"].as_u64().unwrap())
}

/// `DELETE /v1/sites/{site}/read-keys/{key_id}` with the admin token; returns the position of
/// the revocation.
pub async fn revoke_read_key(base: &str, site: &str, key_id: &str) -> u64 {
    let request = reqwest::Client::new().delete(format!("{base}/v1/sites/{site}/read-keys/{key_id}"));
    let body = as_admin(request, 200, "revoking a read key").await;
    body["result"]["global_position"].as_u64().unwrap()
}

/// `POST /v1/import/events` with the admin token; returns the per-line answer.
pub async fn import_lines(http: &reqwest::Client, base: &str, lines: &[Value]) -> Value {
    let request = http.post(format!("{base}/v1/import/events")).json(&json!({ "lines": lines }));
    as_admin(request, 200, "import").await
}

/// Sends `request` with the admin token and returns its JSON body, which `what` must have
/// answered with `status`.
async fn as_admin(request: reqwest::RequestBuilder, status: u16, what: &str) -> Value {
    let resp = request.bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    let answered = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(answered, status, "{what}: {body}");
    body
}

/// The query-service's statistics REST API for one site, reading at least up to `min`, with
/// the site's read key (`<key_id>.<secret>`).
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub site: Uuid,
    pub min: u64,
    pub key: String,
}

impl Api {
    /// `GET /v1/sites/{site}/{path}?{query}`, asserting 200.
    pub async fn get(&self, path: &str, query: &str) -> Value {
        let url = format!("{}/v1/sites/{}/{path}?{query}", self.base, self.site);
        let request = self.http.get(&url).header("X-Min-Position", self.min.to_string()).bearer_auth(&self.key);
        let resp = request.send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{url}: {body}");
        body
    }

    /// The `metrics` of an aggregate.
    pub async fn aggregate(&self, query: &str) -> Value {
        self.get("aggregate", query).await["metrics"].clone()
    }

    /// A breakdown's rows as (value, visitors, visits, pageviews, bounce rate %).
    pub async fn rows(&self, query: &str) -> Vec<(String, u64, u64, u64, f64)> {
        rows(&self.get("breakdown", query).await)
    }
}

/// A breakdown's rows as (value, visitors, visits, pageviews, bounce rate %).
pub fn rows(breakdown: &Value) -> Vec<(String, u64, u64, u64, f64)> {
    breakdown["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let m = &r["metrics"];
            (
                r["value"].as_str().unwrap().to_owned(),
                m["visitors"].as_u64().unwrap(),
                m["visits"].as_u64().unwrap(),
                m["pageviews"].as_u64().unwrap(),
                m["bounce_rate"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Asserts aggregate metrics: (visitors, visits, pageviews, events, bounce_rate %,
/// visit_duration s, views_per_visit).
pub fn expect(m: &Value, want: (u64, u64, u64, u64, f64, f64, f64), label: &str) {
    let got = (
        m["visitors"].as_u64().unwrap(),
        m["visits"].as_u64().unwrap(),
        m["pageviews"].as_u64().unwrap(),
        m["events"].as_u64().unwrap(),
        m["bounce_rate"].as_f64().unwrap(),
        m["visit_duration"].as_f64().unwrap(),
        m["views_per_visit"].as_f64().unwrap(),
    );
    assert_eq!(got, want, "{label}: {m}");
}

/// Runs `projector rebuild analytics --drop-old` with the given session timeout and waits for it.
pub fn rebuild(read_url: &str, write_url: &str, brokers: Option<&str>, timeout_minutes: u32) {
    let mut cmd = std::process::Command::new(devstack::binary("projector").unwrap());
    cmd.args(["rebuild", "analytics", "--quiet", "--drop-old"]);
    for (k, v) in app::projector_env(read_url, write_url, brokers) {
        cmd.env(k, v);
    }
    cmd.env("TALLY_ANALYTICS__SESSION_TIMEOUT_MINUTES", timeout_minutes.to_string());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "rebuild failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
