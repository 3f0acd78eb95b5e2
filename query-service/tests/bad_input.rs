//! Bad input, over REST and gRPC: every kind is a 4xx / INVALID_ARGUMENT
//! naming the field, never a 500.

mod common;

use common::TestApp;
use serde_json::Value;
use tally_proto::v1::{self, query_service_client::QueryServiceClient};
use tonic::Code;
use tonic_types::StatusExt;
use uuid::Uuid;

#[tokio::test]
async fn rest_bad_inputs_are_problems_naming_the_field() {
    let app = TestApp::spawn().await;
    let id = app.seed_profile("ada", 1).await;
    let long = "x".repeat(5000);
    let cases: Vec<(String, Option<&str>, &str)> = vec![
        ("/v1/profiles/not-a-uuid".into(), None, "id"),
        ("/v1/profiles/123".into(), None, "id"),
        ("/v1/sites/not-a-uuid".into(), None, "id"),
        (format!("/v1/profiles/{long}"), None, "id"),
        ("/v1/profiles/by-handle/a".into(), None, "handle"),
        ("/v1/profiles/by-handle/no%20spaces".into(), None, "handle"),
        ("/v1/profiles/by-handle/%20".into(), None, "handle"),
        ("/v1/profiles?limit=0".into(), None, "limit"),
        ("/v1/profiles?limit=501".into(), None, "limit"),
        ("/v1/profiles?limit=-5".into(), None, "limit"),
        ("/v1/profiles?limit=many".into(), None, "limit"),
        ("/v1/profiles?limit=1&limit=2".into(), None, "limit"),
        ("/v1/profiles?after=garbage".into(), None, "after"),
        ("/v1/profiles?after=AAAAAAAAAAAAAAAAAAAAAB".into(), None, "after"),
        ("/v1/profiles?page_token=x".into(), None, "page_token"),
        (format!("/v1/profiles/{id}"), Some("soon"), "X-Min-Position"),
        (format!("/v1/profiles/{id}"), Some("-1"), "X-Min-Position"),
        (format!("/v1/profiles/{id}"), Some("99999999999999999999999"), "X-Min-Position"),
        ("/v1/profiles".into(), Some("1.5"), "X-Min-Position"),
        (format!("/v1/profiles/{id}?min_position=soon"), None, "min_position"),
        (format!("/v1/profiles/{id}?min_position=1&min_position=2"), None, "min_position"),
        (format!("/v1/profiles/{id}?min_position=1"), Some("1"), "min_position"),
        ("/v1/profiles?min_position=-1&limit=5".into(), None, "min_position"),
        (format!("/v1/sites/{id}/aggregate?min_position=x"), None, "min_position"),
        (format!("/v1/sites/{id}/aggregate?compare=true"), None, "compare"),
        ("/v1/sites/nope/aggregate".into(), None, "id"),
        (format!("/v1/sites/{id}/aggregate?period=week"), None, "period"),
        (format!("/v1/sites/{id}/aggregate?period=custom&start_date=2026-01-02"), None, "end_date"),
        (format!("/v1/sites/{id}/aggregate?period=custom&start_date=2026-01-02&end_date=2026-01-01"), None, "end_date"),
        (format!("/v1/sites/{id}/aggregate?period=7d&start_date=2026-01-02"), None, "start_date"),
        (format!("/v1/sites/{id}/aggregate?filter=colour:is:red"), None, "filter"),
        (format!("/v1/sites/{id}/aggregate?filter=page:equals:/a"), None, "filter"),
        (format!("/v1/sites/{id}/aggregate?goal=signup"), None, "goal"),
        (format!("/v1/sites/{id}/aggregate?interval=day"), None, "interval"),
        (format!("/v1/sites/{id}/timeseries?interval=hour&period=30d"), None, "interval"),
        (format!("/v1/sites/{id}/breakdown"), None, "dimension"),
        (format!("/v1/sites/{id}/breakdown?dimension=prop"), None, "prop_key"),
        (format!("/v1/sites/{id}/breakdown?dimension=page&limit=0"), None, "limit"),
        (format!("/v1/sites/{id}/breakdown?dimension=page&after=zz"), None, "after"),
    ];
    for (path, min_position, field) in cases {
        let mut req = app.http.get(app.url(&path));
        if let Some(raw) = min_position {
            req = req.header("X-Min-Position", raw);
        }
        let resp = req.send().await.unwrap();
        let label = format!("{path} (X-Min-Position: {min_position:?})");
        assert_eq!(resp.status(), 400, "{label}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json", "{label}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], field, "{label}: {body}");
        assert!(body["detail"].as_str().unwrap().len() < 300, "{label}: bad input is not echoed whole");
    }
}

#[tokio::test]
async fn grpc_bad_inputs_are_invalid_arguments_naming_the_field() {
    let app = TestApp::spawn().await;
    let mut c = QueryServiceClient::connect(app.base.clone()).await.unwrap();
    let field_of = |status: tonic::Status| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        status.get_error_details().bad_request().expect("BadRequest detail").field_violations[0].field.clone()
    };

    let s = c.get_profile(v1::GetProfileRequest { id: "nope".into(), min_position: None }).await.unwrap_err();
    assert_eq!(field_of(s), "id");
    let s = c.get_profile(v1::GetProfileRequest { id: String::new(), min_position: None }).await.unwrap_err();
    assert_eq!(field_of(s), "id");
    let s = c.get_site(v1::GetSiteRequest { id: "12".into(), min_position: Some(3) }).await.unwrap_err();
    assert_eq!(field_of(s), "id");
    let s = c
        .get_profile_by_handle(v1::GetProfileByHandleRequest { handle: "1abc".into(), min_position: None })
        .await
        .unwrap_err();
    assert_eq!(field_of(s), "handle");
    let s = c
        .list_profiles(v1::ListProfilesRequest { page_size: -1, page_token: String::new(), min_position: None })
        .await
        .unwrap_err();
    assert_eq!(field_of(s), "page_size");
    let s = c
        .list_profiles(v1::ListProfilesRequest { page_size: 0, page_token: "%%".into(), min_position: None })
        .await
        .unwrap_err();
    assert_eq!(field_of(s), "page_token");

    // Unknown ids are NOT_FOUND, not invalid.
    let s = c.get_site(v1::GetSiteRequest { id: Uuid::now_v7().to_string(), min_position: None }).await.unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
}

#[tokio::test]
async fn statistics_rpcs_name_bad_fields_and_refuse_unknown_sites() {
    let app = TestApp::spawn().await;
    // A valid key of one site asking about another, unknown, site is refused like any key
    // that is not the site's: the answer says nothing about which sites exist.
    let known = app.seed_site(Uuid::now_v7(), "known.example").await;
    let key = app.seed_key(known, "00000000000000a1", false).await;
    fn keyed<T>(message: T, key: &str) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        r.metadata_mut().insert("authorization", key.parse().unwrap());
        r
    }
    let mut c = QueryServiceClient::connect(app.base.clone()).await.unwrap();
    let field_of = |status: tonic::Status| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        status.get_error_details().bad_request().expect("BadRequest detail").field_violations[0].field.clone()
    };
    let s = c.get_aggregate(v1::AggregateRequest::default()).await.unwrap_err();
    assert_eq!(field_of(s), "site_id");
    let site = Uuid::now_v7().to_string();
    let custom = v1::AggregateRequest {
        site_id: site.clone(),
        period: v1::Period::Custom as i32,
        date_range: Some(v1::DateRange { start_date: "2026-01-05".into(), end_date: "2026-01-01".into() }),
        ..Default::default()
    };
    let s = c.get_aggregate(custom).await.unwrap_err();
    assert_eq!(field_of(s), "date_range.end_date");
    let no_dimension = v1::BreakdownRequest { site_id: site.clone(), ..Default::default() };
    assert_eq!(field_of(c.get_breakdown(no_dimension).await.unwrap_err()), "dimension");
    let unknown = v1::AggregateRequest { site_id: site.clone(), ..Default::default() };
    let s = c.get_aggregate(keyed(unknown, &key)).await.unwrap_err();
    assert_eq!((s.code(), s.message()), (Code::Unauthenticated, "the read key is not valid for this site"));
    let unknown = v1::RealtimeRequest { site_id: site, min_position: None };
    let s = c.stream_realtime(keyed(unknown, &key)).await.unwrap_err();
    assert_eq!((s.code(), s.message()), (Code::Unauthenticated, "the read key is not valid for this site"));
}
