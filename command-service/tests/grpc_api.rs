//! The gRPC face: commands, rich errors, health and reflection, through a
//! real tonic client over HTTP/2 against the real server.

mod common;

use common::TestApp;
use tally_proto::v1::{self, command_service_client::CommandServiceClient};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

async fn client(app: &TestApp) -> CommandServiceClient<Channel> {
    CommandServiceClient::connect(app.base.clone()).await.expect("gRPC connects")
}

fn profile(handle: &str) -> v1::Profile {
    v1::Profile {
        handle: handle.into(),
        display_name: handle.into(),
        email: format!("{handle}@example.com"),
        ..Default::default()
    }
}

#[tokio::test]
async fn commands_over_grpc_return_versions_and_positions() {
    let app = TestApp::spawn().await;
    let mut c = client(&app).await;
    let created = c
        .create_profile(v1::CreateProfileRequest { profile: Some(profile("turing")), command_id: "c-1".into() })
        .await
        .unwrap()
        .into_inner();
    let p = created.profile.unwrap();
    let r = created.result.unwrap();
    assert_eq!((r.stream_version, r.global_position, r.events_appended), (1, 1, 1));
    assert_eq!(p.version, 1);

    let updated = c
        .update_profile(v1::UpdateProfileRequest {
            profile: Some(v1::Profile { id: p.id.clone(), bio: "Computing Machinery".into(), ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["bio".into()] }),
            command_id: String::new(),
            expected_version: Some(1),
        })
        .await
        .unwrap()
        .into_inner();
    let up = updated.profile.unwrap();
    assert_eq!(up.bio, "Computing Machinery");
    assert_eq!(up.handle, "turing", "fields outside the mask are kept");
    assert_eq!(updated.result.unwrap().global_position, 2);

    let deleted = c
        .delete_profile(v1::DeleteProfileRequest {
            id: p.id.clone(),
            command_id: String::new(),
            expected_version: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.result.unwrap().stream_version, 3);

    // A retry of the first command is answered from the stored result.
    let replay = c
        .create_profile(v1::CreateProfileRequest { profile: Some(profile("turing")), command_id: "c-1".into() })
        .await
        .unwrap()
        .into_inner();
    let rr = replay.result.unwrap();
    assert!(rr.replayed);
    assert_eq!(rr.global_position, 1);
    assert_eq!(app.event_count().await, 3);
}

#[tokio::test]
async fn errors_carry_google_rpc_details() {
    let app = TestApp::spawn().await;
    let mut c = client(&app).await;

    let mut bad = profile("hopper");
    bad.email = "not-an-email".into();
    let status =
        c.create_profile(v1::CreateProfileRequest { profile: Some(bad), command_id: String::new() }).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let violations = &details.bad_request().expect("BadRequest detail").field_violations;
    assert_eq!(violations[0].field, "email");

    let status =
        c.create_profile(v1::CreateProfileRequest { profile: None, command_id: String::new() }).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.get_error_details().bad_request().unwrap().field_violations[0].field, "profile");

    let created = c
        .create_profile(v1::CreateProfileRequest { profile: Some(profile("hopper")), command_id: String::new() })
        .await
        .unwrap()
        .into_inner();
    let id = created.profile.unwrap().id;
    let status = c
        .create_profile(v1::CreateProfileRequest { profile: Some(profile("hopper")), command_id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);

    let stale = v1::UpdateProfileRequest {
        profile: Some(v1::Profile { id: id.clone(), bio: "x".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["bio".into()] }),
        command_id: String::new(),
        expected_version: Some(7),
    };
    let status = c.update_profile(stale).await.unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    let info = status.get_error_details().error_info().cloned().expect("ErrorInfo detail");
    assert_eq!(info.reason, "version-conflict");
    assert_eq!(info.metadata.get("current_version").map(String::as_str), Some("1"));

    let status = c
        .delete_profile(v1::DeleteProfileRequest {
            id: "nope".into(),
            command_id: String::new(),
            expected_version: None,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = c
        .delete_profile(v1::DeleteProfileRequest {
            id: uuid::Uuid::now_v7().to_string(),
            command_id: String::new(),
            expected_version: None,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn malformed_protobuf_is_a_client_error_not_a_crash() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    // A gRPC frame (uncompressed, length 4) whose bytes are not a valid message.
    let frame = [0u8, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff];
    let resp = http
        .post(app.url("/tally.v1.CommandService/CreateProfile"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(frame.to_vec())
        .send()
        .await
        .unwrap();
    // Unary errors are sent "trailers-only": the status is in the headers.
    let code = resp.headers().get("grpc-status").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(code, (Code::InvalidArgument as i32).to_string(), "undecodable protobuf must be INVALID_ARGUMENT");
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn health_reports_serving_and_reflection_lists_the_services() {
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };

    let app = TestApp::spawn().await;
    let channel = Channel::from_shared(app.base.clone()).unwrap().connect().await.unwrap();
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "tally.v1.CommandService"] {
        let resp = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(resp.status(), ServingStatus::Serving, "{service:?}");
    }

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection.server_reflection_info(futures::stream::iter([request])).await.unwrap().into_inner();
    let response = stream.message().await.unwrap().expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list, got {:?}", response.message_response);
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["tally.v1.CommandService", "tally.v1.QueryService", "tally.v1.EventStore", "grpc.health.v1.Health"]
    {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}
