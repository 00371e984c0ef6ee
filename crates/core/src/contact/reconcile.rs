//! Reconciliation: when Connect's report for an interval arrives, how far the stream basis of
//! the same instance, queue and interval was from it, field by field (for metrics and a log
//! line, so an operator sees drift).

use std::fmt;

use chrono::{DateTime, Utc};

use super::interval::StreamQueueInterval;
use crate::report::QueueInterval;

/// Two percentages closer than this are equal (both are written with two decimals).
const PCT_TOLERANCE: f64 = 0.005;

/// One field both bases define, with each basis's value.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldComparison {
    /// The feed field: `handled`, `service_levels[20].pct`, ...
    pub field: String,
    /// The report basis's value.
    pub report: Option<f64>,
    /// The stream basis's value.
    pub stream: Option<f64>,
}

impl FieldComparison {
    /// Whether the bases disagree (one null and the other not counts as disagreeing).
    pub fn differs(&self) -> bool {
        match (self.report, self.stream) {
            (Some(r), Some(s)) => (r - s).abs() > PCT_TOLERANCE,
            (None, None) => false,
            _ => true,
        }
    }

    /// stream − report, when both are present.
    pub fn delta(&self) -> Option<f64> {
        Some(self.stream? - self.report?)
    }
}

/// The comparison of one report-basis record with the stream-basis record of the same
/// instance, queue and interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciliation {
    /// The instance (alias).
    pub instance: String,
    /// The queue name (the report's).
    pub queue: String,
    /// The stream record's queue id.
    pub queue_id: String,
    /// The interval.
    pub interval_start: DateTime<Utc>,
    /// Every field both bases define, in feed order.
    pub fields: Vec<FieldComparison>,
}

impl Reconciliation {
    /// The fields on which the bases disagree.
    pub fn differences(&self) -> impl Iterator<Item = &FieldComparison> {
        self.fields.iter().filter(|f| f.differs())
    }

    /// Whether the bases agree on every field.
    pub fn agrees(&self) -> bool {
        self.differences().next().is_none()
    }
}

fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "null".to_owned(), |v| v.to_string())
}

/// One log line: `queue_interval drift instance=acme queue=Support queue_id=q1
/// interval_start=2026-11-20T10:15:00Z handled: report=6 stream=5; ...` (or `agrees`).
impl fmt::Display for Reconciliation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "queue_interval reconciliation instance={} queue={} queue_id={} interval_start={}:",
            self.instance,
            self.queue,
            self.queue_id,
            crate::timefmt::feed_timestamp(&self.interval_start)
        )?;
        write_differences(f, self.differences())
    }
}

/// ` field report=… stream=…;` for each difference, or ` agrees`: the end of a reconciliation's
/// log line (queue and agent intervals alike).
pub fn write_differences<'a>(
    f: &mut fmt::Formatter<'_>,
    differences: impl Iterator<Item = &'a FieldComparison>,
) -> fmt::Result {
    let mut any = false;
    for diff in differences {
        write!(
            f,
            " {} report={} stream={};",
            diff.field,
            show(diff.report),
            show(diff.stream)
        )?;
        any = true;
    }
    if !any {
        f.write_str(" agrees")?;
    }
    Ok(())
}

/// The two records are not of the same queue and interval.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    /// Different interval starts or lengths.
    #[error("different intervals: report {report}, stream {stream}")]
    Interval {
        /// The report's start and length.
        report: String,
        /// The stream's.
        stream: String,
    },
    /// Different instances.
    #[error("different instances: report `{report}`, stream `{stream}`")]
    Instance {
        /// The report's instance.
        report: String,
        /// The stream's instance alias.
        stream: String,
    },
    /// Different queues (the stream record's name is known and differs).
    #[error("different queues: report `{report}`, stream `{stream}`")]
    Queue {
        /// The report's queue name.
        report: String,
        /// The stream's queue name.
        stream: String,
    },
}

fn int(value: Option<i64>) -> Option<f64> {
    value.map(|v| v as f64)
}

/// Compares a report-basis record with the stream-basis record of the same instance, queue
/// and interval, on every field both define: the counts, durations, queue delay, the SLA
/// threshold and percentage, and each threshold both carry (`service_levels[X].answered`,
/// `.abandoned`, `.pct`). A stream record whose queue name is still unknown is taken to be the
/// report's queue (the caller matched them by key).
pub fn reconcile(report: &QueueInterval, stream: &StreamQueueInterval) -> Result<Reconciliation, ReconcileError> {
    if report.interval_start != stream.interval_start || report.interval_minutes != stream.interval_minutes {
        let show =
            |start: &DateTime<Utc>, minutes: u32| format!("{} +{minutes} min", crate::timefmt::feed_timestamp(start));
        return Err(ReconcileError::Interval {
            report: show(&report.interval_start, report.interval_minutes),
            stream: show(&stream.interval_start, stream.interval_minutes),
        });
    }
    if report.instance != stream.instance && stream.instance_id.as_deref() != Some(&*report.instance) {
        return Err(ReconcileError::Instance {
            report: report.instance.to_string(),
            stream: stream.instance.to_string(),
        });
    }
    let report_queue = report.queue.clone().unwrap_or_default();
    if let Some(name) = &stream.queue {
        if *name != report_queue {
            return Err(ReconcileError::Queue {
                report: report_queue,
                stream: name.clone(),
            });
        }
    }
    // A report row where nothing was handled leaves the durations and the average answer time
    // empty (`-`): the stream's sums over no handled leg are 0. Both say "none", so the report's
    // null reads as 0 there.
    let nothing_handled = report.handled == Some(0);
    let none_is_zero = |value: Option<i64>| if nothing_handled { value.or(Some(0)) } else { value };
    let mut fields = Vec::new();
    let mut push = |field: &str, report: Option<f64>, stream: Option<f64>| {
        fields.push(FieldComparison {
            field: field.to_owned(),
            report,
            stream,
        })
    };
    push(
        "contacts_received",
        int(report.contacts_received),
        int(stream.contacts_received),
    );
    push("handled", int(report.handled), int(stream.handled));
    push("handled_short", int(report.handled_short), int(stream.handled_short));
    push("handled_long", int(report.handled_long), int(stream.handled_long));
    push("abandoned", int(report.abandoned), int(stream.abandoned));
    push(
        "abandoned_short",
        int(report.abandoned_short),
        int(stream.abandoned_short),
    );
    push("abandoned_long", int(report.abandoned_long), int(stream.abandoned_long));
    push(
        "talk_time_s",
        int(none_is_zero(report.talk_time_s)),
        int(stream.talk_time_s),
    );
    push(
        "hold_time_s",
        int(none_is_zero(report.hold_time_s)),
        int(stream.hold_time_s),
    );
    push(
        "acw_time_s",
        int(none_is_zero(report.acw_time_s)),
        int(stream.acw_time_s),
    );
    push(
        "handle_time_s",
        int(none_is_zero(report.handle_time_s)),
        int(stream.handle_time_s),
    );
    push(
        "queue_delay_s",
        int(none_is_zero(report.queue_delay_s)),
        int(stream.queue_delay_s),
    );
    push(
        "service_level_seconds",
        report.service_level_seconds.map(f64::from),
        stream.service_level_seconds.map(f64::from),
    );
    push("service_level_pct", report.service_level_pct, stream.service_level_pct);
    for r in &report.service_levels {
        let Some(s) = stream.service_levels.iter().find(|s| s.seconds == r.seconds) else {
            continue;
        };
        let x = r.seconds;
        push(
            &format!("service_levels[{x}].answered"),
            int(r.answered),
            int(s.answered),
        );
        push(
            &format!("service_levels[{x}].abandoned"),
            int(r.abandoned),
            int(s.abandoned),
        );
        push(&format!("service_levels[{x}].pct"), r.pct, s.pct);
    }
    Ok(Reconciliation {
        instance: stream.instance.to_string(),
        queue: report_queue,
        queue_id: stream.queue_id.clone().unwrap_or_default(),
        interval_start: report.interval_start,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::sim::{SliceSpec, simulate};
    use crate::contact::{LegBook, StreamSettings, decode_contact_input};
    use crate::report::{IntervalRecord, ReportMapping, ReportReader, ReportSource};

    fn report(csv: &str) -> QueueInterval {
        let source = ReportSource::new("b", "connect/acme/Reports/wfm/QR-x.csv");
        let mut reader = ReportReader::new(csv.as_bytes(), source, None, None, &ReportMapping::default()).unwrap();
        match reader.next().unwrap().unwrap() {
            IntervalRecord::Queue(q) => q,
            other => panic!("{other:?}"),
        }
    }

    /// The simulated slice's stream record of Support at its first interval with contacts.
    fn stream() -> StreamQueueInterval {
        let slice = simulate(&SliceSpec::default());
        let mut book = LegBook::default();
        for input in slice.inputs() {
            book.apply(&decode_contact_input(input).unwrap());
        }
        let settings = StreamSettings {
            instances: [("acme".to_owned(), slice.spec.instance_id.clone())].into(),
            ..StreamSettings::default()
        };
        book.records_now(&settings)
            .into_iter()
            .find(|r| r.queue.as_deref() == Some("Support") && r.handled > Some(1))
            .unwrap()
    }

    fn csv_of(s: &StreamQueueInterval, handled: i64) -> String {
        let opt = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
        format!(
            "StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,\
             Contacts answered in 20 seconds,Contacts abandoned in 20 seconds,Service level 20 seconds,\
             Agent interaction time,Customer hold time,After contact work time\n\
             {},{},Support,{},{handled},{},{},{},{}%,{},{},{}\n",
            crate::timefmt::interval_timestamp(&s.interval_start),
            crate::timefmt::interval_timestamp(&(s.interval_start + chrono::TimeDelta::minutes(15))),
            opt(s.contacts_received),
            opt(s.abandoned),
            opt(s.handled_short),
            opt(s.abandoned_short),
            s.service_level_pct.unwrap(),
            opt(s.talk_time_s),
            opt(s.hold_time_s),
            opt(s.acw_time_s),
        )
    }

    #[test]
    fn equal_records_agree_and_a_difference_is_named() {
        let stream = stream();
        let handled = stream.handled.unwrap();
        let same = reconcile(&report(&csv_of(&stream, handled)), &stream).unwrap();
        // No `Average queue answer time` column: the report's queue delay is null.
        let diffs: Vec<&str> = same.differences().map(|d| d.field.as_str()).collect();
        assert_eq!(diffs, ["queue_delay_s"]);
        let off = reconcile(&report(&csv_of(&stream, handled + 2)), &stream).unwrap();
        let handled_diff = off.differences().find(|d| d.field == "handled").unwrap();
        assert_eq!(handled_diff.delta(), Some(-2.0));
        let line = off.to_string();
        assert!(
            line.starts_with("queue_interval reconciliation instance=acme queue=Support"),
            "{line}"
        );
        assert!(
            line.contains(&format!("handled report={} stream={handled};", handled + 2)),
            "{line}"
        );
        assert!(line.contains("queue_delay_s report=null stream="), "{line}");
    }

    #[test]
    fn records_of_different_queues_or_intervals_are_refused() {
        let stream = stream();
        let csv = csv_of(&stream, stream.handled.unwrap()).replace(",Support,", ",Sales,");
        assert!(matches!(
            reconcile(&report(&csv), &stream),
            Err(ReconcileError::Queue { .. })
        ));
        let mut later = stream.clone();
        later.interval_start += chrono::TimeDelta::minutes(15);
        let csv = csv_of(&stream, stream.handled.unwrap());
        let err = reconcile(&report(&csv), &later).unwrap_err();
        assert!(err.to_string().starts_with("different intervals"), "{err}");
        let mut other_instance = stream.clone();
        other_instance.instance = "elsewhere".into();
        other_instance.instance_id = Some("other-id".into());
        assert!(matches!(
            reconcile(&report(&csv), &other_instance),
            Err(ReconcileError::Instance { .. })
        ));
    }
}
