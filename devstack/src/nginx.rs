//! The gateway: a real nginx rendered from the project's one config template
//! (`deploy/nginx/tally.conf.template`), used by `tally up` and the end-to-end tests alike.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::{Error, IoContext, Result};
use crate::service::{Readiness, Service, ServiceSpec};

/// The template, compiled in so every binary renders exactly the file in the repository.
pub const NGINX_TEMPLATE: &str = include_str!("../../deploy/nginx/tally.conf.template");

/// Overrides which `nginx` binary is started.
pub const NGINX_ENV: &str = "TALLY_NGINX";

/// Who the workers run as when nginx starts as root (Debian's `nobody`/`nogroup`).
const WORKER_USER: &str = "nobody nogroup";

/// Where the gateway forwards to, and where it listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayPorts {
    /// REST (HTTP/1.1) listener.
    pub http: u16,
    /// gRPC (HTTP/2 over cleartext) listener.
    pub grpc: u16,
    pub command: u16,
    pub query: [u16; 2],
    pub projector: u16,
}

/// How to start [`Nginx`].
#[derive(Debug, Clone)]
pub struct NginxOptions {
    /// Its own directory: rendered config, pid file, logs, temp paths.
    pub prefix: PathBuf,
    pub ports: GatewayPorts,
    /// Default: `$TALLY_NGINX`, else `/usr/sbin/nginx`, else `nginx` on the `PATH`.
    pub binary: Option<PathBuf>,
    pub ready_timeout: Duration,
}

impl NginxOptions {
    pub fn new(prefix: impl Into<PathBuf>, ports: GatewayPorts) -> Self {
        Self { prefix: prefix.into(), ports, binary: None, ready_timeout: Duration::from_secs(20) }
    }
}

/// A running nginx master (and its workers). Dropping it stops them all.
#[derive(Debug)]
pub struct Nginx {
    service: Option<Service>,
    ports: GatewayPorts,
    prefix: PathBuf,
}

impl Nginx {
    /// Renders the template into `<prefix>/nginx.conf`, starts nginx in the foreground and
    /// waits until its own `/healthz` answers on the REST port.
    pub async fn start(opts: NginxOptions) -> Result<Self> {
        for dir in ["logs", "tmp"] {
            let path = opts.prefix.join(dir);
            std::fs::create_dir_all(&path).ctx(|| format!("create {}", path.display()))?;
        }
        let prefix = std::fs::canonicalize(&opts.prefix).ctx(|| format!("resolve {}", opts.prefix.display()))?;
        let conf = prefix.join("nginx.conf");
        let text = render(NGINX_TEMPLATE, &vars(&prefix, opts.ports))?;
        std::fs::write(&conf, text).ctx(|| format!("write {}", conf.display()))?;

        let binary = opts.binary.clone().map_or_else(locate_nginx, Ok)?;
        let readiness = Readiness::Http(format!("http://127.0.0.1:{}/healthz", opts.ports.http));
        let mut spec = ServiceSpec::new("nginx", binary, readiness);
        let error_log = prefix.join("logs/error.log");
        // `-e`: the error log before the config is read (the default /var/log path may not
        // be writable); `-p`: relative paths resolve under the prefix.
        spec.args = vec![
            OsString::from("-p"),
            prefix.clone().into_os_string(),
            OsString::from("-c"),
            conf.into_os_string(),
            OsString::from("-e"),
            error_log.into_os_string(),
        ];
        spec.log_path = Some(prefix.join("logs/nginx.out"));
        spec.ready_timeout = opts.ready_timeout;
        let service = Service::spawn_spec(spec).await.map_err(|e| with_error_log(e, &prefix))?;
        Ok(Self { service: Some(service), ports: opts.ports, prefix })
    }

    pub fn ports(&self) -> GatewayPorts {
        self.ports
    }

    /// `http://127.0.0.1:<http port>` (REST).
    pub fn http_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.http)
    }

    /// `http://127.0.0.1:<grpc port>` (gRPC over h2c).
    pub fn grpc_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.grpc)
    }

    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The master process (for its pid, or to wait for an unexpected exit).
    pub fn service(&mut self) -> &mut Service {
        self.service.as_mut().expect("nginx runs until stopped")
    }

    /// SIGTERM (nginx's fast shutdown: the master stops its workers), up to 15 s, then
    /// SIGKILL for the whole process group.
    pub async fn stop(&mut self) -> Result<std::process::ExitStatus> {
        let mut service = self.service.take().expect("nginx stopped twice");
        let status = service.terminate().await;
        kill_group(service.pid());
        status
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let Some(mut service) = self.service.take() else { return };
        // A plain SIGKILL of the master (what dropping a `Service` does) would orphan the
        // workers; give the master a moment to stop them itself.
        if matches!(service.try_exit_status(), Ok(None)) {
            let _ = kill(Pid::from_raw(service.pid()), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(service.try_exit_status(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        kill_group(service.pid());
    }
}

/// Kills whatever is left of nginx's process group (workers of a master that died hard).
fn kill_group(pid: i32) {
    if pid > 0 {
        let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
    }
}

fn vars(prefix: &Path, ports: GatewayPorts) -> Vec<(&'static str, String)> {
    vec![
        ("PREFIX", prefix.display().to_string()),
        ("WORKER_USER", WORKER_USER.to_owned()),
        ("HTTP_PORT", ports.http.to_string()),
        ("GRPC_PORT", ports.grpc.to_string()),
        ("COMMAND_PORT", ports.command.to_string()),
        ("QUERY_1_PORT", ports.query[0].to_string()),
        ("QUERY_2_PORT", ports.query[1].to_string()),
        ("PROJECTOR_PORT", ports.projector.to_string()),
    ]
}

/// Replaces every `{{NAME}}` in `template`. A placeholder without a value is an error (a
/// half-rendered config would fail later with a far less helpful message). Plain
/// substitution is all the template needs; nginx's own `$variables` stay untouched, which
/// `envsubst`-style tools would not guarantee.
pub fn render(template: &str, vars: &[(&str, String)]) -> Result<String> {
    let mut out = template.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    if let Some(start) = out.find("{{") {
        let name: String = out[start..].chars().take_while(|c| *c != '\n').take(40).collect();
        return Err(Error::Setup(format!("nginx template: no value for {name}")));
    }
    Ok(out)
}

fn locate_nginx() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(NGINX_ENV) {
        return Ok(PathBuf::from(path));
    }
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.is_file() {
        return Ok(debian);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::Setup("nginx not found: run `make bootstrap` (Debian nginx-light)".to_owned()))
}

/// A start failure quotes nginx's error log, where configuration errors end up.
fn with_error_log(e: Error, prefix: &Path) -> Error {
    match e {
        Error::Service { name, reason, log, tail } => {
            let errors = crate::logs::tail_lines(&prefix.join("logs/error.log"), 20);
            Error::Service { name, reason, log, tail: format!("{tail}\n--- error.log ---\n{errors}") }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_renders_completely() {
        let ports = GatewayPorts { http: 1, grpc: 2, command: 3, query: [4, 5], projector: 6 };
        let text = render(NGINX_TEMPLATE, &vars(Path::new("/p"), ports)).unwrap();
        assert!(text.contains("listen 127.0.0.1:2 http2;"), "{text}");
        assert!(text.contains("server 127.0.0.1:5 max_fails=1"), "{text}");
        assert!(!text.contains("{{"));
    }

    #[test]
    fn a_missing_value_is_named() {
        let err = render("a {{HTTP_PORT}} b {{NOPE}}", &[("HTTP_PORT", "1".to_owned())]).unwrap_err();
        assert!(err.to_string().contains("NOPE"), "{err}");
    }
}
