//! The one-round-trip append against a real Postgres: what it commits when its
//! presumptions hold, that every kind of wrong presumption is refuted with
//! nothing written, and that two pods racing on the same streams through it
//! (and through the read-then-write path it falls back to) keep versions and
//! the global order dense.

use std::{collections::BTreeMap, sync::Arc};

use deadpool_postgres::Pool;
use tokio::sync::Notify;
use tokio_postgres::NoTls;

use crate::{
    AppendError, AppendRequest, Appender, AppenderConfig, ClaimAction, EventMetadata, ExpectedVersion, NewEvent,
    UniqueClaim,
    gap_free_tests::tail,
    migrate,
    presumed::{self, Presumed},
    reader,
};

async fn store() -> (Arc<tally_devstack::PgCluster>, Pool) {
    let (cluster, url) = tally_devstack::fresh_database().await.unwrap();
    migrate::run(&url.parse().unwrap()).await.unwrap();
    (cluster, pool(&url))
}

fn pool(url: &str) -> Pool {
    let mgr = deadpool_postgres::Manager::new(url.parse().unwrap(), NoTls);
    Pool::builder(mgr).max_size(4).build().unwrap()
}

fn req(stream: &str, expected: ExpectedVersion, n: usize) -> AppendRequest {
    AppendRequest {
        stream_id: stream.into(),
        category: "profile".into(),
        expected,
        events: (0..n)
            .map(|i| NewEvent {
                event_id: uuid::Uuid::now_v7(),
                event_type: "test.Event".into(),
                schema_version: 1,
                payload: vec![i as u8],
                metadata: EventMetadata { correlation_id: format!("{stream}-{i}"), ..EventMetadata::default() },
            })
            .collect(),
        claims: vec![],
        command_id: None,
        fingerprint: vec![7],
    }
}

fn claiming(mut r: AppendRequest, key: &str, action: ClaimAction) -> AppendRequest {
    r.claims.push(UniqueClaim { scope: "profile.handle".into(), key: key.into(), action });
    r
}

fn with_id(mut r: AppendRequest, id: &str) -> AppendRequest {
    r.command_id = Some(id.into());
    r
}

/// Everything the store holds that an append changes, to compare before and after.
async fn contents(pool: &Pool) -> String {
    let client = pool.get().await.unwrap();
    let mut out = String::new();
    for sql in [
        "SELECT last_position::text FROM event_head",
        "SELECT string_agg(format('%s/%s@%s', stream_id, stream_version, global_position), ' ' ORDER BY global_position) FROM events",
        "SELECT string_agg(format('%s=%s@%s', stream_id, version, last_position), ' ' ORDER BY stream_id) FROM streams",
        "SELECT string_agg(format('%s:%s', key, stream_id), ' ' ORDER BY key) FROM unique_keys",
        "SELECT string_agg(command_id, ' ' ORDER BY command_id) FROM command_results",
    ] {
        let row = client.query_one(sql, &[]).await.unwrap();
        out.push_str(&row.get::<_, Option<String>>(0).unwrap_or_default());
        out.push('\n');
    }
    out
}

async fn run(pool: &Pool, requests: &[AppendRequest]) -> Presumed {
    presumed::execute(&pool.get().await.unwrap(), requests).await.unwrap()
}

fn committed(p: Presumed) -> Vec<crate::AppendResult> {
    match p {
        Presumed::Committed(outcomes) => outcomes.into_iter().map(Result::unwrap).collect(),
        other => panic!("expected a commit, got {other:?}"),
    }
}

#[tokio::test]
async fn creates_and_updates_commit_in_one_statement_at_the_heads_positions() {
    let (_cluster, pool) = store().await;
    let first = committed(
        run(
            &pool,
            &[
                with_id(claiming(req("a", ExpectedVersion::NoStream, 2), "ann", ClaimAction::Acquire), "c1"),
                req("b", ExpectedVersion::Exact(0), 1),
            ],
        )
        .await,
    );
    assert_eq!((first[0].stream_version, first[0].global_position), (2, 2));
    assert_eq!((first[1].stream_version, first[1].global_position), (1, 3));

    let second = committed(
        run(
            &pool,
            &[
                req("a", ExpectedVersion::Exact(2), 1),
                claiming(req("a", ExpectedVersion::Exact(3), 1), "ann", ClaimAction::Release),
                with_id(req("b", ExpectedVersion::Exact(1), 1), "c2"),
            ],
        )
        .await,
    );
    let answers: Vec<_> = second.iter().map(|r| (r.stream_version, r.global_position, r.replayed)).collect();
    assert_eq!(answers, [(3, 4, false), (4, 5, false), (2, 6, false)]);
    assert_eq!(
        contents(&pool).await,
        "6\na/1@1 a/2@2 b/1@3 a/3@4 a/4@5 b/2@6\na=4@5 b=2@6\n\nc1 c2\n",
        "the released handle is gone, every position and version is where the answers say"
    );

    // The answers carry the time the rows were stored with.
    let client = pool.get().await.unwrap();
    let stored = reader::read_stream(&client, "profile", "b", 1, 10).await.unwrap();
    assert_eq!(stored[0].recorded_at, second[2].recorded_at);
    assert_eq!(stored[0].metadata.correlation_id, "b-0");
}

#[tokio::test]
async fn every_wrong_presumption_is_refuted_and_nothing_is_written() {
    let (_cluster, pool) = store().await;
    committed(
        run(
            &pool,
            &[
                with_id(claiming(req("a", ExpectedVersion::NoStream, 1), "ann", ClaimAction::Acquire), "c1"),
                claiming(req("z", ExpectedVersion::NoStream, 1), "zed", ClaimAction::Acquire),
            ],
        )
        .await,
    );
    let before = contents(&pool).await;

    let good = || req("n", ExpectedVersion::NoStream, 1);
    let other = || req("m", ExpectedVersion::NoStream, 1);
    let cases: Vec<(&str, AppendRequest)> = vec![
        ("a stream presumed new exists", req("a", ExpectedVersion::Exact(0), 1)),
        ("a stream is not at the presumed version", req("a", ExpectedVersion::Exact(5), 1)),
        ("a stream presumed to exist does not", req("nobody", ExpectedVersion::Exact(1), 1)),
        ("a command id is used", with_id(other(), "c1")),
        ("a key presumed free is taken", claiming(other(), "ann", ClaimAction::Acquire)),
        (
            "a key released is owned by another stream",
            claiming(req("a", ExpectedVersion::Exact(1), 1), "zed", ClaimAction::Release),
        ),
        (
            "a key released is owned by nobody",
            claiming(req("a", ExpectedVersion::Exact(1), 1), "nix", ClaimAction::Release),
        ),
    ];
    for (case, wrong) in cases {
        // Behind a request that is right: a batch is committed whole or not at all.
        match run(&pool, &[good(), wrong]).await {
            Presumed::Refuted => {}
            other => panic!("{case}: expected a refutation, got {other:?}"),
        }
        assert_eq!(contents(&pool).await, before, "{case}: something was written");
    }

    // The appender falls back to reading, and answers as if it had read first.
    let (appender, _task) = Appender::spawn(pool.clone(), AppenderConfig::default());
    match appender.append(req("a", ExpectedVersion::Exact(5), 1)).await {
        Err(AppendError::Conflict { current: 1, .. }) => {}
        other => panic!("expected a conflict at version 1, got {other:?}"),
    }
    match appender.append(claiming(req("n", ExpectedVersion::NoStream, 1), "ann", ClaimAction::Acquire)).await {
        Err(AppendError::KeyTaken { key, .. }) => assert_eq!(key, "ann"),
        other => panic!("expected the key to be taken, got {other:?}"),
    }
    let replayed = appender.append(with_id(req("a", ExpectedVersion::Exact(1), 1), "c1")).await.unwrap();
    assert!(replayed.replayed && replayed.global_position == 1, "{replayed:?}");
    assert_eq!(contents(&pool).await, before);
}

#[tokio::test]
async fn batches_that_presume_too_little_go_the_reading_way() {
    let (_cluster, pool) = store().await;
    let cases: Vec<(&str, Vec<AppendRequest>)> = vec![
        ("any version", vec![req("a", ExpectedVersion::Any, 1)]),
        ("no events", vec![with_id(req("a", ExpectedVersion::NoStream, 0), "c")]),
        (
            "a key claimed twice",
            vec![
                claiming(req("a", ExpectedVersion::NoStream, 1), "k", ClaimAction::Acquire),
                claiming(req("b", ExpectedVersion::NoStream, 1), "k", ClaimAction::Acquire),
            ],
        ),
        (
            "a batch that contradicts itself",
            vec![req("a", ExpectedVersion::Exact(0), 1), req("a", ExpectedVersion::Exact(0), 1)],
        ),
    ];
    for (case, requests) in cases {
        match run(&pool, &requests).await {
            Presumed::NotApplicable => {}
            other => panic!("{case}: expected not applicable, got {other:?}"),
        }
    }
    assert_eq!(contents(&pool).await, "0\n\n\n\n\n");
}

const PODS: usize = 2;
const STREAMS: usize = 4;
const WRITERS: usize = 16;
const APPENDS_PER_WRITER: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pods_racing_on_shared_streams_keep_versions_and_positions_dense() {
    let (_cluster, pool) = store().await;
    let pods: Vec<Appender> = (0..PODS).map(|_| Appender::spawn(pool.clone(), AppenderConfig::default()).0).collect();
    for s in 0..STREAMS {
        pods[0].append(req(&format!("s{s}"), ExpectedVersion::NoStream, 1)).await.unwrap();
    }

    let done = Arc::new(Notify::new());
    let reader_pool = pool.clone();
    let tailer = tokio::spawn(tail(
        move |after| {
            let pool = reader_pool.clone();
            async move {
                let client = pool.get().await.unwrap();
                let events = reader::read_all(&client, after, 50, &reader::Filter::default()).await.unwrap();
                events.iter().map(|e| e.global_position).collect()
            }
        },
        done.clone(),
    ));

    // Each writer knows only its own last answer, so most of its appends are
    // stale for a moment: the race is the point.
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let pod = pods[w % PODS].clone();
        writers.push(tokio::spawn(async move {
            let stream = format!("s{}", w % STREAMS);
            let (mut version, mut answers, mut conflicts) = (1, vec![], 0);
            while answers.len() < APPENDS_PER_WRITER {
                match pod.append(req(&stream, ExpectedVersion::Exact(version), 1)).await {
                    Ok(r) => {
                        version = r.stream_version;
                        answers.push((r.stream_version, r.global_position));
                    }
                    Err(AppendError::Conflict { current, .. }) => {
                        version = current;
                        conflicts += 1;
                    }
                    Err(e) => panic!("writer {w}: {e}"),
                }
            }
            (stream, answers, conflicts)
        }));
    }
    let mut answered: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    let mut conflicts = 0;
    for w in writers {
        let (stream, answers, c) = w.await.unwrap();
        answered.entry(stream).or_default().extend(answers);
        conflicts += c;
    }
    done.notify_one();
    let total = (STREAMS + WRITERS * APPENDS_PER_WRITER) as u64;
    assert_eq!(tailer.await.unwrap(), (1..=total).collect::<Vec<_>>(), "the global order has a gap or a repeat");
    assert!(conflicts > 0, "the writers never raced; the test proves nothing");

    let client = pool.get().await.unwrap();
    for (stream, mut answers) in answered {
        answers.sort();
        let stored: Vec<(u64, u64)> = reader::read_stream(&client, "profile", &stream, 1, 1000)
            .await
            .unwrap()
            .iter()
            .map(|e| (e.stream_version, e.global_position))
            .collect();
        assert_eq!(answers, stored, "{stream}: the answers differ from what is stored");
        let versions: Vec<u64> = stored.iter().map(|a| a.0).collect();
        assert_eq!(versions, (2..=versions.len() as u64 + 1).collect::<Vec<_>>(), "{stream}: versions not dense");
    }
}
