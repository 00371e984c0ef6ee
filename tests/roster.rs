//! Who the agents and queues are, end to end on the emulator: the agent-events binary writes
//! `agent_profile` and `queue_profile` records (names only when AGENT_NAMES=include), keeps the
//! latest profiles in the roster table, gives an agent outside the mapping's `agents` filter no
//! records at all; the same configuration again costs no request; the sweep binary writes the
//! daily roster at the 00:00 UTC snapshot slot.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use connect_wfm_aws::DynamoStateStore;
use connect_wfm_e2e as support;
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};
use serde_json::{Value, json};

/// The agent the test moves to another routing profile, outside the filter.
const OUTSIDE: &str = "dc36fc90-2248-4d70-aca4-a1a9f5b19f71";

/// The stories' batch, with the agent [`OUTSIDE`] in routing profile `Back Office`.
fn batch() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/kinesis-all-stories.json");
    let mut batch: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    for record in batch["Records"].as_array_mut().unwrap() {
        let data = record["kinesis"]["data"].as_str().unwrap();
        let Ok(mut event) = serde_json::from_slice::<Value>(&b64.decode(data).unwrap()) else {
            continue;
        };
        if event["AgentARN"].as_str().is_some_and(|arn| arn.ends_with(OUTSIDE)) {
            for snapshot in ["CurrentAgentSnapshot", "PreviousAgentSnapshot"] {
                if let Some(profile) = event
                    .get_mut(snapshot)
                    .and_then(|s| s.get_mut("Configuration"))
                    .and_then(|c| c.get_mut("RoutingProfile"))
                    .filter(|p| p.is_object())
                {
                    profile["Name"] = json!("Back Office");
                    profile["ARN"] = json!("arn:aws:connect:us-east-1:123456789012:instance/x/routing-profile/bo-1");
                }
            }
            record["kinesis"]["data"] = json!(b64.encode(event.to_string()));
        }
    }
    batch
}

fn of_kind<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["kind"] == kind).collect()
}

#[tokio::test]
async fn profiles_roster_and_filter_through_the_real_binaries() {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let dynamodb = support::dynamodb(&config);
    let table = support::create_state_table(&dynamodb).await;
    let roster = support::create_roster_table(&dynamodb).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let mapping = r#"{"agents": {"routing_profiles": ["Omnichannel Support"]}}"#;
    support::put_object(&s3, &bucket, "config/mapping.json", mapping).await;

    let runtime = support::RuntimeApi::start().await;
    let mut function = support::lambda_command("agent-events", &runtime)
        .env("STATE_TABLE", &table)
        .env("ROSTER_TABLE", &roster)
        .env("AGENT_NAMES", "include")
        .env("FEED_BUCKET", &bucket)
        .env("FEED_PREFIX", "wfm")
        .env("MAPPING_LOCATION", format!("s3://{bucket}/config/mapping.json"))
        .spawn()
        .expect("spawn agent-events");
    let batch = batch();
    let (outcome, response) = runtime.invoke(batch.clone(), Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");

    let lines = support::read_json_lines(&s3, &bucket, "wfm/").await;
    // The agent outside the filter: no record of any kind.
    let about_outside: Vec<&Value> = lines
        .iter()
        .filter(|l| l["kind"] != "reject" && l["agent_id"] == OUTSIDE)
        .collect();
    assert!(about_outside.is_empty(), "{about_outside:?}");
    assert!(!of_kind(&lines, "agent_state").is_empty());
    let profiles = of_kind(&lines, "agent_profile");
    let ids: BTreeSet<&str> = profiles.iter().map(|p| p["agent_id"].as_str().unwrap()).collect();
    assert_eq!(
        (profiles.len(), ids.len()),
        (3, 3),
        "one profile per agent inside: {profiles:?}"
    );
    for profile in &profiles {
        assert!(profile["first_name"].is_string(), "names included: {profile}");
        assert_eq!(profile["routing_profile"]["name"], "Omnichannel Support");
        assert!(
            profile["hierarchy"].as_array().is_some_and(|h| !h.is_empty()),
            "{profile}"
        );
    }
    let queues = of_kind(&lines, "queue_profile");
    let queue_ids: BTreeSet<&str> = queues.iter().map(|q| q["queue_id"].as_str().unwrap()).collect();
    assert_eq!((queues.len(), queue_ids.len()), (4, 4), "{queues:?}");

    // Lambda's replay: nothing new.
    let (outcome, _) = runtime.invoke(batch, Duration::from_secs(60)).await;
    assert_eq!(outcome, "response");
    assert_eq!(support::read_json_lines(&s3, &bucket, "wfm/").await.len(), lines.len());
    function.kill().await.expect("stop agent-events");

    // The roster table: the three agents inside and the four queues.
    let items = dynamodb
        .scan()
        .table_name(&roster)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let members: BTreeSet<String> = items
        .iter()
        .map(|i| i["member"].as_s().unwrap().split('#').next().unwrap().to_owned())
        .collect();
    assert_eq!(items.len(), 7, "{members:?}");

    // The daily roster, at the 00:00 UTC slot.
    let runtime = support::RuntimeApi::start().await;
    let mut sweep = support::lambda_command("sweep", &runtime)
        .env("STATE_TABLE", &table)
        .env("ROSTER_TABLE", &roster)
        .env("FEED_BUCKET", &bucket)
        .env("FEED_PREFIX", "wfm")
        .spawn()
        .expect("spawn sweep");
    let event = json!({ "source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-11-21T00:00:00Z" });
    let (outcome, response) = runtime.invoke(event, Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["rosters"], 2, "{response}");
    let agents = support::read_json_lines(&s3, &bucket, "wfm/agent_profile/2026-11-21/").await;
    let queues = support::read_json_lines(&s3, &bucket, "wfm/queue_profile/2026-11-21/").await;
    assert_eq!((agents.len(), queues.len()), (3, 4));
    assert!(agents.iter().all(|a| a["agent_id"] != OUTSIDE));
    sweep.kill().await.expect("stop sweep");
}

/// `batch` with every event `minutes` later and a new id (the same agents, the same
/// configurations unless `rename` names the first inbound queue anew).
fn later(batch: Value, minutes: i64, rename: Option<&str>) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut batch = batch;
    for record in batch["Records"].as_array_mut().unwrap() {
        let data = b64.decode(record["kinesis"]["data"].as_str().unwrap()).unwrap();
        let Ok(mut event) = serde_json::from_slice::<Value>(&data) else {
            continue;
        };
        let Some(at) = event["EventTimestamp"].as_str() else {
            continue;
        };
        let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
        event["EventTimestamp"] = json!((at + chrono::Duration::minutes(minutes)).to_rfc3339());
        event["EventId"] = json!(format!("{}-{minutes}", event["EventId"].as_str().unwrap_or("")));
        if let Some(name) = rename
            && let Some(queue) = event
                .pointer_mut("/CurrentAgentSnapshot/Configuration/RoutingProfile/InboundQueues/0")
                .filter(|q| q.is_object())
        {
            queue["Name"] = json!(name);
        }
        record["kinesis"]["data"] = json!(b64.encode(event.to_string()));
        // Later sequence numbers too, so the feed objects get names of their own.
        if let Some(seq) = record["kinesis"]["sequenceNumber"].as_str() {
            let seq = format!("{seq}{minutes:04}");
            record["kinesis"]["sequenceNumber"] = json!(seq);
        }
    }
    batch
}

#[tokio::test]
async fn a_new_mapping_file_in_s3_takes_effect_in_the_running_function() {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let dynamodb = support::dynamodb(&config);
    let table = support::create_state_table(&dynamodb).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let filter = r#"{"agents": {"routing_profiles": ["Omnichannel Support"]}}"#;
    support::put_object(&s3, &bucket, "config/mapping.json", filter).await;
    let runtime = support::RuntimeApi::start().await;
    let mut function = support::lambda_command("agent-events", &runtime)
        .env("STATE_TABLE", &table)
        .env("FEED_BUCKET", &bucket)
        .env("FEED_PREFIX", "wfm")
        .env("MAPPING_LOCATION", format!("s3://{bucket}/config/mapping.json"))
        .env("MAPPING_CHECK_SECONDS", "1")
        .spawn()
        .expect("spawn agent-events");
    let about_outside = |lines: &[Value]| {
        lines
            .iter()
            .filter(|l| l["kind"] == "agent_state" && l["agent_id"] == OUTSIDE)
            .count()
    };
    let (outcome, _) = runtime.invoke(batch(), Duration::from_secs(60)).await;
    assert_eq!(outcome, "response");
    assert_eq!(about_outside(&support::read_json_lines(&s3, &bucket, "wfm/").await), 0);

    // Every agent again: the running function takes the new file within the check interval.
    support::put_object(&s3, &bucket, "config/mapping.json", "{}").await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (outcome, response) = runtime.invoke(later(batch(), 10, None), Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    let lines = support::read_json_lines(&s3, &bucket, "wfm/").await;
    assert!(about_outside(&lines) > 0, "the agent is back in the filter");
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "agent_profile" && l["agent_id"] == OUTSIDE),
        "with its profile"
    );

    // A bad file: refused, the last good mapping stays in force, the function answers.
    support::put_object(&s3, &bucket, "config/mapping.json", r#"{"agents": {"teams": []}}"#).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (outcome, response) = runtime.invoke(later(batch(), 20, None), Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    function.kill().await.expect("stop agent-events");
}

#[tokio::test]
async fn the_same_configuration_again_costs_no_request_and_a_change_one_write() {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let (dynamodb, requests) = support::recording_dynamodb(&config);
    let table = support::create_state_table(&dynamodb).await;
    let roster = support::create_roster_table(&dynamodb).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let states = DynamoStateStore::new(dynamodb, &table).with_roster(&roster);
    let sink = connect_wfm_aws::S3FeedSink::new(s3.clone(), &bucket, "wfm");
    let now = "2026-11-20T12:00:00Z".parse().unwrap();

    let first: KinesisBatch = serde_json::from_str(&batch().to_string()).unwrap();
    assert_eq!(
        handle_batch(&first, &states, &sink, &Settings::default(), now)
            .await
            .failed_from(),
        None
    );

    // The same batch with its events 10 minutes later (new ids): the same configurations.
    let later = |batch: Value, minutes: i64, rename: Option<&str>| {
        serde_json::from_str::<KinesisBatch>(&later(batch, minutes, rename).to_string()).unwrap()
    };
    requests.clear();
    let again = handle_batch(&later(batch(), 10, None), &states, &sink, &Settings::default(), now).await;
    assert_eq!(again.failed_from(), None);
    assert_eq!(again.stats.profiles + again.stats.queue_profiles, 0);
    let same = requests.by_operation();
    assert_eq!(
        (same.get("BatchWriteItem"), requests.count("BatchGetItem")),
        (None, 1),
        "no roster request, only the batch's own load: {same:?}"
    );

    // A renamed queue: its queue profile and the agents' profiles, one roster write.
    requests.clear();
    let renamed = handle_batch(
        &later(batch(), 20, Some("Support EU")),
        &states,
        &sink,
        &Settings::default(),
        now,
    )
    .await;
    assert_eq!(renamed.failed_from(), None);
    assert!(
        renamed.stats.profiles > 0 && renamed.stats.queue_profiles >= 1,
        "{:?}",
        renamed.stats
    );
    assert_eq!(requests.count("BatchWriteItem"), 1, "{:?}", requests.by_operation());
}

/// The daily roster at 10,000 agents, for the note: the objects' size and the time to read the
/// roster table (one Query, 1 MB pages) and encode it, on the emulator.
#[tokio::test]
#[ignore = "a measurement: scripts/test -p connect-wfm-e2e --test roster -- --ignored --nocapture"]
async fn roster_of_10000_agents() {
    use connect_wfm_core::agent::{AgentProfileRecord, ProfileView, QueueProfileRecord, decode_agent_event};
    use connect_wfm_core::ports::RosterStore as _;
    use connect_wfm_core::synthetic::{StreamSpec, agent_event_stream};

    const AGENTS: usize = 10_000;
    let config = support::sdk_config().await;
    let dynamodb = support::dynamodb(&config);
    let table = support::create_state_table(&dynamodb).await;
    let roster = support::create_roster_table(&dynamodb).await;
    let states = DynamoStateStore::new(dynamodb, &table).with_roster(&roster);
    // One event per agent, with the configuration Connect sends (routing profile, queues,
    // hierarchy), its profile with names.
    let stream = agent_event_stream(&StreamSpec {
        seed: 7,
        agents: AGENTS,
        records: AGENTS * 3,
        bad_permille: 0,
        verbose: true,
        ..StreamSpec::default()
    });
    let mut profiles: std::collections::BTreeMap<String, AgentProfileRecord> = Default::default();
    for record in &stream {
        let Ok(event) = decode_agent_event(record) else {
            continue;
        };
        if let Some(config) = event.configuration() {
            profiles
                .entry(event.agent_id().to_owned())
                .or_insert_with(|| ProfileView::of(event.login(), config, true).record(&event));
        }
    }
    let agents: Vec<AgentProfileRecord> = profiles.into_values().collect();
    let mut queues: std::collections::BTreeMap<String, QueueProfileRecord> = Default::default();
    for profile in &agents {
        for sighting in profile.queue_sightings() {
            let next = QueueProfileRecord::after(queues.get(&sighting.queue_id), &sighting, profile);
            if let Some(next) = next {
                queues.insert(next.queue_id.clone(), next);
            }
        }
    }
    let queues: Vec<QueueProfileRecord> = queues.into_values().collect();
    for chunk in agents.chunks(500) {
        states.keep_profiles(chunk, &[]).await.unwrap();
    }
    states.keep_profiles(&[], &queues).await.unwrap();

    let instance = agents[0].instance_id.clone();
    let started = std::time::Instant::now();
    let read = states.roster(&instance).await.unwrap();
    let read_time = started.elapsed();
    let started = std::time::Instant::now();
    let agent_object = connect_wfm_core::feed::to_json_lines(&read.agents);
    let queue_object = connect_wfm_core::feed::to_json_lines(&read.queues);
    let encode_time = started.elapsed();
    let bytes = |body: &connect_wfm_core::feed::FeedBody| body.bytes().len();
    println!(
        "roster of {} agents and {} queues: agent_profile object {} bytes ({:.0} per agent), queue_profile object {} bytes; \
         read from the roster table in {:.2} s (emulator), encoded in {:.1} ms",
        read.agents.len(),
        read.queues.len(),
        bytes(&agent_object),
        bytes(&agent_object) as f64 / read.agents.len() as f64,
        bytes(&queue_object),
        read_time.as_secs_f64(),
        encode_time.as_secs_f64() * 1000.0
    );
    assert_eq!(read.agents.len(), agents.len());
}
