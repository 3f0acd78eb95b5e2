//! `tally down`, `status` and `reset`: acting on a stack from any terminal.

use std::time::Duration;

use anyhow::Result;

use super::state::StateDir;
use crate::ui::{note, step};

/// Stops a running stack: asks its `tally up` to shut down, then cleans up anything an
/// ungracefully killed supervisor left behind.
pub async fn down(state: &StateDir) -> Result<()> {
    if let Some(owner) = state.live_supervisor() {
        let gone = step(
            "stopping tally up",
            async { Ok(tokio::task::spawn_blocking(move || owner.terminate(Duration::from_secs(90))).await?) },
            |_| format!("pid {}", owner.pid),
        )
        .await?;
        anyhow::ensure!(gone, "pid {} did not exit", owner.pid);
    }
    // What a killed supervisor left running, newest first (nginx before the services).
    let stack = state.read_stack();
    for svc in stack.services.iter().rev() {
        let stamp = svc.stamp();
        if stamp.is_alive() {
            tokio::task::spawn_blocking(move || stamp.terminate(Duration::from_secs(15))).await?;
            note(format!("stopped orphaned {} (pid {})", svc.name, svc.pid));
        }
    }
    for (label, dir) in state.clusters() {
        if tokio::task::spawn_blocking(move || tally_devstack::stop_cluster_at(&dir)).await?? {
            note(format!("stopped orphaned {label}"));
        }
    }
    let _ = std::fs::remove_file(state.stack_file());
    let _ = std::fs::remove_file(state.supervisor_pid());
    println!("stack is down");
    Ok(())
}

/// `down`, then delete the state directory.
pub async fn reset(state: &StateDir) -> Result<()> {
    down(state).await?;
    if state.remove()? {
        println!("removed {}", state.root().display());
    }
    Ok(())
}

/// Prints what is running.
pub async fn status(state: &StateDir) -> Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    match state.live_supervisor() {
        Some(owner) => println!("{:<24} running (pid {})", "tally up", owner.pid),
        None => println!("{:<24} not running", "tally up"),
    }
    for (label, dir) in state.clusters().into_iter().rev() {
        match tally_devstack::running_cluster_port(&dir) {
            Some(port) => println!("{label:<24} running on 127.0.0.1:{port} ({})", dir.display()),
            None => println!("{label:<24} stopped"),
        }
    }
    let stack = state.read_stack();
    if stack.services.is_empty() {
        println!("{:<24} none running", "services");
    }
    for entry in &stack.services {
        if !entry.stamp().is_alive() {
            println!("{:<24} stopped", entry.name);
            continue;
        }
        let health = match &entry.ready_url {
            Some(url) => match http.get(url).send().await {
                Ok(r) if r.status().is_success() => format!("ready ({url})"),
                Ok(r) => format!("not ready: {} from {url}", r.status()),
                Err(_) => format!("not answering at {url}"),
            },
            None => "running".to_owned(),
        };
        println!("{:<24} {health}, pid {}, log {}", entry.name, entry.pid, entry.log.display());
    }
    if let Some(endpoints) = &stack.endpoints {
        println!("\ngateway: REST {} · gRPC {}", endpoints.http, endpoints.grpc);
    }
    Ok(())
}
