//! The historical-report reader against feed.md: every mapped field of the three kinds, header
//! tolerance, time zones, thresholds, value formats, and the exact JSON of each record kind.

use connect_wfm_core::report::{
    IntervalRecord, ReportError, ReportKind, ReportMapping, ReportReader, ReportSource, ServiceLevel,
};
use serde_json::{Value, json};

const QR_KEY: &str = "connect/acme/Reports/QR-2026-11-20T10:30:00Z.csv";
const AQR_KEY: &str = "connect/acme/Reports/AQR-2026-11-20T10:30:00Z.csv";
const ASPR_KEY: &str = "connect/acme/Reports/ASPR-2026-11-20T10:30:00Z.csv";

fn read_with(key: &str, csv: &str, mapping: &ReportMapping) -> Result<Vec<IntervalRecord>, ReportError> {
    let reader = ReportReader::new(csv.as_bytes(), ReportSource::new("b", key), None, None, mapping)?;
    reader.collect()
}

fn read(key: &str, csv: &str) -> Vec<IntervalRecord> {
    read_with(key, csv, &ReportMapping::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn one(key: &str, csv: &str) -> IntervalRecord {
    let mut records = read(key, csv);
    assert_eq!(records.len(), 1, "{records:?}");
    records.remove(0)
}

fn queue(record: IntervalRecord) -> connect_wfm_core::report::QueueInterval {
    match record {
        IntervalRecord::Queue(q) => q,
        other => panic!("not a queue record: {other:?}"),
    }
}

fn agent_queue(record: IntervalRecord) -> connect_wfm_core::report::AgentQueueInterval {
    match record {
        IntervalRecord::AgentQueue(r) => r,
        other => panic!("not an agent queue record: {other:?}"),
    }
}

fn agent(record: IntervalRecord) -> connect_wfm_core::report::AgentInterval {
    match record {
        IntervalRecord::Agent(r) => r,
        other => panic!("not an agent record: {other:?}"),
    }
}

/// Every value distinct, so a field mapped from the wrong column shows.
const QR: &str = "\
StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,\
Contacts answered in 20 seconds,Contacts abandoned in 20 seconds,Service level 20 seconds,\
Contacts answered in 60 seconds,Contacts abandoned in 60 seconds,Service level 60 seconds,\
Agent interaction time,Customer hold time,After contact work time,Average queue answer time
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,17,13,4,8,1,61.54%,12,3,92.31%,1501,122,303,12.5
";

const AQR: &str = "\
StartInterval,EndInterval,Agent,Queue,Contacts handled,Agent interaction time,Customer hold time,After contact work time
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,Sales,7,901,62,183
";

const ASPR: &str = "\
StartInterval,EndInterval,Agent,Online time,Non-Productive Time,Agent idle time,Agent on contact time
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,900,240,121,539
";

#[test]
fn queue_report_maps_every_field() {
    let q = queue(one(QR_KEY, QR));
    assert_eq!(q.kind, "queue_interval");
    assert_eq!(q.schema, 1);
    assert_eq!(&*q.instance, "acme");
    assert_eq!(q.queue.as_deref(), Some("Sales"));
    assert_eq!(q.interval_start.to_rfc3339(), "2026-11-20T10:15:00+00:00");
    // One queue_interval type for both bases: the stream's own fields are absent from a
    // report record, not null.
    let json = serde_json::to_value(&q).unwrap();
    for field in ["instance_id", "queue_id", "transferred_out", "as_of", "ctr_pending"] {
        assert!(json.get(field).is_none(), "{field} in a report record: {json}");
    }
    assert_eq!(q.interval_minutes, 15);
    assert_eq!(q.contacts_received, Some(17));
    assert_eq!(q.handled, Some(13));
    assert_eq!(q.abandoned, Some(4));
    // X = the smallest threshold in the headers (20).
    assert_eq!(q.service_level_seconds, Some(20));
    assert_eq!(q.handled_short, Some(8));
    assert_eq!(q.handled_long, Some(5));
    assert_eq!(q.abandoned_short, Some(1));
    assert_eq!(q.abandoned_long, Some(3));
    assert_eq!(q.service_level_pct, Some(61.54));
    assert_eq!(q.talk_time_s, Some(1501));
    assert_eq!(q.hold_time_s, Some(122));
    assert_eq!(q.acw_time_s, Some(303));
    assert_eq!(q.handle_time_s, Some(1926));
    // 12.5 s average × 13 handled = 162.5 → 163.
    assert_eq!(q.queue_delay_s, Some(163));
    assert_eq!(
        q.service_levels,
        vec![
            ServiceLevel {
                seconds: 20,
                answered: Some(8),
                abandoned: Some(1),
                pct: Some(61.54)
            },
            ServiceLevel {
                seconds: 60,
                answered: Some(12),
                abandoned: Some(3),
                pct: Some(92.31)
            },
        ]
    );
    assert_eq!(
        [
            q.backlog,
            q.backlog_expired,
            q.backlog_not_expired,
            q.right_party_contacts,
            q.right_party_handle_time_s,
            q.wrong_party_contacts,
            q.wrong_party_handle_time_s
        ],
        [None; 7]
    );
    assert!(q.active);
    let row = q.source.row().unwrap();
    assert_eq!((&*row.bucket, &*row.key, row.line), ("b", QR_KEY, 2));
}

#[test]
fn configured_threshold_per_queue_picks_x() {
    let mut mapping = ReportMapping::default();
    mapping.merge_json(json!({ "sla_seconds": { "Sales": 60 } })).unwrap();
    let csv = format!("{QR}{}", QR.lines().nth(1).unwrap().replace("Sales", "Support"));
    let records = read_with(QR_KEY, &csv, &mapping).unwrap();
    let sales = queue(records[0].clone());
    assert_eq!(sales.service_level_seconds, Some(60));
    assert_eq!((sales.handled_short, sales.handled_long), (Some(12), Some(1)));
    assert_eq!((sales.abandoned_short, sales.abandoned_long), (Some(3), Some(1)));
    assert_eq!(sales.service_level_pct, Some(92.31));
    // A queue without its own threshold keeps the smallest one of the header.
    let support = queue(records[1].clone());
    assert_eq!(support.queue.as_deref(), Some("Support"));
    assert_eq!(support.service_level_seconds, Some(20));
    assert_eq!(support.handled_short, Some(8));

    // A default threshold applies to every other queue.
    mapping.merge_json(json!({ "default_sla_seconds": 60 })).unwrap();
    let support = queue(read_with(QR_KEY, &csv, &mapping).unwrap()[1].clone());
    assert_eq!(
        (support.service_level_seconds, support.handled_short),
        (Some(60), Some(12))
    );

    // A configured X the header does not carry: X is reported, the split it needs is null.
    let mut mapping = ReportMapping::default();
    mapping.merge_json(json!({ "sla_seconds": { "Sales": 30 } })).unwrap();
    let sales = queue(read_with(QR_KEY, QR, &mapping).unwrap().remove(0));
    assert_eq!(sales.service_level_seconds, Some(30));
    assert_eq!(
        (
            sales.handled_short,
            sales.handled_long,
            sales.abandoned_short,
            sales.service_level_pct
        ),
        (None, None, None, None)
    );
    assert_eq!(sales.service_levels.len(), 2);
}

#[test]
fn thresholds_are_ascending_whatever_the_column_order() {
    let csv = "\
Service level 60 seconds,Queue,Contacts answered in 60 seconds,StartInterval,Contacts answered in 20 seconds,EndInterval,Contacts handled,Service level 20 seconds
50%,Sales,5,2026-11-20T10:15:00Z,2,2026-11-20T10:30:00Z,10,20%
";
    let q = queue(one(QR_KEY, csv));
    let seconds: Vec<u32> = q.service_levels.iter().map(|sl| sl.seconds).collect();
    assert_eq!(seconds, [20, 60]);
    assert_eq!(q.service_levels[0].answered, Some(2));
    assert_eq!(q.service_levels[1].answered, Some(5));
    assert_eq!(q.service_levels[0].abandoned, None);
    assert_eq!(
        (q.service_level_seconds, q.handled_short, q.handled_long),
        (Some(20), Some(2), Some(8))
    );
    assert_eq!(q.service_level_pct, Some(20.0));
    // No abandoned columns at all: abandoned and its split are null, never 0.
    assert_eq!((q.abandoned, q.abandoned_short, q.abandoned_long), (None, None, None));
}

#[test]
fn no_threshold_columns_leave_sla_fields_null() {
    let csv = "StartInterval,EndInterval,Queue,Contacts handled\n2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,3\n";
    let q = queue(one(QR_KEY, csv));
    assert_eq!(
        (q.service_level_seconds, q.service_level_pct, q.handled_short),
        (None, None, None)
    );
    assert_eq!(q.handled_long, None);
    assert!(q.service_levels.is_empty());
    assert_eq!((q.talk_time_s, q.handle_time_s, q.queue_delay_s), (None, None, None));
}

#[test]
fn derived_fields_never_go_below_zero_and_need_all_parts() {
    let csv = "\
StartInterval,EndInterval,Queue,Contacts handled,Contacts answered in 20 seconds,Contacts abandoned,Contacts abandoned in 20 seconds,Agent interaction time,After contact work time,Average queue answer time
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,3,5,1,4,100,20,
";
    // No hold time column: handle time lacks a part. An empty average: no queue delay.
    let q = queue(one(QR_KEY, csv));
    assert_eq!((q.handled_short, q.handled_long), (Some(5), Some(0)));
    assert_eq!((q.abandoned_short, q.abandoned_long), (Some(4), Some(0)));
    assert_eq!(q.handle_time_s, None);
    assert_eq!(q.queue_delay_s, None);
}

#[test]
fn agent_queue_report_maps_every_field() {
    let r = agent_queue(one(AQR_KEY, AQR));
    assert_eq!((r.kind, r.schema, &*r.instance), ("agent_queue_interval", 1, "acme"));
    assert_eq!(r.agent_login, "jdoe");
    assert_eq!(r.agent_id, None);
    assert_eq!(r.queue, "Sales");
    assert_eq!(r.interval_start.to_rfc3339(), "2026-11-20T10:15:00+00:00");
    assert_eq!(r.interval_minutes, 15);
    assert_eq!(r.handled, Some(7));
    assert_eq!(r.talk_time_s, Some(901));
    assert_eq!(r.hold_time_s, Some(62));
    assert_eq!(r.acw_time_s, Some(183));
    assert_eq!(r.handle_time_s, Some(1146));
    assert_eq!(
        [
            r.right_party_contacts,
            r.right_party_handle_time_s,
            r.wrong_party_contacts,
            r.wrong_party_handle_time_s
        ],
        [None; 4]
    );
    assert!(r.active);
    assert_eq!(r.source.line, 2);
}

#[test]
fn agent_system_report_maps_every_field() {
    let r = agent(one(ASPR_KEY, ASPR));
    assert_eq!((r.kind, r.schema, &*r.instance), ("agent_interval", 1, "acme"));
    assert_eq!(r.agent_login, "jdoe");
    assert_eq!(r.agent_id, None);
    assert_eq!(r.interval_minutes, 15);
    assert_eq!(r.login_time_s, Some(900));
    assert_eq!(r.not_ready_time_s, Some(240));
    assert_eq!(r.ready_time_s, Some(660));
    assert_eq!(r.idle_time_s, Some(121));
    assert_eq!(r.on_contact_time_s, Some(539));
    assert!(r.active);

    let csv = "StartInterval,EndInterval,Agent,Online time,Non-Productive Time\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,a,100,250\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,b,100,-\n";
    let records = read(ASPR_KEY, csv);
    assert_eq!(agent(records[0].clone()).ready_time_s, Some(0));
    // `-` in a duration column the report has is 0; a column it lacks is null.
    assert_eq!(agent(records[1].clone()).not_ready_time_s, Some(0));
    assert_eq!(agent(records[1].clone()).ready_time_s, Some(100));
    assert_eq!(agent(records[1].clone()).idle_time_s, None);
}

#[test]
fn record_accessors_and_agent_id() {
    let mut r = one(AQR_KEY, AQR);
    assert_eq!(r.kind(), ReportKind::AgentQueue);
    assert_eq!(r.feed_kind(), "agent_queue_interval");
    assert_eq!(r.agent_login(), Some("jdoe"));
    assert_eq!(r.queue(), Some("Sales"));
    assert_eq!(r.interval_start().to_rfc3339(), "2026-11-20T10:15:00+00:00");
    r.set_agent_id(Some("agent-42".into()));
    assert_eq!(agent_queue(r).agent_id.as_deref(), Some("agent-42"));

    let mut r = one(ASPR_KEY, ASPR);
    r.set_agent_id(Some("agent-7".into()));
    assert_eq!(r.agent_login(), Some("jdoe"));
    assert_eq!(r.queue(), None);
    assert_eq!(agent(r).agent_id.as_deref(), Some("agent-7"));

    let mut q = one(QR_KEY, QR);
    q.set_agent_id(Some("x".into()));
    assert_eq!(
        (q.kind(), q.agent_login(), q.source().unwrap().line),
        (ReportKind::Queue, None, 2)
    );
    assert!(q.active());
}

#[test]
fn exact_json_of_a_queue_interval() {
    let record = one(QR_KEY, QR);
    let expected = json!({
        "kind": "queue_interval", "schema": 1, "basis": "report", "instance": "acme", "queue": "Sales",
        "interval_start": "2026-11-20T10:15:00Z", "interval_minutes": 15,
        "contacts_received": 17, "handled": 13, "handled_short": 8, "handled_long": 5,
        "abandoned": 4, "abandoned_short": 1, "abandoned_long": 3,
        "talk_time_s": 1501, "hold_time_s": 122, "acw_time_s": 303, "handle_time_s": 1926,
        "queue_delay_s": 163, "service_level_seconds": 20, "service_level_pct": 61.54,
        "service_levels": [
            { "seconds": 20, "answered": 8, "abandoned": 1, "pct": 61.54 },
            { "seconds": 60, "answered": 12, "abandoned": 3, "pct": 92.31 }
        ],
        "backlog": null, "backlog_expired": null, "backlog_not_expired": null,
        "right_party_contacts": null, "right_party_handle_time_s": null,
        "wrong_party_contacts": null, "wrong_party_handle_time_s": null,
        "active": true,
        "source": { "bucket": "b", "key": QR_KEY, "line": 2 }
    });
    assert_eq!(serde_json::to_value(&record).unwrap(), expected);
    assert_eq!(
        serde_json::to_string(&record).unwrap(),
        in_feed_order(&expected, QUEUE_FIELDS)
    );
}

#[test]
fn exact_json_of_an_agent_queue_interval() {
    let mut record = one(AQR_KEY, AQR);
    let expected = json!({
        "kind": "agent_queue_interval", "schema": 1, "basis": "report", "instance": "acme",
        "agent_login": "jdoe", "agent_id": null, "queue": "Sales",
        "interval_start": "2026-11-20T10:15:00Z", "interval_minutes": 15,
        "handled": 7, "talk_time_s": 901, "hold_time_s": 62, "acw_time_s": 183, "handle_time_s": 1146,
        "right_party_contacts": null, "right_party_handle_time_s": null,
        "wrong_party_contacts": null, "wrong_party_handle_time_s": null,
        "active": true,
        "source": { "bucket": "b", "key": AQR_KEY, "line": 2 }
    });
    assert_eq!(serde_json::to_value(&record).unwrap(), expected);
    assert_eq!(
        serde_json::to_string(&record).unwrap(),
        in_feed_order(&expected, AGENT_QUEUE_FIELDS)
    );
    record.set_agent_id(Some("a-1".into()));
    assert_eq!(serde_json::to_value(&record).unwrap()["agent_id"], "a-1");
}

#[test]
fn exact_json_of_an_agent_interval() {
    let record = one(ASPR_KEY, ASPR);
    let expected = json!({
        "kind": "agent_interval", "schema": 1, "basis": "report", "instance": "acme",
        "agent_login": "jdoe", "agent_id": null,
        "interval_start": "2026-11-20T10:15:00Z", "interval_minutes": 15,
        "login_time_s": 900, "not_ready_time_s": 240, "ready_time_s": 660,
        "idle_time_s": 121, "on_contact_time_s": 539,
        "active": true,
        "source": { "bucket": "b", "key": ASPR_KEY, "line": 2 }
    });
    assert_eq!(serde_json::to_value(&record).unwrap(), expected);
    assert_eq!(
        serde_json::to_string(&record).unwrap(),
        in_feed_order(&expected, AGENT_FIELDS)
    );
}

/// feed.md's field order of each kind.
const QUEUE_FIELDS: &[&str] = &[
    "kind",
    "schema",
    "basis",
    "instance",
    "queue",
    "interval_start",
    "interval_minutes",
    "contacts_received",
    "handled",
    "handled_short",
    "handled_long",
    "abandoned",
    "abandoned_short",
    "abandoned_long",
    "talk_time_s",
    "hold_time_s",
    "acw_time_s",
    "handle_time_s",
    "queue_delay_s",
    "service_level_seconds",
    "service_level_pct",
    "service_levels",
    "backlog",
    "backlog_expired",
    "backlog_not_expired",
    "right_party_contacts",
    "right_party_handle_time_s",
    "wrong_party_contacts",
    "wrong_party_handle_time_s",
    "active",
    "source",
];
const AGENT_QUEUE_FIELDS: &[&str] = &[
    "kind",
    "schema",
    "basis",
    "instance",
    "agent_login",
    "agent_id",
    "queue",
    "interval_start",
    "interval_minutes",
    "handled",
    "talk_time_s",
    "hold_time_s",
    "acw_time_s",
    "handle_time_s",
    "right_party_contacts",
    "right_party_handle_time_s",
    "wrong_party_contacts",
    "wrong_party_handle_time_s",
    "active",
    "source",
];
const AGENT_FIELDS: &[&str] = &[
    "kind",
    "schema",
    "basis",
    "instance",
    "agent_login",
    "agent_id",
    "interval_start",
    "interval_minutes",
    "login_time_s",
    "not_ready_time_s",
    "ready_time_s",
    "idle_time_s",
    "on_contact_time_s",
    "active",
    "source",
];

/// The compact JSON text of `value` with its top-level keys in `order` (nested objects in the
/// order the records declare them: service levels `seconds, answered, abandoned, pct`,
/// source `bucket, key, line`), which must be exactly the value's keys.
fn in_feed_order(value: &Value, order: &[&str]) -> String {
    let object = value.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut wanted = order.to_vec();
    wanted.sort_unstable();
    assert_eq!(keys, wanted, "feed.md field set");
    let nested = |v: &Value, order: &[&str]| -> String {
        let parts: Vec<String> = order
            .iter()
            .map(|k| format!("{}:{}", serde_json::to_string(k).unwrap(), v[*k]))
            .collect();
        format!("{{{}}}", parts.join(","))
    };
    let parts: Vec<String> = order
        .iter()
        .map(|k| {
            let v = &object[*k];
            let text = match *k {
                "source" => nested(v, &["bucket", "key", "line"]),
                "service_levels" => {
                    let items: Vec<String> = v
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|sl| nested(sl, &["seconds", "answered", "abandoned", "pct"]))
                        .collect();
                    format!("[{}]", items.join(","))
                }
                _ => v.to_string(),
            };
            format!("{}:{text}", serde_json::to_string(k).unwrap())
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

#[test]
fn header_variants_read_the_same_record() {
    let canonical = queue(one(QR_KEY, QR));
    let variants = [
        // BOM, odd case, extra and inner spaces.
        "\u{feff}startinterval,  ENDINTERVAL ,queue,contacts   QUEUED,Contacts Handled,CONTACTS ABANDONED,\
         contacts answered in 20 seconds,Contacts abandoned in  20 seconds,service level 20 seconds,\
         Contacts answered in 60 seconds,Contacts abandoned in 60 seconds,Service Level 60 Seconds,\
         agent interaction time,customer hold time,after contact work time,average queue answer time\n\
         2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,17,13,4,8,1,61.54%,12,3,92.31%,1501,122,303,12.5\n",
        // Parentheses, reordered columns, unknown columns.
        "Contacts missed,Queue (Name),Agent interaction time (Seconds),Customer hold time,After contact work time,\
         Average queue answer time,Service level 60 seconds,Service level 20 seconds (Voice),\
         Contacts answered in 60 seconds,Contacts answered in 20 seconds,Contacts abandoned in 60 seconds,\
         Contacts abandoned in 20 seconds,Contacts abandoned,Contacts handled (Incoming),Contacts queued,\
         EndInterval,StartInterval,Something new\n\
         99,Sales,1501,122,303,12.5,92.31%,61.54%,12,8,3,1,4,13,17,2026-11-20T10:30:00Z,2026-11-20T10:15:00Z,x\n",
    ];
    for csv in variants {
        let mut q = queue(one(QR_KEY, csv));
        q.source = canonical.source.clone();
        assert_eq!(q, canonical, "{csv}");
    }
}

#[test]
fn a_duplicated_column_that_is_read_is_an_error_naming_it_and_others_are_ignored() {
    let csv = "StartInterval,EndInterval,Queue,Contacts handled,contacts  handled\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,3,99\n";
    let error = ReportReader::new(
        csv.as_bytes(),
        ReportSource::new("b", QR_KEY),
        None,
        None,
        &ReportMapping::default(),
    )
    .err()
    .expect("a duplicated metric column is refused")
    .to_string();
    assert!(
        error.ends_with("line 1: column `Contacts handled` appears more than once (columns 4 and 5)"),
        "{error}"
    );
    // A column nobody reads may repeat.
    let csv = "StartInterval,EndInterval,Queue,Contacts handled,Notes,Notes\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,3,a,b\n";
    assert_eq!(queue(one(QR_KEY, csv)).handled, Some(3));
}

#[test]
fn interval_start_is_a_whole_minute_even_when_the_report_has_seconds() {
    let csv = "StartInterval,EndInterval,Queue,Contacts handled\n\
               2026-11-20T10:14:59.999Z,2026-11-20T10:30:00Z,Sales,1\n\
               2026-11-20T10:30:20Z,2026-11-20T10:45:00Z,Sales,1\n";
    let records: Vec<_> = read(QR_KEY, csv).into_iter().map(queue).collect();
    let starts: Vec<String> = records
        .iter()
        .map(|q| {
            serde_json::to_value(q).unwrap()["interval_start"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(starts, ["2026-11-20T10:15:00Z", "2026-11-20T10:30:00Z"]);
    assert_eq!(records[0].interval_minutes, 15);
    assert_eq!(records[1].interval_minutes, 15);
}

#[test]
fn non_utc_reports_convert_to_utc() {
    let plus_one = "StartInterval,EndInterval,Queue,Contacts handled\n\
                    2026-11-20T11:15:00+01:00,2026-11-20T11:30:00+01:00,Sales,1\n";
    let q = queue(one(QR_KEY, plus_one));
    assert_eq!(q.interval_start.to_rfc3339(), "2026-11-20T10:15:00+00:00");
    assert_eq!(q.interval_minutes, 15);

    // -05:00 across midnight UTC, and a half-hour interval.
    let minus_five = "StartInterval,EndInterval,Agent,Online time\n\
                      2026-11-20T21:30:00-05:00,2026-11-20T22:00:00-05:00,jdoe,1800\n";
    let r = agent(one(ASPR_KEY, minus_five));
    assert_eq!(r.interval_start.to_rfc3339(), "2026-11-21T02:30:00+00:00");
    assert_eq!(r.interval_minutes, 30);
    let json = serde_json::to_value(IntervalRecord::Agent(r)).unwrap();
    assert_eq!(json["interval_start"], "2026-11-21T02:30:00Z");

    // A space for T and no offset: UTC.
    let naive = "StartInterval,EndInterval,Queue\n2026-11-20 10:15:00,2026-11-20 10:30:00,Sales\n";
    assert_eq!(
        queue(one(QR_KEY, naive)).interval_start.to_rfc3339(),
        "2026-11-20T10:15:00+00:00"
    );
}

#[test]
fn value_formats_commas_decimals_percent_empty_and_dash() {
    let csv = "\
StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,Agent interaction time,Customer hold time,After contact work time,Service level 20 seconds
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,\"Sales, EMEA\",\"1,234\",12.0,-,\"12,345.6\",,-,85.71%
";
    let q = queue(one(QR_KEY, csv));
    assert_eq!(q.queue.as_deref(), Some("Sales, EMEA"));
    assert_eq!(q.contacts_received, Some(1234));
    assert_eq!(q.handled, Some(12));
    // `-` and empty in count and duration columns: 0 (Connect leaves zeros empty).
    assert_eq!(q.abandoned, Some(0));
    assert_eq!(q.talk_time_s, Some(12346));
    assert_eq!(
        (q.hold_time_s, q.acw_time_s, q.handle_time_s),
        (Some(0), Some(0), Some(12346))
    );
    assert_eq!(q.service_level_pct, Some(85.71));
    let json = serde_json::to_value(IntervalRecord::Queue(q)).unwrap();
    assert_eq!(json["service_level_pct"], json!(85.71));
    assert_eq!(json["abandoned"], json!(0));
    assert_eq!(json["hold_time_s"], json!(0));
    // A metric column the report lacks: null, never 0.
    assert_eq!(json["queue_delay_s"], Value::Null);
}

#[test]
fn active_is_any_count_or_time_above_zero() {
    let qr = "StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,Agent interaction time,Service level 20 seconds\n\
              2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Idle,0,0,-,0,100%\n\
              2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Queued,1,0,0,0,\n\
              2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Abandoned,0,0,1,0,\n\
              2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Talk,0,0,0,30,\n";
    let active: Vec<bool> = read(QR_KEY, qr).iter().map(IntervalRecord::active).collect();
    assert_eq!(active, [false, true, true, true]);

    let aqr = "StartInterval,EndInterval,Agent,Queue,Contacts handled,After contact work time\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,a,Q,0,0\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,b,Q,0,45\n";
    let active: Vec<bool> = read(AQR_KEY, aqr).iter().map(IntervalRecord::active).collect();
    assert_eq!(active, [false, true]);

    let aspr = "StartInterval,EndInterval,Agent,Online time,Agent idle time\n\
                2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,a,0,0\n\
                2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,b,-,\n\
                2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,c,600,0\n";
    let active: Vec<bool> = read(ASPR_KEY, aspr).iter().map(IntervalRecord::active).collect();
    assert_eq!(active, [false, false, true]);
}

#[test]
fn summary_rows_are_skipped_and_counted() {
    let csv = "StartInterval,EndInterval,Queue,Contacts handled\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,3\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,,3\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,-,3\n\
               ,,Total,6\n\
               \n\
               2026-11-20T10:30:00Z,2026-11-20T10:45:00Z,Sales,4\n";
    let mut reader = ReportReader::new(
        csv.as_bytes(),
        ReportSource::new("b", QR_KEY),
        None,
        None,
        &ReportMapping::default(),
    )
    .unwrap();
    let records: Vec<IntervalRecord> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(reader.skipped_rows(), 3);
    // Line numbers count the header and the blank line.
    assert_eq!(records[1].source().unwrap().line, 7);

    // AQR: a per-agent subtotal with no queue is a summary too.
    let aqr = "StartInterval,EndInterval,Agent,Queue,Contacts handled\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,,3\n";
    assert!(read(AQR_KEY, aqr).is_empty());
}

#[test]
fn a_quoted_line_break_keeps_line_numbers_right() {
    let csv = "StartInterval,EndInterval,Queue,Contacts handled\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,\"Two\nLines\",3\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,abc\n";
    let mut reader = ReportReader::new(
        csv.as_bytes(),
        ReportSource::new("b", QR_KEY),
        None,
        None,
        &ReportMapping::default(),
    )
    .unwrap();
    let first = reader.next().unwrap().unwrap();
    assert_eq!((first.queue(), first.source().unwrap().line), (Some("Two\nLines"), 2));
    let err = reader.next().unwrap().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("s3://b/{QR_KEY} line 4 column `Contacts handled`: `abc` is not a number")
    );
    assert!(reader.next().is_none(), "the iterator ends after an error");
}

#[test]
fn kind_comes_from_the_name_else_the_grouping_columns() {
    let mapping = ReportMapping::default();
    let kind = |key: &str, header: &str, forced: Option<ReportKind>| {
        ReportReader::new(header.as_bytes(), ReportSource::new("b", key), forced, None, &mapping).map(|r| r.kind())
    };
    let untagged = "connect/acme/Reports/Scheduled-2026-11-20T10:30:00Z.csv";
    assert_eq!(
        kind(untagged, "StartInterval,EndInterval,Queue\n", None).unwrap(),
        ReportKind::Queue
    );
    assert_eq!(
        kind(untagged, "StartInterval,EndInterval,Agent,Queue\n", None).unwrap(),
        ReportKind::AgentQueue
    );
    assert_eq!(
        kind(untagged, "StartInterval,EndInterval,Agent\n", None).unwrap(),
        ReportKind::AgentSystem
    );
    // The name wins over the columns: an AQR named file with an extra Agent column stays AQR,
    // and an ASPR named file needs no Queue.
    assert_eq!(
        kind(AQR_KEY, "StartInterval,EndInterval,Agent,Queue\n", None).unwrap(),
        ReportKind::AgentQueue
    );
    assert_eq!(
        kind(QR_KEY, "StartInterval,EndInterval,Agent,Queue\n", None).unwrap(),
        ReportKind::Queue
    );
    assert_eq!(
        kind(ASPR_KEY, "StartInterval,EndInterval,Agent\n", None).unwrap(),
        ReportKind::AgentSystem
    );
    // A forced kind wins over the name.
    assert_eq!(
        kind(
            QR_KEY,
            "StartInterval,EndInterval,Agent\n",
            Some(ReportKind::AgentSystem)
        )
        .unwrap(),
        ReportKind::AgentSystem
    );
    let err = kind(untagged, "StartInterval,EndInterval,Contacts handled\n", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "s3://b/connect/acme/Reports/Scheduled-2026-11-20T10:30:00Z.csv: missing grouping column `Queue` or \
         `Agent` (the file name has no report-kind tag such as QR, AQR or ASPR)"
    );
}

#[test]
fn instance_is_forced_else_from_the_key_else_configured_else_the_bucket() {
    let header = "StartInterval,EndInterval,Queue\n".as_bytes();
    let mut configured = ReportMapping::default();
    configured.merge_json(json!({ "instance": "configured" })).unwrap();
    let instance = |key: &str, forced: Option<&str>, mapping: &ReportMapping| {
        let source = ReportSource::new("my-bucket", key);
        let reader = ReportReader::new(header, source, None, forced.map(str::to_owned), mapping).unwrap();
        reader.instance().to_owned()
    };
    let default = ReportMapping::default();
    assert_eq!(instance(QR_KEY, Some("forced"), &configured), "forced");
    assert_eq!(instance(QR_KEY, None, &configured), "acme");
    assert_eq!(instance("exports/QR.csv", None, &configured), "configured");
    assert_eq!(instance("exports/QR.csv", None, &default), "my-bucket");
    let local = ReportReader::new(header, ReportSource::new("", "/tmp/QR.csv"), None, None, &default).unwrap();
    assert_eq!(local.instance(), "unknown");
}

#[test]
fn configured_column_names_are_used() {
    let mut mapping = ReportMapping::default();
    mapping
        .merge_json(json!({
            "columns": {
                "contacts_handled": "Handled contacts",
                "queue": ["Queue", "Queue name"],
                "contacts_answered_in": "Answered within {X}s"
            },
            "kind_patterns": { "QR": "queue-report" }
        }))
        .unwrap();
    let csv = "StartInterval,EndInterval,Queue name,Handled contacts,Contacts handled,Answered within 30s\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,9,1,4\n";
    let key = "exports/daily-queue-report.csv";
    let reader = ReportReader::new(csv.as_bytes(), ReportSource::new("b", key), None, None, &mapping).unwrap();
    assert_eq!(reader.kind(), ReportKind::Queue);
    assert_eq!(reader.thresholds(), [30]);
    let q = queue(reader.map(Result::unwrap).next().unwrap());
    assert_eq!(
        (q.queue.as_deref().unwrap(), q.handled, q.handled_short, q.handled_long),
        ("Sales", Some(9), Some(4), Some(5))
    );
}

#[test]
fn header_only_is_zero_records_and_no_error() {
    assert!(read(QR_KEY, "StartInterval,EndInterval,Queue,Contacts handled\n").is_empty());
    assert!(read(QR_KEY, "StartInterval,EndInterval,Queue,Contacts handled").is_empty());
}

#[test]
fn line_numbers_are_exact_for_lf_crlf_blank_lines_and_an_unterminated_last_line() {
    let row = |queue: &str| format!("2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,{queue},1");
    for newline in ["\n", "\r\n"] {
        for last in ["", newline] {
            let lines = [
                "StartInterval,EndInterval,Queue,Contacts handled".to_owned(),
                String::new(),
                row("A"),
                row(&format!("\"B{newline}B\"")),
                "   ".to_owned(),
                row("\"C\""),
            ];
            let csv = format!("{}{last}", lines.join(newline));
            let records = read(QR_KEY, &csv);
            let found: Vec<(String, u64)> = records
                .iter()
                .map(|r| (r.queue().unwrap().to_owned(), r.source().unwrap().line))
                .collect();
            let b = format!("B{newline}B");
            assert_eq!(found, [("A".to_owned(), 3), (b, 4), ("C".to_owned(), 7)], "{csv:?}");
        }
    }
    // Errors use the same numbering.
    let csv = "\r\nStartInterval,EndInterval,Queue\r\n\r\n2026-11-20T10:15:00Z,2026-11-20T10:30:00Z\r\n";
    let err = read_with(QR_KEY, csv, &ReportMapping::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("s3://b/{QR_KEY} line 4: the row has 2 fields, the header has 3")
    );
}

#[test]
fn reader_and_records_cross_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<ReportReader<connect_wfm_core::ports::ObjectReader>>();
    send_sync::<IntervalRecord>();
    send_sync::<ReportError>();
    send_sync::<ReportMapping>();
}

#[test]
fn the_mapping_file_reaches_the_reader() {
    let file = br#"{ "reports": { "columns": { "contacts_handled": "Handled" }, "sla_seconds": { "Sales": 60 } } }"#;
    let mapping = connect_wfm_core::Mapping::from_json(file, "m.json").unwrap();
    let csv = "StartInterval,EndInterval,Queue,Handled,Contacts answered in 20 seconds,Contacts answered in 60 seconds\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,10,4,9\n";
    let q = queue(read_with(QR_KEY, csv, &mapping.reports).unwrap().remove(0));
    assert_eq!(
        (q.handled, q.service_level_seconds, q.handled_short, q.handled_long),
        (Some(10), Some(60), Some(9), Some(1))
    );

    let err = connect_wfm_core::Mapping::from_json(br#"{ "reports": { "colums": {} } }"#, "m.json").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("mapping file m.json: reports.colums: unknown field `colums`"),
        "{err}"
    );
}
