//! Another language's standard tooling can call the service: a Python client
//! generated from `proto/` with grpcio-tools talks to the real binary, and
//! server reflection lists the services.

use std::path::PathBuf;

use serde_json::Value;
use tally_tests::devstack;

fn tools_python() -> PathBuf {
    devstack::workspace_root().join("target/tools-venv/bin/python3")
}

#[tokio::test]
async fn a_generated_python_client_creates_and_updates_profiles() {
    let python = tools_python();
    assert!(python.exists(), "{} is missing: run scripts/bootstrap.sh (make test does)", python.display());
    let root = devstack::workspace_root();
    let generated = tempfile::tempdir().unwrap();
    let protos: Vec<PathBuf> = std::fs::read_dir(root.join("proto/proto/tally/v1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    let out = tokio::process::Command::new(&python)
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(root.join("proto/proto"))
        .arg(format!("--python_out={}", generated.path().display()))
        .arg(format!("--grpc_python_out={}", generated.path().display()))
        .args(&protos)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "protoc failed: {}", String::from_utf8_lossy(&out.stderr));

    let (_cluster, db_url) = devstack::fresh_database().await.unwrap();
    let (_service, base) = tally_tests::app::spawn_command_service(&db_url).await.unwrap();
    let target = base.trim_start_matches("http://").to_owned();
    let out = tokio::process::Command::new(&python)
        .arg(root.join("tests/interop/grpc_client.py"))
        .arg(generated.path())
        .arg(&target)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "python client failed: {}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();

    let services: Vec<&str> = seen["services"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    for expected in ["tally.v1.CommandService", "tally.v1.EventStore", "grpc.health.v1.Health"] {
        assert!(services.contains(&expected), "{expected} not listed by reflection: {services:?}");
    }
    assert_eq!(seen["created"]["version"], 1);
    assert_eq!(seen["updated"]["bio"], "Benevolent");
    assert_eq!(seen["updated"]["handle"], "pythonista");
    assert_eq!(seen["updated"]["version"], 2);
    assert_eq!(seen["invalid"]["code"], "INVALID_ARGUMENT");
    let details = seen["invalid"]["details"].as_str().unwrap();
    assert!(details.contains("handle") && details.contains("email"), "field names in the message: {details}");
}
