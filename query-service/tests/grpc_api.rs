//! The gRPC face: reads, pagination, health, reflection and drain, through a
//! real tonic client over HTTP/2 against the real server.

mod common;

use std::{collections::HashSet, time::Duration};

use common::TestApp;
use serde_json::json;
use tally_proto::v1::{self, query_service_client::QueryServiceClient};
use tonic::{Code, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
use uuid::Uuid;

async fn client(app: &TestApp) -> QueryServiceClient<Channel> {
    QueryServiceClient::connect(app.base.clone()).await.expect("gRPC connects")
}

#[tokio::test]
async fn profiles_and_sites_read_back_over_grpc() {
    let app = TestApp::spawn().await;
    let owner = Uuid::now_v7();
    let site = app.seed_site(owner, "hopper.dev").await;
    let sites = json!([{"id": site.to_string(), "domain": "hopper.dev", "name": "Site hopper.dev", "time_zone": "Europe/Paris"}]);
    app.seed_profile_with(owner, "hopper", 3, sites).await;
    let mut c = client(&app).await;

    let p =
        c.get_profile(v1::GetProfileRequest { id: owner.to_string(), min_position: None }).await.unwrap().into_inner();
    assert_eq!((p.id.as_str(), p.handle.as_str(), p.version), (owner.to_string().as_str(), "hopper", 2));
    assert_eq!(p.email, "hopper@example.com");
    assert_eq!(p.attributes.get("team").map(String::as_str), Some("engines"));
    assert_eq!(p.create_time.unwrap().seconds, 1_735_787_045, "2025-01-02T03:04:05Z");
    assert_eq!(p.sites.len(), 1);
    assert_eq!((p.sites[0].id.as_str(), p.sites[0].domain.as_str()), (site.to_string().as_str(), "hopper.dev"));

    let by_handle = c
        .get_profile_by_handle(v1::GetProfileByHandleRequest { handle: "HOPPER".into(), min_position: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_handle, p);

    let s = c.get_site(v1::GetSiteRequest { id: site.to_string(), min_position: None }).await.unwrap().into_inner();
    assert_eq!(
        (s.domain.as_str(), s.owner_profile_id.as_str(), s.version),
        ("hopper.dev", owner.to_string().as_str(), 1)
    );
    assert_eq!(s.time_zone, "Europe/Paris");

    let s =
        c.get_profile(v1::GetProfileRequest { id: Uuid::now_v7().to_string(), min_position: None }).await.unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
    let s = c
        .get_profile_by_handle(v1::GetProfileByHandleRequest { handle: "nobody".into(), min_position: None })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
}

#[tokio::test]
async fn list_profiles_pages_through_everything_once() {
    let app = TestApp::spawn().await;
    let mut seeded = HashSet::new();
    for i in 0..17 {
        seeded.insert(app.seed_profile_with(Uuid::new_v4(), &format!("g{i:02}"), i, json!([])).await.to_string());
    }
    let mut c = client(&app).await;
    let mut seen = Vec::new();
    let mut token = String::new();
    for _ in 0..10 {
        let page = c
            .list_profiles(v1::ListProfilesRequest { page_size: 4, page_token: token.clone(), min_position: None })
            .await
            .unwrap()
            .into_inner();
        assert!(page.profiles.len() <= 4);
        seen.extend(page.profiles.into_iter().map(|p| p.id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert!(token.is_empty(), "the walk ended");
    assert_eq!(seen.len(), 17);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), seeded);
    let mut sorted = seen.clone();
    sorted.sort_by_key(|id| id.parse::<Uuid>().unwrap());
    assert_eq!(seen, sorted, "id order");

    // The REST cursor and the gRPC token are the same thing.
    let first = c
        .list_profiles(v1::ListProfilesRequest { page_size: 4, page_token: String::new(), min_position: None })
        .await
        .unwrap()
        .into_inner();
    let rest: serde_json::Value = app.get("/v1/profiles?limit=4").await.json().await.unwrap();
    assert_eq!(rest["next_after"], first.next_page_token);

    // 0 means the default page size; huge sizes are coerced (AIP-158).
    for page_size in [0, 1_000_000] {
        let page = c
            .list_profiles(v1::ListProfilesRequest { page_size, page_token: String::new(), min_position: None })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.profiles.len(), 17, "page_size {page_size}");
        assert!(page.next_page_token.is_empty());
    }
}

#[tokio::test]
async fn health_reports_serving_and_reflection_lists_the_query_service() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };

    let app = TestApp::spawn().await;
    let channel = Channel::from_shared(app.base.clone()).unwrap().connect().await.unwrap();
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "tally.v1.QueryService"] {
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
    for expected in ["tally.v1.QueryService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}

#[tokio::test]
async fn shutdown_flips_health_to_not_serving_while_still_answering() {
    let db_url = common::read_db().await;
    let mut settings = common::settings(&db_url);
    settings.server.drain = Duration::from_secs(2);
    let app = TestApp::spawn_with(settings).await;
    let id = app.seed_profile("drainee", 1).await;
    let channel = Channel::from_shared(app.base.clone()).unwrap().connect().await.unwrap();
    let mut health = HealthClient::new(channel.clone());
    let check = HealthCheckRequest { service: "tally.v1.QueryService".into() };
    assert_eq!(health.check(check.clone()).await.unwrap().into_inner().status(), ServingStatus::Serving);

    app.begin_shutdown();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let status = health.check(check.clone()).await.unwrap().into_inner().status();
        if status == ServingStatus::NotServing {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "health never flipped to NOT_SERVING");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = health.check(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
    assert_eq!(all.status(), ServingStatus::NotServing);
    assert_eq!(app.get("/readyz").await.status(), 503, "readiness off while draining");
    // Reads in the drain window are still served.
    let mut c = QueryServiceClient::new(channel);
    let p = c.get_profile(v1::GetProfileRequest { id: id.to_string(), min_position: None }).await.unwrap().into_inner();
    assert_eq!(p.handle, "drainee");
    app.stop().await;
}
