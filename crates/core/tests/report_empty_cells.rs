//! Empty cells of real Connect exports (feed.md "Header matching"): in a column the report has,
//! an empty cell or `-` is 0 for counts and durations and null for averages and percentages; a
//! column the report lacks is null; a derived field is null when one of its inputs is. And the
//! older names of columns (`Nonproductive time`) that the built-in mapping knows.

use connect_wfm_core::report::{
    AgentInterval, AgentQueueInterval, IntervalRecord, QueueInterval, ReportMapping, ReportReader, ReportSource,
    ServiceLevel,
};
use serde_json::{Value, json};

const QR_KEY: &str = "connect/acme/Reports/QR-2026-11-20T10:30:00Z.csv";
const AQR_KEY: &str = "connect/acme/Reports/AQR-2026-11-20T10:30:00Z.csv";
const ASPR_KEY: &str = "connect/acme/Reports/ASPR-2026-11-20T10:30:00Z.csv";

fn records(key: &str, csv: &str) -> Vec<IntervalRecord> {
    let mapping = ReportMapping::default();
    let reader = ReportReader::new(csv.as_bytes(), ReportSource::new("b", key), None, None, &mapping)
        .unwrap_or_else(|e| panic!("{e}"));
    reader.collect::<Result<_, _>>().unwrap_or_else(|e| panic!("{e}"))
}

fn queue(csv: &str) -> QueueInterval {
    match records(QR_KEY, csv).remove(0) {
        IntervalRecord::Queue(q) => q,
        other => panic!("not a queue record: {other:?}"),
    }
}

fn agent_queue(csv: &str) -> AgentQueueInterval {
    match records(AQR_KEY, csv).remove(0) {
        IntervalRecord::AgentQueue(r) => r,
        other => panic!("not an agent queue record: {other:?}"),
    }
}

fn agents(csv: &str) -> Vec<AgentInterval> {
    records(ASPR_KEY, csv)
        .into_iter()
        .map(|record| match record {
            IntervalRecord::Agent(r) => r,
            other => panic!("not an agent record: {other:?}"),
        })
        .collect()
}

/// A queue export as Connect writes it: 3 contacts handled, none within 15 s, nothing
/// abandoned, no hold, no ACW. Every zero count and time is an empty cell.
const REAL_QR: &str = "\
StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,\
Contacts answered in 15 seconds,Contacts abandoned in 15 seconds,Service level 15 seconds,\
Agent interaction time,Customer hold time,After contact work time,Average queue answer time
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,3,3,,,,0.00%,412,,,41.2
";

#[test]
fn an_empty_count_of_a_real_queue_export_is_zero_so_the_splits_are_known() {
    let q = queue(REAL_QR);
    assert_eq!((q.contacts_received, q.handled), (Some(3), Some(3)));
    assert_eq!(q.service_level_seconds, Some(15));
    assert_eq!((q.handled_short, q.handled_long), (Some(0), Some(3)));
    assert_eq!(
        (q.abandoned, q.abandoned_short, q.abandoned_long),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(
        (q.talk_time_s, q.hold_time_s, q.acw_time_s, q.handle_time_s),
        (Some(412), Some(0), Some(0), Some(412))
    );
    assert_eq!(q.queue_delay_s, Some(124));
    assert_eq!(q.service_level_pct, Some(0.0));
    assert_eq!(
        q.service_levels,
        [ServiceLevel {
            seconds: 15,
            answered: Some(0),
            abandoned: Some(0),
            pct: Some(0.0)
        }]
    );
    assert!(q.active);
}

#[test]
fn empty_and_dash_are_zero_for_counts_and_durations_and_null_for_averages_and_percentages() {
    for empty in ["", "-", " - ", "  "] {
        let csv = format!(
            "StartInterval,EndInterval,Queue,Contacts handled,Contacts answered in 20 seconds,\
             Agent interaction time,Average queue answer time,Service level 20 seconds\n\
             2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,{empty},{empty},{empty},{empty},{empty}\n"
        );
        let q = queue(&csv);
        let what = format!("cells `{empty}`");
        assert_eq!(q.handled, Some(0), "count, {what}");
        assert_eq!(q.handled_short, Some(0), "threshold count, {what}");
        assert_eq!(q.talk_time_s, Some(0), "duration, {what}");
        assert_eq!(q.service_level_pct, None, "percentage, {what}");
        assert_eq!(q.service_levels[0].pct, None, "percentage, {what}");
        assert_eq!(q.queue_delay_s, None, "average × handled, {what}");
        assert!(!q.active, "an empty count is no activity, {what}");
        let json = serde_json::to_value(IntervalRecord::Queue(q)).unwrap();
        assert_eq!(
            (&json["handled"], &json["talk_time_s"], &json["service_level_pct"]),
            (&json!(0), &json!(0), &Value::Null),
            "{what}"
        );
    }
}

#[test]
fn a_column_the_report_lacks_is_null_and_so_is_what_is_derived_from_it() {
    // No answered-in column (only the percentage of the threshold), no hold time, no average.
    let csv = "\
StartInterval,EndInterval,Queue,Contacts handled,Contacts abandoned,Contacts abandoned in 20 seconds,Service level 20 seconds,Agent interaction time,After contact work time
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,3,,,50%,100,
";
    let q = queue(csv);
    assert_eq!(q.contacts_received, None, "no Contacts queued column");
    assert_eq!((q.handled_short, q.handled_long), (None, None));
    assert_eq!((q.abandoned_short, q.abandoned_long), (Some(0), Some(0)));
    assert_eq!((q.hold_time_s, q.acw_time_s, q.handle_time_s), (None, Some(0), None));
    assert_eq!(q.queue_delay_s, None);

    // An empty average with contacts handled: the delay is unknown, never 0.
    let csv = "\
StartInterval,EndInterval,Queue,Contacts handled,Average queue answer time
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,3,
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Support,,12.5
";
    let rows = records(QR_KEY, csv);
    let delays: Vec<Option<i64>> = rows
        .into_iter()
        .map(|r| match r {
            IntervalRecord::Queue(q) => q.queue_delay_s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(delays, [None, Some(0)]);
}

#[test]
fn agent_queue_rows_read_empty_counts_and_times_as_zero() {
    let csv = "\
StartInterval,EndInterval,Agent,Queue,Contacts handled,Agent interaction time,Customer hold time,After contact work time
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,Sales,2,301,-,
";
    let r = agent_queue(csv);
    assert_eq!(
        (r.handled, r.talk_time_s, r.hold_time_s, r.acw_time_s, r.handle_time_s),
        (Some(2), Some(301), Some(0), Some(0), Some(301))
    );
}

#[test]
fn agent_rows_read_empty_times_as_zero_and_ready_time_needs_both_inputs() {
    let csv = "\
StartInterval,EndInterval,Agent,Online time,Non-Productive Time,Agent idle time,Agent on contact time
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,900,,-,900
";
    let r = &agents(csv)[0];
    assert_eq!(
        (r.login_time_s, r.not_ready_time_s, r.ready_time_s, r.idle_time_s),
        (Some(900), Some(0), Some(900), Some(0))
    );

    let csv = "\
StartInterval,EndInterval,Agent,Non-Productive Time,Agent idle time
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,120,
";
    let r = &agents(csv)[0];
    assert_eq!(
        (r.login_time_s, r.not_ready_time_s, r.ready_time_s, r.idle_time_s),
        (None, Some(120), None, Some(0))
    );
    assert_eq!(r.on_contact_time_s, None);
}

#[test]
fn older_exports_name_non_productive_time_nonproductive_time() {
    for header in [
        "Nonproductive time",
        "NONPRODUCTIVE  TIME",
        "\u{feff}nonproductive time ",
    ] {
        let csv = format!(
            "Agent,StartInterval,EndInterval,Online time,{header}\n\
             jdoe,2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,900,240\n"
        );
        let r = &agents(&csv)[0];
        assert_eq!(r.not_ready_time_s, Some(240), "{header}");
        assert_eq!(r.ready_time_s, Some(660), "{header}");
    }
    // A report with both names reads the console's.
    let csv = "StartInterval,EndInterval,Agent,Nonproductive time,Non-Productive Time\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,1,2\n";
    assert_eq!(agents(csv)[0].not_ready_time_s, Some(2));
}
