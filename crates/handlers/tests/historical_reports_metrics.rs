//! The report metrics as CloudWatch receives them: files, rows, errors of one batch in one EMF
//! document. (Its own test binary: the recorder is process-global.)

use connect_wfm_aws::config::Env;
use connect_wfm_aws::metrics::Metrics;
use connect_wfm_handlers::reports::{BatchOutcome, MessageReport, ObjectOutcome, ReconcileStats};
use serde_json::Value;

#[test]
fn a_batch_writes_files_rows_and_errors_as_emf() {
    let metrics = Metrics::init(&Env::from_pairs([("METRICS_NAMESPACE", "ns")]), "historical-reports").unwrap();
    let outcome = BatchOutcome {
        response: Default::default(),
        messages: vec![
            MessageReport {
                message_id: Some("m1".into()),
                test_event: false,
                objects: vec![
                    (None, ObjectOutcome::Converted { records: 5 }),
                    (None, ObjectOutcome::Converted { records: 6 }),
                ],
            },
            MessageReport {
                message_id: Some("m2".into()),
                test_event: false,
                objects: vec![(
                    None,
                    ObjectOutcome::Failed {
                        reason: "no StartInterval".into(),
                        permanent: true,
                    },
                )],
            },
        ],
        reconciliation: ReconcileStats {
            reconciled: 3,
            drifting: 1,
            failures: 0,
            field_drift: vec![
                ("handled".into(), 1.0),
                ("handled".into(), 2.0),
                ("abandoned".into(), 1.0),
            ],
            agents_reconciled: 4,
            agents_drifting: 2,
            agent_field_drift: vec![("not_ready_time_s".into(), 60.0), ("idle_time_s".into(), 5.0)],
        },
    };
    outcome.record_metrics();
    let mut out = Vec::new();
    metrics.flush(&mut out);
    let doc: Value = serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(doc["Function"], "historical-reports");
    assert_eq!(
        (
            doc["ReportFiles"].as_u64(),
            doc["ReportRows"].as_u64(),
            doc["ReportErrors"].as_u64()
        ),
        (Some(2), Some(11), Some(1))
    );
    assert!(doc.get("ReconcileErrors").is_none(), "zero counters are left out");
    assert_eq!(doc["DriftingIntervals"].as_u64(), Some(1));
    assert_eq!(doc["DriftingAgentIntervals"].as_u64(), Some(2));
    // What no alarm or dashboard reads is not a metric (CloudWatch bills each one): it is in
    // the log lines.
    let names: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    for name in [
        "ReconciledIntervals",
        "ReportDuplicates",
        "ReportsSkipped",
        "FieldDrift",
    ] {
        assert!(!names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(
        out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
        1,
        "one document"
    );
    assert_eq!(outcome.reconciliation.largest_drift(), "abandoned=1,handled=2");
}
