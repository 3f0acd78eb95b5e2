//! Malformed requests: each gets a 4xx naming the field (or the body), none
//! gets a 500, and the event store is unchanged afterwards.

mod common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<(String, Vec<u8>)>,
    status: u16,
    /// The field the problem must name (`errors[].field`), if any.
    field: Option<&'static str>,
}

fn json_case(name: &'static str, method: Method, path: &str, body: Value, status: u16, field: &'static str) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        headers: vec![],
        body: Some(("application/json".into(), serde_json::to_vec(&body).unwrap())),
        status,
        field: Some(field),
    }
}

fn valid_profile() -> Value {
    json!({"handle": "valid", "display_name": "Valid", "email": "valid@example.com"})
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

#[tokio::test]
async fn every_malformed_request_is_refused_with_a_named_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let owner = app.create_profile("owner").await["profile"]["id"].as_str().unwrap().to_owned();
    let p = format!("/v1/profiles/{owner}");
    let before = app.event_count().await;

    let many_attributes: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let post = Method::POST;
    let cases = vec![
        Case {
            name: "malformed JSON",
            method: post.clone(),
            path: "/v1/profiles".into(),
            headers: vec![],
            body: Some(("application/json".into(), b"{\"handle\": ".to_vec())),
            status: 400,
            field: Some("body"),
        },
        Case {
            name: "wrong content type",
            method: post.clone(),
            path: "/v1/profiles".into(),
            headers: vec![],
            body: Some(("text/plain".into(), b"handle=x".to_vec())),
            status: 415,
            field: None,
        },
        Case {
            name: "missing content type",
            method: post.clone(),
            path: "/v1/profiles".into(),
            headers: vec![],
            body: Some((String::new(), serde_json::to_vec(&valid_profile()).unwrap())),
            status: 415,
            field: None,
        },
        Case {
            name: "over-size body",
            method: post.clone(),
            path: "/v1/profiles".into(),
            headers: vec![],
            body: Some((
                "application/json".into(),
                serde_json::to_vec(&with(valid_profile(), "bio", json!("x".repeat(1_100_000)))).unwrap(),
            )),
            status: 413,
            field: None,
        },
        Case {
            name: "not an object",
            method: Method::PATCH,
            path: p.clone(),
            headers: vec![],
            body: Some(("application/json".into(), b"[1,2]".to_vec())),
            status: 400,
            field: Some("body"),
        },
        json_case("wrong type", post.clone(), "/v1/profiles", with(valid_profile(), "handle", json!(5)), 400, "handle"),
        json_case(
            "unknown field",
            post.clone(),
            "/v1/profiles",
            with(valid_profile(), "nickname", json!("x")),
            400,
            "nickname",
        ),
        json_case(
            "handle too short",
            post.clone(),
            "/v1/profiles",
            with(valid_profile(), "handle", json!("ab")),
            400,
            "handle",
        ),
        json_case(
            "handle with spaces",
            post.clone(),
            "/v1/profiles",
            with(valid_profile(), "handle", json!("a b c")),
            400,
            "handle",
        ),
        json_case(
            "missing display name",
            post.clone(),
            "/v1/profiles",
            with(valid_profile(), "display_name", json!("")),
            400,
            "display_name",
        ),
        json_case(
            "bad email",
            post.clone(),
            "/v1/profiles",
            with(valid_profile(), "email", json!("at@@example")),
            400,
            "email",
        ),
        json_case(
            "bio too long",
            post.clone(),
            "/v1/profiles",
            with(valid_profile(), "bio", json!("é".repeat(501))),
            400,
            "bio",
        ),
        json_case(
            "avatar not http",
            post.clone(),
            "/v1/profiles",
            with(valid_profile(), "avatar_url", json!("javascript:alert(1)")),
            400,
            "avatar_url",
        ),
        json_case(
            "attribute key",
            post.clone(),
            "/v1/profiles",
            with(valid_profile(), "attributes", json!({"no spaces": "v"})),
            400,
            "attributes[\"no spaces\"]",
        ),
        json_case(
            "too many attributes",
            post.clone(),
            "/v1/profiles",
            with(valid_profile(), "attributes", Value::Object(many_attributes)),
            400,
            "attributes",
        ),
        json_case("id not a UUID", Method::PATCH, "/v1/profiles/42", json!({"bio": "x"}), 400, "id"),
        json_case("empty patch", Method::PATCH, &p, json!({}), 400, "update_mask"),
        json_case(
            "unknown mask path",
            Method::PATCH,
            &format!("{p}?update_mask=karma"),
            json!({"bio": "x"}),
            400,
            "update_mask",
        ),
        Case {
            name: "garbage If-Match",
            method: Method::PATCH,
            path: p.clone(),
            headers: vec![("If-Match", "yesterday".into())],
            body: Some(("application/json".into(), br#"{"bio":"x"}"#.to_vec())),
            status: 400,
            field: Some("If-Match"),
        },
        Case {
            name: "oversized Idempotency-Key",
            method: post.clone(),
            path: "/v1/profiles".into(),
            headers: vec![("Idempotency-Key", "k".repeat(200))],
            body: Some(("application/json".into(), serde_json::to_vec(&valid_profile()).unwrap())),
            status: 400,
            field: Some("Idempotency-Key"),
        },
        json_case(
            "site time zone",
            post.clone(),
            "/v1/sites",
            json!({"domain": "a.example", "time_zone": "Mars/Olympus", "owner_profile_id": owner}),
            400,
            "time_zone",
        ),
        json_case(
            "site domain with scheme",
            post.clone(),
            "/v1/sites",
            json!({"domain": "https://a.example/x", "time_zone": "UTC", "owner_profile_id": owner}),
            400,
            "domain",
        ),
        json_case(
            "site owner not a UUID",
            post.clone(),
            "/v1/sites",
            json!({"domain": "a.example", "time_zone": "UTC", "owner_profile_id": "me"}),
            400,
            "owner_profile_id",
        ),
        json_case(
            "site owner change",
            Method::PATCH,
            &format!("/v1/sites/{}", uuid::Uuid::now_v7()),
            json!({"owner_profile_id": owner}),
            400,
            "update_mask",
        ),
        Case {
            name: "unknown route",
            method: Method::GET,
            path: "/v1/karma".into(),
            headers: vec![],
            body: None,
            status: 404,
            field: None,
        },
        Case {
            name: "wrong method",
            method: Method::PUT,
            path: "/v1/profiles".into(),
            headers: vec![],
            body: None,
            status: 405,
            field: None,
        },
    ];
    assert!(cases.len() >= 20);

    for case in cases {
        let mut req = app.http.request(case.method.clone(), app.url(&case.path));
        for (k, v) in &case.headers {
            req = req.header(*k, v);
        }
        if let Some((ct, bytes)) = case.body {
            if !ct.is_empty() {
                req = req.header("content-type", ct);
            }
            req = req.body(bytes);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::from_u16(case.status).unwrap(), "{}: {body}", case.name);
        assert_eq!(ct, "application/problem+json", "{}: problem+json expected", case.name);
        assert_eq!(body["status"], case.status, "{}", case.name);
        if let Some(field) = case.field {
            let empty = vec![];
            let errors = body["errors"].as_array().unwrap_or(&empty);
            let fields: Vec<&str> = errors.iter().filter_map(|e| e["field"].as_str()).collect();
            assert!(fields.contains(&field), "{}: expected field {field:?} in {body}", case.name);
        }
    }
    assert_eq!(app.event_count().await, before, "no malformed request reached the event store");
}
