//! Supervised child processes (our own binaries, a broker, a proxy).

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::process::{Child, Command};

use crate::error::{Error, IoContext, Result};
use crate::proc::signal_pid;
use crate::watchdog::Watchdog;

/// Lines of log quoted in errors.
const TAIL_LINES: usize = 40;

/// How to tell that a service is ready.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// An HTTP GET to this URL answers 2xx.
    Http(String),
    /// A TCP connection to this address succeeds (brokers and other non-HTTP servers).
    Tcp(std::net::SocketAddr),
    /// Ready as soon as the process runs.
    Started,
}

/// Everything needed to start a service; [`Service::spawn`] fills in defaults.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub envs: Vec<(OsString, OsString)>,
    pub readiness: Readiness,
    /// Where stdout and stderr are appended; default `<target>/test-logs/<name>-<pid>-<n>.log`.
    pub log_path: Option<PathBuf>,
    pub ready_timeout: Duration,
}

impl ServiceSpec {
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>, readiness: Readiness) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            readiness,
            log_path: None,
            ready_timeout: Duration::from_secs(60),
        }
    }
}

/// A running child process. Dropping it kills the process (SIGKILL); use
/// [`Service::terminate`] for a graceful stop.
#[derive(Debug)]
pub struct Service {
    name: String,
    pid: i32,
    child: Child,
    log_path: PathBuf,
    exit: Option<ExitStatus>,
    _watchdog: Watchdog,
}

impl Service {
    /// Starts `program` and waits until it is ready (default timeout 60 s).
    pub async fn spawn<A, K, V>(
        name: &str,
        program: impl AsRef<Path>,
        args: impl IntoIterator<Item = A>,
        envs: impl IntoIterator<Item = (K, V)>,
        readiness: Readiness,
    ) -> Result<Self>
    where
        A: Into<OsString>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let mut spec = ServiceSpec::new(name, program.as_ref(), readiness);
        spec.args = args.into_iter().map(Into::into).collect();
        spec.envs = envs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Self::spawn_spec(spec).await
    }

    /// Starts a service described by `spec` and waits until it is ready.
    pub async fn spawn_spec(spec: ServiceSpec) -> Result<Self> {
        let log_path = spec.log_path.clone().unwrap_or_else(|| default_log_path(&spec.name));
        let log = open_log(&log_path, &spec)?;
        let stderr = log.try_clone().ctx(|| format!("dup {}", log_path.display()))?;
        let child = Command::new(&spec.program)
            .args(&spec.args)
            .envs(spec.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            // Its own process group: Ctrl-C in a terminal reaches only the supervisor, which
            // then stops services in order.
            .process_group(0)
            .spawn()
            .ctx(|| format!("spawn {} ({})", spec.name, spec.program.display()))?;
        let pid = child.id().map_or(0, |p| p as i32);
        let watchdog = Watchdog::spawn("stop_pid TERM \"$1\" 5", &[&pid.to_string()])?;
        // From here on, an early return drops `service`, which kills the child.
        let mut service = Self { name: spec.name.clone(), pid, child, log_path, exit: None, _watchdog: watchdog };
        service.await_ready(&spec.readiness, spec.ready_timeout).await?;
        Ok(service)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `n` lines of the service's log.
    pub fn log_tail(&self, n: usize) -> String {
        crate::logs::tail_lines(&self.log_path, n)
    }

    /// The exit status if the process has exited, without waiting.
    pub fn try_exit_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ctx(|| format!("wait for {}", self.name))?;
        }
        Ok(self.exit)
    }

    /// Waits for the process to exit by itself.
    pub async fn wait_exit(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.exit {
            return Ok(status);
        }
        let status = self.child.wait().await.ctx(|| format!("wait for {}", self.name))?;
        self.exit = Some(status);
        Ok(status)
    }

    /// SIGKILL, then waits for the exit: a crash as the service would experience it.
    pub async fn kill_hard(&mut self) -> Result<ExitStatus> {
        if self.try_exit_status()?.is_none() {
            signal_pid(self.pid, Signal::SIGKILL);
        }
        self.wait_exit().await
    }

    /// SIGTERM, up to 15 s for a graceful exit, then SIGKILL.
    pub async fn terminate(&mut self) -> Result<ExitStatus> {
        if self.try_exit_status()?.is_some() {
            return self.wait_exit().await;
        }
        signal_pid(self.pid, Signal::SIGTERM);
        match tokio::time::timeout(Duration::from_secs(15), self.wait_exit()).await {
            Ok(status) => status,
            Err(_) => self.kill_hard().await,
        }
    }

    async fn await_ready(&mut self, readiness: &Readiness, timeout: Duration) -> Result<()> {
        let url = match readiness {
            Readiness::Http(url) => url,
            Readiness::Tcp(addr) => return self.await_tcp(*addr, timeout).await,
            Readiness::Started => return Ok(()),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| Error::Setup(format!("http client: {e}")))?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status()? {
                return Err(self.failure(format!("exited before it was ready ({status})")));
            }
            if let Ok(resp) = http.get(url).send().await
                && resp.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.failure(format!("was not ready at {url} within {timeout:?}")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn await_tcp(&mut self, addr: std::net::SocketAddr, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status()? {
                return Err(self.failure(format!("exited before it was ready ({status})")));
            }
            let attempt = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await;
            if let Ok(Ok(_stream)) = attempt {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.failure(format!("did not accept connections on {addr} within {timeout:?}")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn failure(&self, reason: String) -> Error {
        Error::Service { name: self.name.clone(), reason, log: self.log_path.clone(), tail: self.log_tail(TAIL_LINES) }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if !matches!(self.try_exit_status(), Ok(Some(_))) {
            signal_pid(self.pid, Signal::SIGKILL);
        }
    }
}

fn default_log_path(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    crate::paths::target_dir().join("test-logs").join(format!("{name}-{}-{n}.log", std::process::id()))
}

/// Opens the log for appending and writes a header, so restarts of one service are easy to
/// tell apart in a shared log.
fn open_log(path: &Path, spec: &ServiceSpec) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
    }
    let mut file =
        OpenOptions::new().create(true).append(true).open(path).ctx(|| format!("open {}", path.display()))?;
    let args: Vec<_> = spec.args.iter().map(|a| a.to_string_lossy()).collect();
    writeln!(file, "=== starting {}: {} {}", spec.name, spec.program.display(), args.join(" "))
        .ctx(|| format!("write {}", path.display()))?;
    Ok(file)
}
