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
    assert!(doc.get("ReportDuplicates").is_none(), "zero counters are left out");
    assert_eq!(
        (doc["ReconciledIntervals"].as_u64(), doc["DriftingIntervals"].as_u64()),
        (Some(3), Some(1))
    );
    // Drift per field: its own document per `Field`, the batch's largest difference.
    let docs: Vec<Value> = out
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    let handled = docs
        .iter()
        .find(|d| d["Field"] == "handled")
        .expect("a FieldDrift document for handled");
    let value = &handled["FieldDrift"];
    assert_eq!(value.as_f64().or_else(|| value[0].as_f64()), Some(2.0), "{handled}");
    assert_eq!(
        handled["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
        serde_json::json!(["Function", "Field"]),
        "{handled}"
    );
}
