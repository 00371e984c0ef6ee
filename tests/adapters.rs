//! End-to-end tests of the AWS adapters against the emulator: real SDK calls, real wire
//! formats, real conditional-write failures. Run with `scripts/test`.

use std::io::Read;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use connect_wfm_aws::config::{ConfigError, load_mapping};
use connect_wfm_aws::{DynamoClaimStore, DynamoStateStore, S3FeedSink, S3ObjectSource};
use connect_wfm_core::agent::{Activity, AgentState, ContactRef, Watermark};
use connect_wfm_core::ports::{AgentStateStore, ClaimOutcome, ClaimStore, CommitOutcome, FeedSink, ObjectSource};
use connect_wfm_core::report::agent_id_for;
use connect_wfm_e2e as support;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("test timestamps are RFC 3339")
}

fn agent(n: usize) -> AgentState {
    let agent_id = format!("00000000-0000-0000-0000-{n:012}");
    AgentState {
        stream_newest: None,
        agent_arn: format!("arn:aws:connect:us-east-1:123456789012:instance/inst-1/agent/{agent_id}"),
        agent_id,
        instance_id: "inst-1".into(),
        agent_login: Some(format!("agent{n}")),
        state: "Available".into(),
        reason: "Open".into(),
        activity: Activity::Open,
        since: at("2026-03-01T08:00:00Z"),
        contact: None,
        watermark: Watermark::new(at("2026-03-01T08:00:00.250Z"), format!("ev-{n}")),
        last_seen: at("2026-03-01T08:02:00.250Z"),
        silent_since: None,
        last_silence: None,
        silenced_at: None,
        silenced_from: None,
        segment: None,
        silenced_segment: None,
        profile: None,
        excluded: false,
    }
}

async fn state_store() -> DynamoStateStore {
    let config = support::sdk_config().await;
    let dynamodb = support::dynamodb(&config);
    let table = support::create_state_table(&dynamodb).await;
    DynamoStateStore::new(dynamodb, table)
}

#[tokio::test]
async fn state_store_round_trips_every_field() {
    let store = state_store().await;
    let on_contact = AgentState {
        state: "VOICE-INBOUND-CONNECTED".into(),
        contact: Some(ContactRef {
            contact_id: "c-1".into(),
            channel: "VOICE".into(),
            initiation_method: "INBOUND".into(),
            queue: Some("BasicQueue".into()),
        }),
        watermark: Watermark {
            at: at("2026-03-01T08:05:00.017Z"),
            event_ids: vec!["ev-a".into(), "ev-b".into(), "ev-c".into()],
        },
        ..agent(1)
    };
    let no_login = AgentState {
        agent_login: None,
        state: "Break".into(),
        reason: "Break".into(),
        activity: Activity::Closed,
        contact: Some(ContactRef {
            contact_id: "c-2".into(),
            channel: "CHAT".into(),
            initiation_method: "API".into(),
            queue: None,
        }),
        ..agent(2)
    };
    assert_eq!(store.commit(&on_contact).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.commit(&no_login).await.unwrap(), CommitOutcome::Committed);

    let arns = vec![
        on_contact.agent_arn.clone(),
        no_login.agent_arn.clone(),
        agent(3).agent_arn,
        on_contact.agent_arn.clone(),
    ];
    let loaded = store.load_many(&arns).await.unwrap();
    assert_eq!(loaded.states.len(), 2, "the unknown agent is simply missing");
    assert_eq!(loaded.states[&on_contact.agent_arn], on_contact);
    assert_eq!(loaded.states[&no_login.agent_arn], no_login);
    assert!(store.load_many(&[]).await.unwrap().states.is_empty());
}

#[tokio::test]
async fn state_store_loads_100_agents_per_request() {
    let config = support::sdk_config().await;
    let (dynamodb, requests) = support::recording_dynamodb(&config);
    let table = support::create_state_table(&dynamodb).await;
    let store = DynamoStateStore::new(dynamodb, table);
    let agents: Vec<AgentState> = (0..150).map(agent).collect();
    for state in &agents {
        assert_eq!(store.commit(state).await.unwrap(), CommitOutcome::Committed);
    }
    let mut arns: Vec<String> = agents.iter().map(|a| a.agent_arn.clone()).collect();

    requests.clear();
    let loaded = store.load_many(&arns[..100]).await.unwrap();
    assert_eq!(loaded.states.len(), 100);
    assert_eq!(requests.count("BatchGetItem"), 1, "one round trip for 100 agents");

    // Duplicates are requested once (DynamoDB refuses a batch with a duplicate key).
    arns.extend_from_within(..20);
    requests.clear();
    let loaded = store.load_many(&arns).await.unwrap();
    assert_eq!(
        requests.count("BatchGetItem"),
        2,
        "150 distinct agents take two requests"
    );
    assert_eq!(loaded.states.len(), 150);
    for state in &agents {
        assert_eq!(loaded.states[&state.agent_arn], *state);
    }
}

#[tokio::test]
async fn state_store_retries_unprocessed_keys_then_gives_up_retryably() {
    let config = support::sdk_config().await;
    let dynamodb = support::dynamodb(&config);
    let table = support::create_state_table(&dynamodb).await;
    let agents: Vec<AgentState> = (0..3).map(agent).collect();
    let store = DynamoStateStore::new(dynamodb, &table);
    for state in &agents {
        store.commit(state).await.unwrap();
    }
    let arns: Vec<String> = agents.iter().map(|a| a.agent_arn.clone()).collect();

    let twice = DynamoStateStore::new(support::throttled_batch_get_dynamodb(&config, 2), &table);
    let loaded = twice.load_many(&arns).await.unwrap();
    assert_eq!(loaded.states.len(), 3, "read on the third request");

    let always = DynamoStateStore::new(support::throttled_batch_get_dynamodb(&config, usize::MAX), &table);
    let err = always.load_many(&arns).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(err.to_string().contains("3 keys still unprocessed"), "{err}");
}

#[tokio::test]
async fn state_store_commits_only_advancing_watermarks() {
    let store = state_store().await;
    let older = agent(7);
    let newer = AgentState {
        state: "Break".into(),
        watermark: Watermark::new(older.watermark.at + Duration::seconds(5), "ev-newer"),
        ..agent(7)
    };
    assert_eq!(store.commit(&newer).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.commit(&older).await.unwrap(), CommitOutcome::Superseded);
    assert_eq!(
        store.commit(&newer).await.unwrap(),
        CommitOutcome::Superseded,
        "a replay"
    );
    let arn = vec![newer.agent_arn.clone()];
    assert_eq!(store.load_many(&arn).await.unwrap().states[&newer.agent_arn], newer);

    // Same millisecond, one more event id: advances. Same count again: does not.
    let two_ids = AgentState {
        state: "Available".into(),
        watermark: Watermark {
            at: newer.watermark.at,
            event_ids: vec!["ev-newer".into(), "ev-same-ms".into()],
        },
        ..newer.clone()
    };
    assert_eq!(store.commit(&two_ids).await.unwrap(), CommitOutcome::Committed);
    let rival = AgentState {
        state: "Offline".into(),
        watermark: Watermark {
            at: newer.watermark.at,
            event_ids: vec!["ev-x".into(), "ev-y".into()],
        },
        ..newer.clone()
    };
    assert_eq!(store.commit(&rival).await.unwrap(), CommitOutcome::Superseded);
    assert_eq!(store.load_many(&arn).await.unwrap().states[&newer.agent_arn], two_ids);
}

/// The sweep's commits in transactions of up to 100: a state whose condition fails (a batch got
/// further) is superseded, and only it; the others of its transaction are committed, in any
/// number of transactions.
#[tokio::test]
async fn state_store_commits_many_in_transactions_and_supersedes_only_the_stale_ones() {
    let store = state_store().await;
    let agents: Vec<AgentState> = (0..150).map(agent).collect();
    for state in &agents {
        store.commit(state).await.unwrap();
    }
    // Agent 7 and agent 120 moved on since: their stored watermark is past the sweep's.
    for n in [7, 120] {
        let newer = AgentState {
            state: "Break".into(),
            watermark: Watermark::new(at("2026-03-01T09:00:00Z"), format!("ev-new-{n}")),
            ..agent(n)
        };
        store.commit(&newer).await.unwrap();
    }
    let unknown: Vec<AgentState> = agents
        .iter()
        .map(|a| AgentState {
            state: "UNKNOWN".into(),
            watermark: Watermark::new(at("2026-03-01T08:30:00Z"), format!("sweep-{}", a.agent_id)),
            ..a.clone()
        })
        .collect();
    let outcomes = store.commit_many(&unknown).await;
    assert_eq!(outcomes.len(), 150);
    for (n, outcome) in outcomes.iter().enumerate() {
        let expected = if n == 7 || n == 120 {
            CommitOutcome::Superseded
        } else {
            CommitOutcome::Committed
        };
        assert_eq!(outcome.as_ref().ok(), Some(&expected), "agent {n}: {outcome:?}");
    }
    let arns: Vec<String> = agents.iter().map(|a| a.agent_arn.clone()).collect();
    let stored = store.load_many(&arns).await.unwrap().states;
    for (n, a) in agents.iter().enumerate() {
        let expected = if n == 7 || n == 120 { "Break" } else { "UNKNOWN" };
        assert_eq!(stored[&a.agent_arn].state, expected, "agent {n}");
    }
    // Committing the same again: every one superseded (the watermark is no longer behind).
    let again = store.commit_many(&unknown).await;
    assert!(
        again
            .iter()
            .all(|o| o.as_ref().ok() == Some(&CommitOutcome::Superseded)),
        "{again:?}"
    );
}

#[tokio::test]
async fn state_store_finds_agents_by_login_with_their_instances() {
    let store = state_store().await;
    for n in 0..5 {
        store.commit(&agent(n)).await.unwrap();
    }
    store
        .commit(&AgentState {
            agent_login: None,
            ..agent(9)
        })
        .await
        .unwrap();
    // A recreated agent shares a login with an old one: the one seen last wins.
    let recreated = AgentState {
        agent_arn: agent(100).agent_arn,
        agent_id: agent(100).agent_id,
        agent_login: Some("agent1".into()),
        last_seen: agent(1).last_seen + Duration::hours(1),
        ..agent(1)
    };
    store.commit(&recreated).await.unwrap();
    // Another instance has an agent with the login agent3.
    let other_instance = AgentState {
        agent_arn: "arn:aws:connect:us-east-1:123456789012:instance/inst-2/agent/other-3".into(),
        agent_id: "other-3".into(),
        instance_id: "inst-2".into(),
        ..agent(3)
    };
    store.commit(&other_instance).await.unwrap();

    let logins: Vec<String> = ["agent0", "agent1", "agent3", "agent3", "nobody", ""]
        .into_iter()
        .map(String::from)
        .collect();
    let mut known = store.agents_by_login(&logins).await.unwrap();
    known.sort_by(|a, b| (&a.login, &a.agent_id).cmp(&(&b.login, &b.agent_id)));
    let found: Vec<(&str, &str, &str)> = known
        .iter()
        .map(|a| (a.login.as_str(), a.agent_id.as_str(), a.instance_id.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("agent0", agent(0).agent_id.as_str(), "inst-1"),
            ("agent1", agent(1).agent_id.as_str(), "inst-1"),
            ("agent1", recreated.agent_id.as_str(), "inst-1"),
            ("agent3", agent(3).agent_id.as_str(), "inst-1"),
            ("agent3", "other-3", "inst-2"),
        ]
    );
    assert_eq!(known[2].last_seen, Some(recreated.last_seen));
    // The rule of feed.md on what the store returned.
    assert_eq!(agent_id_for(&known, "agent1", None), Some(recreated.agent_id.as_str()));
    assert_eq!(agent_id_for(&known, "agent3", Some("inst-2")), Some("other-3"));
    assert_eq!(
        agent_id_for(&known, "agent3", None),
        None,
        "two instances, instance unknown"
    );
}

/// Breaks the stored item of `state` with an update expression.
async fn break_item(store: &DynamoStateStore, state: &AgentState, update: &str, values: &[(&str, AttributeValue)]) {
    let mut request = store
        .client
        .update_item()
        .table_name(&store.table)
        .key("agent_arn", AttributeValue::S(state.agent_arn.clone()))
        .update_expression(update);
    for (name, value) in values {
        request = request.expression_attribute_values(*name, value.clone());
    }
    request.send().await.unwrap();
}

#[tokio::test]
async fn state_store_returns_a_malformed_item_as_unreadable_and_replaces_exactly_it() {
    let store = state_store().await;
    let state = agent(4);
    store.commit(&state).await.unwrap();
    break_item(
        &store,
        &state,
        "SET activity = :a",
        &[(":a", AttributeValue::S("Lunch".into()))],
    )
    .await;
    let loaded = store.load_many(std::slice::from_ref(&state.agent_arn)).await.unwrap();
    assert!(loaded.states.is_empty());
    let unreadable = &loaded.unreadable[&state.agent_arn];
    assert!(
        unreadable.location.contains(&store.table) && unreadable.location.contains(&state.agent_arn),
        "{unreadable:?}"
    );
    assert!(unreadable.reason.contains("`activity`"), "{}", unreadable.reason);
    let raw: serde_json::Value = serde_json::from_slice(&unreadable.raw).unwrap();
    assert_eq!(
        raw["activity"],
        serde_json::json!({ "S": "Lunch" }),
        "kept exactly as stored"
    );

    // First sight from an event older than the broken row's watermark: a plain commit is
    // refused, the replacement of exactly that row is not.
    let older = AgentState {
        watermark: Watermark::new(at("2026-03-01T07:00:00Z"), "ev-older"),
        ..agent(4)
    };
    assert_eq!(store.commit(&older).await.unwrap(), CommitOutcome::Superseded);
    assert_eq!(
        store.replace_unreadable(&older, unreadable).await.unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(
        store
            .load_many(std::slice::from_ref(&state.agent_arn))
            .await
            .unwrap()
            .states[&state.agent_arn],
        older
    );
    // The row changed since it was read: the token no longer matches, the watermark decides.
    let stale = AgentState {
        watermark: Watermark::new(at("2026-03-01T06:00:00Z"), "ev-stale"),
        ..agent(4)
    };
    assert_eq!(
        store.replace_unreadable(&stale, unreadable).await.unwrap(),
        CommitOutcome::Superseded
    );

    // A row without a watermark at all: a commit can never pass its condition, a replacement can.
    break_item(&store, &state, "REMOVE wm_ms, wm_n", &[]).await;
    let loaded = store.load_many(std::slice::from_ref(&state.agent_arn)).await.unwrap();
    let unreadable = &loaded.unreadable[&state.agent_arn];
    assert!(unreadable.reason.contains("`wm_"), "{}", unreadable.reason);
    let newer = agent(4);
    assert_eq!(store.commit(&newer).await.unwrap(), CommitOutcome::Superseded);
    assert_eq!(
        store.replace_unreadable(&newer, unreadable).await.unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(
        store
            .load_many(std::slice::from_ref(&state.agent_arn))
            .await
            .unwrap()
            .states[&state.agent_arn],
        newer
    );
}

#[tokio::test]
async fn state_store_errors_on_a_missing_table_are_retryable() {
    let config = support::sdk_config().await;
    let store = DynamoStateStore::new(support::dynamodb(&config), support::unique("no-such-table"));
    let err = store.commit(&agent(1)).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(err.operation.contains(&store.table), "{err}");
}

async fn claim_store() -> DynamoClaimStore {
    let config = support::sdk_config().await;
    let dynamodb = support::dynamodb(&config);
    let table = support::create_claim_table(&dynamodb).await;
    DynamoClaimStore::new(dynamodb, table).with_durations(Duration::minutes(15), Duration::days(14))
}

#[tokio::test]
async fn claims_follow_the_claim_complete_release_cycle() {
    let store = claim_store().await;
    let now = at("2026-03-01T08:00:00Z");
    let id = "reports-bucket/connect/x/Reports/QR-2026-03-01T08:00:00Z.csv#etag1";

    assert_eq!(store.claim(id, "m1", now).await.unwrap(), ClaimOutcome::Claimed);
    assert_eq!(store.claim(id, "m2", now).await.unwrap(), ClaimOutcome::HeldElsewhere);
    assert_eq!(
        store.claim(id, "m2", now + Duration::minutes(14)).await.unwrap(),
        ClaimOutcome::HeldElsewhere
    );
    // Its owner re-enters it at once (its first answer may have been lost), lease or not.
    assert_eq!(
        store.claim(id, "m1", now + Duration::minutes(1)).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        store.claim(id, "m2", now + Duration::minutes(2)).await.unwrap(),
        ClaimOutcome::HeldElsewhere,
        "re-entering renews the owner's lease, not another's"
    );
    store.release(id).await.unwrap();
    assert_eq!(store.claim(id, "m1", now).await.unwrap(), ClaimOutcome::Claimed);
    store.complete(id, now).await.unwrap();
    assert_eq!(
        store.claim(id, "m1", now).await.unwrap(),
        ClaimOutcome::AlreadyCompleted
    );
    assert_eq!(
        store.claim(id, "m1", now + Duration::hours(2)).await.unwrap(),
        ClaimOutcome::AlreadyCompleted,
        "a COMPLETED claim has no lease"
    );
    store.release(id).await.unwrap();
    assert_eq!(
        store.claim(id, "m1", now).await.unwrap(),
        ClaimOutcome::AlreadyCompleted,
        "release leaves a COMPLETED claim alone"
    );
    store.release("never-claimed").await.unwrap();

    let item = store
        .client
        .get_item()
        .table_name(&store.table)
        .key("claim_id", aws_sdk_dynamodb::types::AttributeValue::S(id.into()))
        .send()
        .await
        .unwrap();
    let expires_at = item.item().unwrap()["expires_at"]
        .as_n()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    assert_eq!(expires_at, (now + Duration::days(14)).timestamp());
}

#[tokio::test]
async fn an_expired_in_progress_claim_can_be_taken_again() {
    let store = claim_store().await;
    let now = at("2026-03-01T08:00:00Z");
    assert_eq!(
        store.claim("crashed", "run-1", now).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        store
            .claim("crashed", "run-2", now + Duration::minutes(15))
            .await
            .unwrap(),
        ClaimOutcome::Claimed,
        "the lease ends at now + in_progress_for"
    );
    assert_eq!(
        store
            .claim("crashed", "run-3", now + Duration::minutes(16))
            .await
            .unwrap(),
        ClaimOutcome::HeldElsewhere,
        "the new claim has a new lease"
    );

    let short = DynamoClaimStore {
        in_progress_for: Duration::zero(),
        ..store.clone()
    };
    assert_eq!(
        short.claim("instant", "run-1", now).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        short.claim("instant", "run-2", now).await.unwrap(),
        ClaimOutcome::Claimed
    );
}

#[tokio::test]
async fn feed_sink_writes_under_its_prefix() {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let bucket = support::create_bucket(&s3, "feed").await;
    let body = b"{\"kind\":\"agent_state\",\"a\":1}\n{\"kind\":\"agent_state\",\"a\":2}\n".to_vec();

    for prefix in ["feed", "feed/", ""] {
        let sink = S3FeedSink::new(s3.clone(), &bucket, prefix);
        sink.put(
            "agent_state/2026-03-01/shard-1.jsonl",
            connect_wfm_core::feed::FeedBody::parse(body.clone()).unwrap(),
        )
        .await
        .unwrap();
    }
    let objects = support::read_objects(&s3, &bucket, "").await;
    let keys: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "agent_state/2026-03-01/shard-1.jsonl",
            "feed/agent_state/2026-03-01/shard-1.jsonl"
        ]
    );
    assert!(objects.iter().all(|(_, b)| *b == body));
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("feed/agent_state/2026-03-01/shard-1.jsonl")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/x-ndjson"));
    assert_eq!(
        support::read_json_lines(&s3, &bucket, "feed/").await,
        [
            serde_json::json!({"kind": "agent_state", "a": 1}),
            serde_json::json!({"kind": "agent_state", "a": 2})
        ]
    );

    let missing = S3FeedSink::new(s3.clone(), support::unique("no-such-bucket"), "feed");
    let err = missing
        .put("k.jsonl", connect_wfm_core::feed::FeedBody::parse(body).unwrap())
        .await
        .unwrap_err();
    assert!(
        err.operation.contains(&format!("s3://{}/feed/k.jsonl", missing.bucket)),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_source_streams_a_large_object() {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let bucket = support::create_bucket(&s3, "reports").await;
    let body: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let key = "connect/x/Reports/QR 2026-03-01T08:00:00Z.csv";
    support::put_object(&s3, &bucket, key, body.clone()).await;

    let source = S3ObjectSource::new(s3.clone());
    let mut reader = source.open(&bucket, key).await.unwrap();
    let read = tokio::task::spawn_blocking(move || {
        let mut read = Vec::new();
        reader.read_to_end(&mut read).map(|_| read)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(read.len(), body.len());
    assert!(read == body, "the streamed bytes differ from the object");

    let err = match source.open(&bucket, "missing.csv").await {
        Ok(_) => panic!("a missing key opens"),
        Err(err) => err,
    };
    assert!(!err.retryable, "{err}");
    assert!(err.to_string().contains(&format!("s3://{bucket}/missing.csv")), "{err}");
}

#[tokio::test]
async fn mapping_loads_from_s3_and_names_a_bad_location() {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let bucket = support::create_bucket(&s3, "config").await;
    support::put_object(&s3, &bucket, "mapping.json", b"{}".to_vec()).await;
    support::put_object(&s3, &bucket, "bad.json", b"{\"agent_state\": {}}".to_vec()).await;

    let location = format!("s3://{bucket}/mapping.json");
    load_mapping(Some(&location), &s3).await.unwrap();

    let bad = format!("s3://{bucket}/bad.json");
    let err = load_mapping(Some(&bad), &s3).await.unwrap_err();
    assert!(matches!(err, ConfigError::Mapping(_)), "{err}");
    assert!(err.to_string().contains(&bad), "{err}");

    let missing = format!("s3://{bucket}/missing.json");
    let err = load_mapping(Some(&missing), &s3).await.unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("mapping file {missing}: ")),
        "{err}"
    );

    let err = load_mapping(Some("/no/such/dir/mapping.json"), &s3).await.unwrap_err();
    assert!(
        err.to_string().starts_with("mapping file /no/such/dir/mapping.json: "),
        "{err}"
    );
}
