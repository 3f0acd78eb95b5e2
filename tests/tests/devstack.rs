//! The test infrastructure itself: clusters, fresh databases, services, cleanup.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use tally_tests::devstack::{self, PgCluster, PgOptions, Readiness, Service, ServiceSpec};

async fn query_one_i32(url: &str, sql: &str) -> Result<i32> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client.query_one(sql, &[]).await?.get(0))
}

fn refuses_connections(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_err()
}

/// Polls `cond` for up to `timeout`.
fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

#[tokio::test]
async fn a_cluster_starts_and_answers_queries() -> Result<()> {
    let pg = PgCluster::start(PgOptions::default()).await?;
    assert_eq!(query_one_i32(&pg.url("postgres"), "SELECT 1").await?, 1);

    let (client, conn) = tokio_postgres::connect(&pg.url("postgres"), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let fsync: String = client.query_one("SHOW fsync", &[]).await?.get(0);
    assert_eq!(fsync, "off", "ephemeral clusters trade durability for speed");
    let max: String = client.query_one("SHOW max_connections", &[]).await?.get(0);
    assert_eq!(max, "200");
    Ok(())
}

#[tokio::test]
async fn fresh_databases_are_usable_and_distinct() -> Result<()> {
    let (cluster, a) = devstack::fresh_database().await?;
    let (same_cluster, b) = devstack::fresh_database().await?;
    assert!(std::sync::Arc::ptr_eq(&cluster, &same_cluster), "one cluster per process");
    assert_ne!(a, b);

    let (client, conn) = tokio_postgres::connect(&a, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (41)").await?;
    assert_eq!(query_one_i32(&a, "SELECT x + 1 FROM t").await?, 42);
    // The other database does not see the table: each test gets a clean slate.
    assert_eq!(query_one_i32(&b, "SELECT count(*)::int FROM pg_tables WHERE tablename = 't'").await?, 0);
    Ok(())
}

#[tokio::test]
async fn two_clusters_run_side_by_side() -> Result<()> {
    let (one, two) = tokio::try_join!(PgCluster::start(PgOptions::default()), PgCluster::start(PgOptions::default()))?;
    assert_ne!(one.port(), two.port());
    assert_ne!(one.dir(), two.dir());
    assert_eq!(query_one_i32(&one.url("postgres"), "SELECT 1").await?, 1);
    assert_eq!(query_one_i32(&two.url("postgres"), "SELECT 2").await?, 2);
    Ok(())
}

#[tokio::test]
async fn drop_stops_the_server_and_removes_its_directory() -> Result<()> {
    let pg = PgCluster::start(PgOptions::default()).await?;
    let (port, dir) = (pg.port(), pg.dir().to_path_buf());
    assert!(dir.join("data/PG_VERSION").is_file());
    assert!(!refuses_connections(port));

    drop(pg);
    assert!(!dir.exists(), "{} should be gone", dir.display());
    assert!(refuses_connections(port), "port {port} still accepts connections");
    Ok(())
}

#[tokio::test]
async fn a_persistent_cluster_is_reused_with_its_data() -> Result<()> {
    let root = tempfile::tempdir()?;
    // The server user (postgres, when we are root) must be able to enter the directory.
    std::fs::set_permissions(root.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let opts = PgOptions { dir: Some(root.path().join("pg")), durable: true, ..PgOptions::default() };

    let first = PgCluster::start(opts.clone()).await?;
    assert!(!first.reused());
    assert!(first.ensure_database("keep").await?);
    let url = first.url("keep");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)").await?;
    drop(client);
    first.stop()?;
    drop(first);
    assert!(root.path().join("pg/data/PG_VERSION").is_file(), "persistent data survives stop");

    let second = PgCluster::start(opts).await?;
    assert!(second.reused());
    assert!(!second.ensure_database("keep").await?, "database already exists");
    assert_eq!(query_one_i32(&second.url("keep"), "SELECT x FROM kept").await?, 7);
    Ok(())
}

#[tokio::test]
async fn a_service_becomes_ready_and_terminates() -> Result<()> {
    let port = devstack::free_port()?;
    let mut svc = Service::spawn(
        "http-server",
        "python3",
        ["-m".to_owned(), "http.server".to_owned(), port.to_string(), "--bind".to_owned(), "127.0.0.1".to_owned()],
        [("PYTHONUNBUFFERED", "1")],
        Readiness::Http(format!("http://127.0.0.1:{port}/")),
    )
    .await?;
    assert!(svc.try_exit_status()?.is_none());
    assert!(svc.log_path().is_file());
    svc.terminate().await?;
    assert!(refuses_connections(port));
    Ok(())
}

#[tokio::test]
async fn a_service_that_dies_reports_its_log() -> Result<()> {
    let err = Service::spawn(
        "doomed",
        "sh",
        ["-c", "echo 'listening... not really' >&2; exit 3"],
        std::iter::empty::<(&str, &str)>(),
        Readiness::Http("http://127.0.0.1:9/never".to_owned()),
    )
    .await
    .expect_err("the service exits before it is ready");
    let text = err.to_string();
    assert!(text.contains("exited before it was ready"), "{text}");
    assert!(text.contains("listening... not really"), "log tail is quoted: {text}");
    Ok(())
}

#[tokio::test]
async fn a_service_that_never_gets_ready_times_out() -> Result<()> {
    let mut spec =
        ServiceSpec::new("sleeper", "sleep", Readiness::Http(format!("http://127.0.0.1:{}/", devstack::free_port()?)));
    spec.args = vec!["30".into()];
    spec.ready_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let err = Service::spawn_spec(spec).await.expect_err("never ready");
    assert!(err.to_string().contains("was not ready"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}

#[tokio::test]
async fn kill_hard_is_a_crash() -> Result<()> {
    let port = devstack::free_port()?;
    let mut svc = Service::spawn(
        "http-server",
        "python3",
        ["-m".to_owned(), "http.server".to_owned(), port.to_string(), "--bind".to_owned(), "127.0.0.1".to_owned()],
        std::iter::empty::<(&str, &str)>(),
        Readiness::Http(format!("http://127.0.0.1:{port}/")),
    )
    .await?;
    let status = svc.kill_hard().await?;
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
    assert_eq!(svc.wait_exit().await?, status, "waiting again returns the same status");
    assert!(refuses_connections(port));
    Ok(())
}

#[test]
fn a_missing_binary_says_how_to_build_it() {
    let err = devstack::binary("no-such-binary").expect_err("not built");
    assert!(err.to_string().contains("cargo build --bins"), "{err}");
}

#[test]
fn reap_stale_removes_abandoned_clusters_only() -> Result<()> {
    let abandoned = tempfile::Builder::new().prefix("tally-pg-").tempdir()?.keep();
    // A pid above any pid_max: its owner is certainly gone.
    std::fs::write(abandoned.join("harness.pid"), "2147483646 1\n")?;
    let live = PgCluster::start_blocking(PgOptions::default())?;

    let report = devstack::reap_stale()?;
    assert!(report.removed_dirs >= 1, "{report:?}");
    assert!(!abandoned.exists());
    assert!(live.dir().exists(), "a live cluster is left alone");
    assert!(!refuses_connections(live.port()));
    Ok(())
}

/// Helper for the next test: run as a child process, holds a cluster until killed.
#[tokio::test]
#[ignore = "helper process for a_cluster_dies_with_its_owner"]
async fn helper_hold_cluster() -> Result<()> {
    if std::env::var_os("TALLY_HELPER_HOLD_CLUSTER").is_none() {
        return Ok(());
    }
    let pg = PgCluster::start(PgOptions::default()).await?;
    println!("CLUSTER {} {}", pg.port(), pg.dir().display());
    tokio::time::sleep(Duration::from_secs(600)).await;
    Ok(())
}

#[test]
fn a_cluster_dies_with_its_owner() -> Result<()> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["helper_hold_cluster", "--exact", "--ignored", "--nocapture"])
        .env("TALLY_HELPER_HOLD_CLUSTER", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("CLUSTER "))
        .context("helper printed no cluster")?;
    let mut parts = line.split_whitespace().skip(1);
    let port: u16 = parts.next().context("port")?.parse()?;
    let dir = PathBuf::from(parts.next().context("dir")?);
    ensure!(!refuses_connections(port));

    child.kill()?; // SIGKILL: no destructor runs in the owner.
    child.wait()?;
    assert!(
        eventually(Duration::from_secs(15), || refuses_connections(port) && !Path::exists(&dir)),
        "the watchdog should stop the server on port {port} and remove {}",
        dir.display()
    );
    Ok(())
}
