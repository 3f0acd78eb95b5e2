//! `tally up` itself, as users run it: it starts, answers through nginx, stops on Ctrl-C
//! (SIGINT) leaving no process behind, reuses its state on the next run (data included),
//! and `tally down` / `tally reset` work from another "terminal".

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tally_tests::devstack::{self, ProcessStamp};

/// How long a start may take on a busy 2-core machine (first run: initdb ×2, a base backup).
const START: Duration = Duration::from_secs(120);

struct Up {
    child: tokio::process::Child,
    log: PathBuf,
}

/// Starts `tally up` on free ports in `state` and waits until it says the stack is up.
async fn tally_up(state: &Path, run: usize) -> Up {
    let log = state.with_extension(format!("up-{run}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let bin = devstack::binary("tally").unwrap();
    let child = tokio::process::Command::new(&bin)
        .args(["up", "--free-ports", "--state-dir"])
        .arg(state)
        .arg("--bin-dir")
        .arg(bin.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut up = Up { child, log };
    let deadline = Instant::now() + START;
    loop {
        let text = std::fs::read_to_string(&up.log).unwrap_or_default();
        if text.contains("Stack is up.") {
            return up;
        }
        if let Some(status) = up.child.try_wait().unwrap() {
            panic!("tally up exited ({status}) before the stack was up:\n{text}");
        }
        assert!(Instant::now() < deadline, "tally up not up within {START:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Up {
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Ctrl-C, then the exit status.
    async fn interrupt(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(90), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("tally up did not stop within 90 s of Ctrl-C:\n{}", self.output()))
            .unwrap()
    }
}

/// Every process the stack recorded, plus the postmasters of its clusters.
fn stack_processes(state: &Path) -> Vec<(String, ProcessStamp)> {
    let stack: Value = serde_json::from_slice(&std::fs::read(state.join("stack.json")).unwrap()).unwrap();
    let mut all: Vec<(String, ProcessStamp)> = stack["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let stamp =
                ProcessStamp { pid: s["pid"].as_i64().unwrap() as i32, start_time: s["start_time"].as_u64().unwrap() };
            (s["name"].as_str().unwrap().to_owned(), stamp)
        })
        .collect();
    for cluster in ["pg", "pg-read", "pg-replica"] {
        let pidfile = std::fs::read_to_string(state.join(cluster).join("data/postmaster.pid")).unwrap();
        let pid: i32 = pidfile.lines().next().unwrap().trim().parse().unwrap();
        all.push((format!("postgres in {cluster}"), ProcessStamp::of(pid).unwrap()));
    }
    all
}

/// Live processes whose process group is `pgid` (nginx's workers live in their master's).
fn group_members(pgid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return false };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // Fields after the command: state, ppid, pgrp.
            fields.first() != Some(&"Z") && fields.get(2).and_then(|g| g.parse().ok()) == Some(pgid)
        })
        .collect()
}

fn endpoints(state: &Path) -> Value {
    let stack: Value = serde_json::from_slice(&std::fs::read(state.join("stack.json")).unwrap()).unwrap();
    stack["endpoints"].clone()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// Creates a profile through the gateway and reads it back there with its position.
async fn write_and_read(gateway: &str, handle: &str) {
    let body: Value = http()
        .post(format!("{gateway}/v1/profiles"))
        .json(&json!({"handle": handle, "display_name": handle, "email": format!("{handle}@example.com")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = body["profile"]["id"].as_str().unwrap_or_else(|| panic!("create failed: {body}"));
    let position = body["result"]["global_position"].as_u64().unwrap();
    let resp = http()
        .get(format!("{gateway}/v1/profiles/{id}"))
        .header("X-Min-Position", position.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "read-your-writes of {handle} through the gateway");
}

/// The read key `tally up` printed.
fn printed_key(output: &str) -> &str {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("KEY='")?.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no read key printed:\n{output}"))
}

/// The printed `aggregate` example works as printed: with the printed read key it counts the
/// demo traffic (once projected), without it the answer is 401.
async fn printed_statistics_example_answers(output: &str) {
    let key = printed_key(output);
    let url = output
        .lines()
        .filter_map(|l| l.trim().strip_prefix("curl -sS '")?.split_once('\'').map(|(url, _)| url.to_owned()))
        .find(|url| url.contains("/aggregate?"))
        .unwrap_or_else(|| panic!("no aggregate example printed:\n{output}"));
    assert_eq!(http().get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "{url} without the key");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = http().get(&url).bearer_auth(key).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url} with the printed key");
        let body: Value = resp.json().await.unwrap();
        if body["metrics"]["pageviews"].as_u64().unwrap_or(0) > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the demo traffic never showed in {url}: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn tally_up_stops_cleanly_and_reuses_its_state() {
    let dir = tempfile::Builder::new().prefix("tally-up-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let state = dir.path().join("state");

    // First run: new clusters, demo data, a write read back through nginx.
    let mut first = tally_up(&state, 1).await;
    let gateway = endpoints(&state)["http"].as_str().unwrap().to_owned();
    write_and_read(&gateway, "before_restart").await;
    printed_statistics_example_answers(&first.output()).await;
    let processes = stack_processes(&state);
    assert_eq!(processes.len(), 9, "6 processes and 3 clusters expected: {processes:?}");
    let nginx = processes.iter().find(|(n, _)| n == "nginx").expect("nginx is recorded").1;
    assert!(group_members(nginx.pid).len() >= 2, "nginx runs a master and a worker");

    let status = first.interrupt().await;
    assert!(status.success(), "tally up exited with {status} on Ctrl-C:\n{}", first.output());
    for (name, stamp) in &processes {
        assert!(!stamp.is_alive(), "{name} (pid {}) outlived Ctrl-C", stamp.pid);
    }
    assert_eq!(group_members(nginx.pid), Vec::<i32>::new(), "nginx workers outlived their master");

    // Second run: everything reused, old data still there, new writes still flow through
    // the (new, empty) broker into the read side.
    let mut second = tally_up(&state, 2).await;
    let output = second.output();
    for cluster in ["postgres (write)", "postgres (read)", "postgres (read replica)"] {
        let line = output.lines().find(|l| l.contains(&format!("{cluster}:"))).unwrap_or("");
        assert!(line.contains("reused"), "{cluster} was not reused: {line}\n{output}");
    }
    assert_eq!(printed_key(&output), printed_key(&first.output()), "the demo read key is kept, not issued again");
    assert!(output.contains("reused (issued by an earlier run)"), "{output}");
    let key_file = std::fs::metadata(state.join("demo-read-key.json")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key_file.permissions()) & 0o777, 0o600, "it holds a secret");
    printed_statistics_example_answers(&output).await;
    let gateway = endpoints(&state)["http"].as_str().unwrap().to_owned();
    let old = http().get(format!("{gateway}/v1/profiles/by-handle/before_restart")).send().await.unwrap();
    assert_eq!(old.status(), StatusCode::OK, "data of the first run");
    write_and_read(&gateway, "after_restart").await;
    let processes = stack_processes(&state);

    // `tally down` from elsewhere stops the running `tally up`, then `reset` deletes it all.
    let down = tokio::process::Command::new(devstack::binary("tally").unwrap())
        .args(["down", "--state-dir"])
        .arg(&state)
        .output()
        .await
        .unwrap();
    assert!(down.status.success(), "tally down: {}", String::from_utf8_lossy(&down.stderr));
    let status = tokio::time::timeout(Duration::from_secs(30), second.child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "tally up after tally down: {status}\n{}", second.output());
    for (name, stamp) in &processes {
        assert!(!stamp.is_alive(), "{name} (pid {}) outlived tally down", stamp.pid);
    }
    let reset = tokio::process::Command::new(devstack::binary("tally").unwrap())
        .args(["reset", "--state-dir"])
        .arg(&state)
        .output()
        .await
        .unwrap();
    assert!(reset.status.success(), "tally reset: {}", String::from_utf8_lossy(&reset.stderr));
    assert!(!state.exists(), "tally reset left {}", state.display());
}
