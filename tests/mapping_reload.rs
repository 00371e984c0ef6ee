//! The mapping file in S3 read again by its ETag (issue 22, item 5), on the emulator with the
//! real SDK client: a new version is in force after the check interval, a bad one is refused and
//! the last good mapping stays, and a file that is bad at cold start is the start-up error.

use chrono::{DateTime, Utc};
use connect_wfm_aws::live_mapping::LiveMapping;
use connect_wfm_e2e::{create_bucket, put_object, s3, sdk_config};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

fn reason(mapping: &connect_wfm_core::Mapping) -> String {
    mapping.agent_states.get("Lunch").unwrap().reason.clone()
}

fn state(reason: &str) -> String {
    format!(r#"{{"agent_states": [{{"name": "Lunch", "reason": "{reason}", "activity": "Closed"}}]}}"#)
}

#[tokio::test]
async fn a_new_file_is_in_force_after_the_interval_and_a_bad_one_keeps_the_last_good() {
    let config = sdk_config().await;
    let s3 = s3(&config);
    let bucket = create_bucket(&s3, "mapping").await;
    let location = format!("s3://{bucket}/config/mapping.json");
    put_object(&s3, &bucket, "config/mapping.json", state("Meal")).await;

    let live = LiveMapping::load(Some(&location), &s3, at(0)).await.unwrap();
    let first = live.current(at(1)).await;
    assert_eq!(reason(&first), "Meal");

    put_object(&s3, &bucket, "config/mapping.json", state("Lunch break")).await;
    assert_eq!(
        reason(live.current(at(59)).await.as_ref()),
        "Meal",
        "not checked within the minute"
    );
    let second = live.current(at(60)).await;
    assert_eq!(reason(&second), "Lunch break", "the new ETag is fetched");
    assert!(
        std::sync::Arc::ptr_eq(&second, &live.current(at(120)).await),
        "the same ETag is kept"
    );

    put_object(
        &s3,
        &bucket,
        "config/mapping.json",
        r#"{"agent_states": [{"name": "Lunch"}]}"#,
    )
    .await;
    let kept = live.current(at(180)).await;
    assert!(
        std::sync::Arc::ptr_eq(&second, &kept),
        "the bad file is refused, the last good mapping stays"
    );
    assert!(std::sync::Arc::ptr_eq(&second, &live.current(at(240)).await));

    put_object(&s3, &bucket, "config/mapping.json", state("Food")).await;
    assert_eq!(
        reason(live.current(at(300)).await.as_ref()),
        "Food",
        "a fixed file is taken"
    );

    // A bad file at cold start: no mapping in force yet, so the error, naming the file.
    put_object(&s3, &bucket, "config/mapping.json", "{").await;
    let err = LiveMapping::load(Some(&location), &s3, at(0))
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .starts_with(&format!("mapping file {location}: not valid JSON")),
        "{err}"
    );
    let missing = format!("s3://{bucket}/config/none.json");
    let err = LiveMapping::load(Some(&missing), &s3, at(0))
        .await
        .err()
        .expect("no such key");
    assert!(
        err.to_string().starts_with(&format!("mapping file {missing}: ")),
        "{err}"
    );
}
