//! What a batch did, declared once: [`counts!`] turns one list of fields into the struct of a
//! handler's counts, the CloudWatch metric each field feeds (if any), and the one log line that
//! says them all. A new metric is one line in that list, not an edit in three places (the
//! struct, the metric calls, the log fields) that can drift apart.

/// Declares a struct of counts (`usize` fields, each with its metric: `=> counter "Name"`,
/// `=> gauge "Name"`, or none for a count that is only logged), then after `;` any other
/// fields. It gets `Debug`, `Clone`, `Default`, `PartialEq`, `Eq`, and:
/// - `record_counts(&self)`: every metric field into the process's metrics recorder (the EMF
///   recorder in Lambda; nothing elsewhere);
/// - `log_counts(&self, message)`: one INFO line with every count.
macro_rules! counts {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident $(=> $kind:ident $metric:literal)? ),* $(,)?
            $( ; $( $(#[$xmeta:meta])* $xfield:ident : $xty:ty ),* $(,)? )?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        $vis struct $name {
            $( $(#[$fmeta])* pub $field: usize, )*
            $( $( $(#[$xmeta])* pub $xfield: $xty, )* )?
        }

        impl $name {
            /// Every count that is a metric, into the process's metrics recorder.
            pub fn record_counts(&self) {
                $( $( $crate::counts::record!($kind, $metric, self.$field); )? )*
            }

            /// One INFO line with every count and `message`.
            pub fn log_counts(&self, message: &'static str) {
                tracing::info!($( $field = self.$field, )* "{message}");
            }
        }
    };
}

/// One metric of [`counts!`]. CloudWatch bills a custom metric for every hour in which it is
/// published, so a process that has only zeros to say publishes nothing (the alarms read
/// missing data as not breaching): a counter is recorded when it is not zero; a gauge from its
/// first value that is not zero on, zeros included (the recorder publishes a gauge at every
/// flush once it has one, so a gauge that went back to zero must say so).
macro_rules! record {
    (counter, $metric:literal, $value:expr) => {
        if $value > 0 {
            metrics::counter!($metric).increment($value as u64)
        }
    };
    (gauge, $metric:literal, $value:expr) => {{
        static PUBLISHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if $value > 0 || PUBLISHED.load(std::sync::atomic::Ordering::Relaxed) {
            PUBLISHED.store(true, std::sync::atomic::Ordering::Relaxed);
            metrics::gauge!($metric).set($value as f64)
        }
    }};
}

pub(crate) use {counts, record};

/// The histogram `EventLagSeconds`: `now` − the newest input time of a batch (when it had one).
pub(crate) fn record_lag(now: chrono::DateTime<chrono::Utc>, newest: Option<chrono::DateTime<chrono::Utc>>) {
    if let Some(newest) = newest {
        let lag = (now - newest).num_milliseconds() as f64 / 1000.0;
        metrics::histogram!("EventLagSeconds").record(lag.max(0.0));
    }
}

#[cfg(test)]
mod tests {
    counts! {
        /// Counts of a test.
        struct Example {
            seen => counter "Seen",
            level => gauge "Level",
            logged_only,
            ;
            note: Option<String>,
        }
    }

    #[test]
    fn the_struct_has_every_field_and_records_only_the_metrics() {
        let example = Example {
            seen: 2,
            level: 5,
            logged_only: 7,
            note: Some("n".into()),
        };
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || example.record_counts());
        let mut seen: Vec<(String, String)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| (key.key().name().to_owned(), format!("{value:?}")))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("Level".to_owned(), "Gauge(5.0)".to_owned()),
                ("Seen".to_owned(), "Counter(2)".to_owned())
            ]
        );
        example.log_counts("example");
    }
}
