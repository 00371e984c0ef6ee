//! Report kinds (QR, AQR, ASPR), where a report comes from, and what its S3 key tells us.

use std::fmt;

/// The three scheduled reports the connector reads, tagged by name in their file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum ReportKind {
    /// `QR`: queue report, one row per queue per interval → `queue_interval`.
    #[serde(rename = "QR")]
    Queue,
    /// `AQR`: agent queue report, one row per agent per queue per interval → `agent_queue_interval`.
    #[serde(rename = "AQR")]
    AgentQueue,
    /// `ASPR`: agent system performance report, one row per agent per interval → `agent_interval`.
    #[serde(rename = "ASPR")]
    AgentSystem,
}

impl ReportKind {
    /// Every kind, in tag order.
    pub const ALL: [ReportKind; 3] = [ReportKind::Queue, ReportKind::AgentQueue, ReportKind::AgentSystem];

    /// The file-name tag: `QR`, `AQR` or `ASPR`.
    pub fn tag(self) -> &'static str {
        match self {
            ReportKind::Queue => "QR",
            ReportKind::AgentQueue => "AQR",
            ReportKind::AgentSystem => "ASPR",
        }
    }

    /// The kind for a tag, case-insensitive (`qr`, `AQR`, `Aspr`); `None` for anything else.
    pub fn from_tag(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|kind| kind.tag().eq_ignore_ascii_case(s))
    }

    /// The feed record kind this report becomes (feed.md).
    pub fn feed_kind(self) -> &'static str {
        match self {
            ReportKind::Queue => "queue_interval",
            ReportKind::AgentQueue => "agent_queue_interval",
            ReportKind::AgentSystem => "agent_interval",
        }
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// Where a report came from: goes into each record's `source` and names the file in errors.
///
/// A local file (CLI) may use an empty `bucket`; errors then name the `key` (the path) alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSource {
    /// S3 bucket (empty for a local file).
    pub bucket: String,
    /// Object key, URL-decoded (or the local path).
    pub key: String,
}

impl ReportSource {
    /// A source from its bucket and key.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
        }
    }
}

impl fmt::Display for ReportSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bucket.is_empty() {
            f.write_str(&self.key)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.key)
        }
    }
}

/// Position of the `connect/<alias>/Reports` segments in a key, as the index of `connect`.
fn connect_prefix(segments: &[&str]) -> Option<usize> {
    segments.windows(3).position(|w| {
        w[0].eq_ignore_ascii_case("connect") && !w[1].trim().is_empty() && w[2].eq_ignore_ascii_case("reports")
    })
}

/// The instance alias from a key `connect/<alias>/Reports/...` (the shape Connect writes; the
/// three segments may also sit below a folder of the customer's). `None` for another shape.
pub fn instance_from_key(key: &str) -> Option<String> {
    let segments: Vec<&str> = key.split('/').collect();
    connect_prefix(&segments).map(|i| segments[i + 1].to_owned())
}

/// What tags a report file of each kind: the mapping's `kind_patterns`
/// (`crate::report::ReportMapping` implements it).
pub trait KindPatterns {
    /// Name patterns (lowercase) that tag a file of this kind.
    fn kind_patterns(&self, kind: ReportKind) -> &[String];
}

/// The report kind from the tag in the key.
///
/// A tag matches as a separate token, case-insensitive: the characters either side of it must
/// not be letters or digits, so `AQR-...` is not a `QR` and `my_ASPR_report.csv` is an `ASPR`.
/// The file name is searched first, then the folders from the innermost outward (the
/// `connect/<alias>` folders are skipped: an alias may look like a tag). A match lying inside a
/// longer match (pattern `queue` inside `agent-queue`) does not count; two different kinds in
/// the same segment are ambiguous: `None`, and the caller falls back to the grouping columns.
pub fn kind_from_name(key: &str, mapping: &impl KindPatterns) -> Option<ReportKind> {
    let segments: Vec<&str> = key.split('/').collect();
    let skip = connect_prefix(&segments).map(|i| i..i + 2);
    for (i, segment) in segments.iter().enumerate().rev() {
        if skip.as_ref().is_some_and(|range| range.contains(&i)) {
            continue;
        }
        let segment = segment.to_ascii_lowercase();
        let mut matches: Vec<(ReportKind, usize, usize)> = Vec::new();
        for kind in ReportKind::ALL {
            for pattern in mapping.kind_patterns(kind) {
                matches.extend(token_spans(&segment, pattern).map(|(start, end)| (kind, start, end)));
            }
        }
        // A match inside a longer match of another pattern is part of that one
        // (`queue` inside `agent-queue`), not a second tag.
        let standalone = |&&(_, start, end): &&(ReportKind, usize, usize)| {
            !matches
                .iter()
                .any(|&(_, s, e)| s <= start && end <= e && e - s > end - start)
        };
        let mut kinds = matches.iter().filter(standalone).map(|&(kind, _, _)| kind);
        if let Some(first) = kinds.next() {
            // Two different tags in one name: ambiguous.
            return kinds.all(|kind| kind == first).then_some(first);
        }
    }
    None
}

/// `haystack` and `needle` are lowercase; the byte spans where `needle` occurs with no letter
/// or digit directly before or after it.
fn token_spans<'a>(haystack: &'a str, needle: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
    let bytes = haystack.as_bytes();
    haystack
        .match_indices(needle)
        .filter(|(_, m)| !m.is_empty())
        .map(|(start, m)| (start, start + m.len()))
        .filter(move |&(start, end)| {
            let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
            let after_ok = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
            before_ok && after_ok
        })
}

/// Whether an object key names a CSV file: `.csv` in any case (`.CSV`, `.Csv`), the rule of
/// both the function and `connect-wfm reload`.
pub fn is_csv_key(key: &str) -> bool {
    key.len() >= 4 && key.as_bytes()[key.len() - 4..].eq_ignore_ascii_case(b".csv")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ReportMapping;

    #[test]
    fn tags_round_trip_case_insensitive() {
        for kind in ReportKind::ALL {
            assert_eq!(ReportKind::from_tag(kind.tag()), Some(kind));
            assert_eq!(ReportKind::from_tag(&kind.tag().to_lowercase()), Some(kind));
        }
        assert_eq!(ReportKind::from_tag("Aspr"), Some(ReportKind::AgentSystem));
        assert_eq!(ReportKind::from_tag("Q"), None);
        assert_eq!(ReportKind::Queue.feed_kind(), "queue_interval");
        assert_eq!(ReportKind::AgentQueue.feed_kind(), "agent_queue_interval");
        assert_eq!(ReportKind::AgentSystem.feed_kind(), "agent_interval");
        assert_eq!(serde_json::to_value(ReportKind::AgentQueue).unwrap(), "AQR");
        assert_eq!(
            serde_json::from_value::<ReportKind>("ASPR".into()).unwrap(),
            ReportKind::AgentSystem
        );
    }

    #[test]
    fn instance_comes_from_the_connect_reports_shape() {
        assert_eq!(
            instance_from_key("connect/acme-prod/Reports/QR-2026-11-20T10:30:00Z.csv").as_deref(),
            Some("acme-prod")
        );
        assert_eq!(
            instance_from_key("tenant1/connect/eu/Reports/Daily/AQR.csv").as_deref(),
            Some("eu")
        );
        assert_eq!(instance_from_key("reports/QR.csv"), None);
        assert_eq!(instance_from_key("connect//Reports/QR.csv"), None);
        assert_eq!(instance_from_key("QR.csv"), None);
    }

    #[test]
    fn kind_from_name_tells_qr_from_aqr_and_aspr() {
        let m = ReportMapping::default();
        let k = |key: &str| kind_from_name(key, &m);
        assert_eq!(
            k("connect/a/Reports/QR-2026-11-20T10:30:00Z.csv"),
            Some(ReportKind::Queue)
        );
        assert_eq!(
            k("connect/a/Reports/AQR-2026-11-20T10:30:00Z.csv"),
            Some(ReportKind::AgentQueue)
        );
        assert_eq!(
            k("connect/a/Reports/ASPR-2026-11-20T10:30:00Z.csv"),
            Some(ReportKind::AgentSystem)
        );
        assert_eq!(
            k("connect/a/Reports/AQR/Report-2026-11-20T10:30:00Z.csv"),
            Some(ReportKind::AgentQueue)
        );
        assert_eq!(k("connect/a/Reports/my_ASPR_report.csv"), Some(ReportKind::AgentSystem));
        assert_eq!(k("connect/a/Reports/daily qr.csv"), Some(ReportKind::Queue));
        // Tags inside words are not tags.
        assert_eq!(k("connect/a/Reports/SQRT-2026.csv"), None);
        assert_eq!(k("connect/a/Reports/QRS.csv"), None);
        assert_eq!(k("connect/a/Reports/Report-2026-11-20T10:30:00Z.csv"), None);
        // The file name beats its folder; an alias that looks like a tag is not a tag.
        assert_eq!(k("connect/a/Reports/QR/ASPR-x.csv"), Some(ReportKind::AgentSystem));
        assert_eq!(k("connect/qr/Reports/x.csv"), None);
        // Two tags in one name: ambiguous; the same tag twice is not.
        assert_eq!(k("connect/a/Reports/QR-vs-AQR.csv"), None);
        assert_eq!(k("connect/a/Reports/QR-copy-of-QR.csv"), Some(ReportKind::Queue));
    }

    #[test]
    fn longest_configured_pattern_wins() {
        let mut m = ReportMapping::default();
        m.merge_json(serde_json::json!({
            "kind_patterns": { "QR": ["QR", "queue"], "AQR": ["AQR", "agent-queue"] }
        }))
        .unwrap();
        assert_eq!(
            kind_from_name("x/agent-queue-report.csv", &m),
            Some(ReportKind::AgentQueue)
        );
        assert_eq!(kind_from_name("x/queue-report.csv", &m), Some(ReportKind::Queue));
        assert_eq!(kind_from_name("x/Ünïcode-queue.csv", &m), Some(ReportKind::Queue));
    }

    #[test]
    fn source_display_names_the_object() {
        assert_eq!(ReportSource::new("b", "k.csv").to_string(), "s3://b/k.csv");
        assert_eq!(ReportSource::new("", "/tmp/k.csv").to_string(), "/tmp/k.csv");
    }

    #[test]
    fn a_csv_key_is_told_in_any_case() {
        assert!(is_csv_key("connect/acme/Reports/QR-2026-11-20T10:15:00Z.csv"));
        assert!(is_csv_key("r/QR.CSV") && is_csv_key("r/QR.Csv"));
        assert!(!is_csv_key("r/QR.csv.gz") && !is_csv_key("csv") && !is_csv_key("r/QR.tsv"));
    }
}
