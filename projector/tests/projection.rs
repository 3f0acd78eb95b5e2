//! Single-node mode against real Postgres: events appended through the real
//! event store show up, correctly, in the read model's views.

mod support;

use serde_json::json;
use support::{Harness, Running};
use tally_proto::v1;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_and_site_events_are_reflected_in_the_views() {
    let mut h = Harness::new().await;
    let projector = Running::start(h.settings()).await;

    let ada = h.create_profile("ada").await;
    let zeta = h.register_site(ada, "zeta.example.com").await;
    let alpha = h.register_site(ada, "alpha.example.com").await;
    h.update_profile(v1::ProfileUpdated {
        profile_id: ada.to_string(),
        display_name: Some("Ada Lovelace".into()),
        avatar_url: Some(String::new()),
        attributes: Some(v1::AttributesValue { entries: [("lang".to_owned(), "en".to_owned())].into() }),
        ..Default::default()
    })
    .await;
    let renamed_at = h
        .update_site(v1::SiteUpdated { site_id: alpha.to_string(), name: Some("Alpha!".into()), ..Default::default() })
        .await;
    h.wait_projected(h.head).await;

    let row = h.profile(ada).await.expect("ada is projected");
    assert_eq!(row.get::<_, String>("handle"), "ada");
    assert_eq!(row.get::<_, String>("display_name"), "Ada Lovelace");
    assert_eq!(row.get::<_, String>("email"), "ada@example.com", "unchanged fields stay");
    assert_eq!(row.get::<_, String>("avatar_url"), "", "a removed avatar is empty");
    assert_eq!(row.get::<_, serde_json::Value>("attributes"), json!({"lang": "en"}));
    assert_eq!(row.get::<_, i64>("version"), 2);
    assert!(
        row.get::<_, chrono::DateTime<chrono::Utc>>("update_time")
            > row.get::<_, chrono::DateTime<chrono::Utc>>("create_time")
    );
    let sites: serde_json::Value = row.get("sites");
    assert_eq!(
        sites,
        json!([
            {"id": alpha, "domain": "alpha.example.com", "name": "Alpha!", "time_zone": "Europe/Paris"},
            {"id": zeta, "domain": "zeta.example.com", "name": "Site zeta.example.com", "time_zone": "Europe/Paris"},
        ]),
        "sites are embedded, sorted by domain"
    );
    let client = h.read.get().await.unwrap();
    let site = client.query_one("SELECT * FROM sites WHERE id = $1", &[&alpha]).await.unwrap();
    assert_eq!(site.get::<_, Uuid>("owner_profile_id"), ada);
    assert_eq!((site.get::<_, i64>("version"), site.get::<_, i64>("last_position")), (2, renamed_at as i64));

    h.delete_site(zeta).await;
    h.wait_projected(h.head).await;
    let sites: serde_json::Value = h.profile(ada).await.unwrap().get("sites");
    assert_eq!(sites.as_array().unwrap().len(), 1);
    assert_eq!(sites[0]["id"], json!(alpha));
    assert!(client.query_opt("SELECT 1 FROM sites WHERE id = $1", &[&zeta]).await.unwrap().is_none());

    h.delete_profile(ada).await;
    h.wait_projected(h.head).await;
    assert!(h.profile(ada).await.is_none(), "a deleted profile is gone");
    projector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_projected_before_their_owner_are_pulled_into_its_row() {
    let mut h = Harness::new().await;
    let owner = Uuid::now_v7();
    let site = h.register_site(owner, "early.example.com").await;
    h.create_profile_with_id(owner, "late_owner").await;
    let projector = Running::start(h.settings()).await;
    h.wait_projected(h.head).await;
    let sites: serde_json::Value = h.profile(owner).await.unwrap().get("sites");
    assert_eq!(
        sites,
        json!([{"id": site, "domain": "early.example.com", "name": "Site early.example.com", "time_zone": "Europe/Paris"}])
    );
    projector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_committed_offset_and_applies_nothing_twice() {
    let mut h = Harness::new().await;
    let projector = Running::start(h.settings()).await;
    let marker = h.create_profile("marker").await;
    h.populate(40, 1).await;
    h.wait_projected(h.head).await;
    projector.stop().await;
    let first_head = h.head;
    // Removed behind the projector's back: it stays removed only if the
    // restart does not re-read what the stored offset says was applied.
    h.read.get().await.unwrap().execute("DELETE FROM profile_view_v1 WHERE id = $1", &[&marker]).await.unwrap();
    h.read.get().await.unwrap().execute("UPDATE projector_offsets SET position = 0", &[]).await.unwrap();

    // Written while the projector is down; a later batch also repeats nothing.
    let ids = h.populate(40, 2).await;
    h.update_profile(v1::ProfileUpdated {
        profile_id: ids[0].to_string(),
        bio: Some("after".into()),
        ..Default::default()
    })
    .await;
    let projector = Running::start(h.settings()).await;
    h.wait_projected(h.head).await;
    projector.stop().await;

    let offset: (i64, i64) = {
        let client = h.read.get().await.unwrap();
        let r = client
            .query_one("SELECT next_offset, position FROM projector_offsets WHERE topic = '$all'", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(offset, (h.head as i64, h.head as i64));
    assert!(h.head > first_head);
    assert!(h.profile(marker).await.is_none(), "events before the stored offset were applied again");
    assert_eq!(h.query_one::<i64>("SELECT count(*) FROM dead_letters").await, 0);

    // The live tables equal a fresh rebuild from the event store.
    let live_profiles = h.snapshot("profile_view_v1").await;
    let live_sites = h.snapshot("site_view_v1").await;
    let options = tally_projector::rebuild::Options { page: 37, ..Default::default() };
    tally_projector::rebuild::profiles(&h.settings(), options, Default::default()).await.unwrap();
    let mut rebuilt = h.snapshot("profile_view_v2").await;
    rebuilt.retain(|row| !row.contains(&marker.to_string()));
    assert_eq!(rebuilt, live_profiles, "equal but for the row removed by hand");
    assert_eq!(h.snapshot("site_view_v2").await, live_sites);
    assert!(live_profiles.len() > 60, "the history is not trivial: {} profiles", live_profiles.len());
}
