//! The sweep's metrics as CloudWatch receives them: one EMF document on standard output per
//! invocation, with the namespace, the `Function` dimension and the metric names the template's
//! alarm and the README name. (Its own test binary: the recorder is process-global.)

use connect_wfm_aws::config::Env;
use connect_wfm_aws::metrics::Metrics;
use connect_wfm_handlers::sweep::SweepStats;
use serde_json::Value;

#[test]
fn a_sweep_writes_one_emf_document_with_its_counts() {
    let metrics = Metrics::init(&Env::from_pairs([("METRICS_NAMESPACE", "connect-wfm/test")]), "sweep").unwrap();
    // A sweep that has found nothing since the process started publishes nothing: CloudWatch
    // bills a metric for every hour it is published, and the alarms read missing data as not
    // breaching.
    SweepStats::default().record_metrics();
    let mut out = Vec::new();
    metrics.flush(&mut out);
    let text = String::from_utf8(out).unwrap();
    for name in ["SilentInstances", "OwedRecords", "SilentAgents", "ActiveAgents"] {
        assert!(!text.contains(name), "{name} in {text}");
    }

    let stats = SweepStats {
        instances: 3,
        active_agents: 40,
        silent_instances: 1,
        newly_silent_instances: 1,
        silent_agents: 7,
        superseded: 1,
        rewritten: 0,
        pieces: 3,
        agent_intervals: 1,
        agent_interval_records: 4,
        snapshots: 0,
        snapshot_agents: 0,
        rosters: 0,
        roster_profiles: 0,
        intervals_closed: 2,
        interval_records: 2,
        failures: 0,
        owed_records: 2,
    };
    stats.record_metrics();
    let mut out = Vec::new();
    metrics.flush(&mut out);
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let doc = &lines[0];
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "connect-wfm/test");
    assert_eq!(directive["Dimensions"], serde_json::json!([["Function"]]));
    assert_eq!(doc["Function"], "sweep");
    let names: Vec<&str> = directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    for name in [
        "SilentInstances",
        "ActiveAgents",
        "SilentAgents",
        "IntervalsClosed",
        "IntervalRecords",
        "OwedRecords",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(!names.contains(&"SweepFailures"), "a zero counter is left out");
    assert_eq!(
        (doc["SilentInstances"].as_f64(), doc["SilentAgents"].as_u64()),
        (Some(1.0), Some(7))
    );

    assert!(
        !names.contains(&"SweepSuperseded"),
        "only what an alarm or the dashboard reads"
    );

    // Once a gauge has a value, every run says it again, zero included: the alarm sees the
    // silence end. Counters still only when not zero.
    SweepStats::default().record_metrics();
    let mut out = Vec::new();
    metrics.flush(&mut out);
    let doc: Value = serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(doc["SilentInstances"].as_f64(), Some(0.0));
    assert_eq!(doc["OwedRecords"].as_f64(), Some(0.0), "the owed gauge back at zero");
    assert!(doc.get("SilentAgents").is_none());
}
