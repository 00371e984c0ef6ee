//! Property tests: the report reader never panics, on arbitrary bytes or on CSV-ish text built
//! from plausible headers and values, and every error it returns names the file.

use connect_wfm_core::report::{ReportKind, ReportMapping, ReportReader, ReportSource};
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "connect/acme/Reports/QR-2026-11-20T10:30:00Z.csv",
    "connect/acme/Reports/AQR-2026-11-20T10:30:00Z.csv",
    "connect/acme/Reports/ASPR-2026-11-20T10:30:00Z.csv",
    "exports/untagged.csv",
];

const HEADERS: &[&str] = &[
    "StartInterval",
    "EndInterval",
    "Queue",
    "Agent",
    "Contacts queued",
    "Contacts handled",
    "Contacts handled (Incoming)",
    "Contacts abandoned",
    "Contacts answered in 20 seconds",
    "Contacts abandoned in 20 seconds",
    "Service level 20 seconds",
    "Contacts answered in 60 seconds",
    "Service level 60 seconds",
    "Service level 99999999999 seconds",
    "Agent interaction time",
    "Customer hold time",
    "After contact work time",
    "Average queue answer time",
    "Online time",
    "Non-Productive Time",
    "Agent idle time",
    "Agent on contact time",
    "\u{feff}StartInterval",
    " queue ",
    "Something else",
    "",
];

const VALUES: &[&str] = &[
    "",
    "-",
    "0",
    "12",
    "12.0",
    "\"1,234\"",
    "85.71%",
    "%",
    "abc",
    "1e308",
    "-5",
    "99999999999999999999",
    "0:02:05",
    "2026-11-20T10:15:00Z",
    "2026-11-20T10:30:00Z",
    "2026-11-20T11:15:00+01:00",
    "2026-11-20 10:30",
    "9999-12-31T23:59:59-23:59",
    "0000-01-01T00:00:00+23:59",
    "Sales",
    "\"Sales, EMEA\"",
    "\"unclosed",
    "jdoe",
    "Total",
    "\u{0}",
];

/// Runs a report to its end; panics only if the reader does.
fn run(bytes: &[u8], key: &str, kind: Option<ReportKind>) {
    let file = format!("s3://b/{key}");
    let mapping = ReportMapping::default();
    match ReportReader::new(bytes, ReportSource::new("b", key), kind, None, &mapping) {
        Err(e) => assert!(e.to_string().starts_with(&file), "{e}"),
        Ok(reader) => {
            for item in reader {
                match item {
                    Ok(record) => {
                        serde_json::to_string(&record).unwrap();
                    }
                    Err(e) => assert!(e.to_string().starts_with(&file), "{e}"),
                }
            }
        }
    }
}

fn csv_ish() -> impl Strategy<Value = String> {
    let header = prop::collection::vec(prop::sample::select(HEADERS), 0..12);
    let rows = prop::collection::vec(prop::collection::vec(prop::sample::select(VALUES), 0..14), 0..6);
    let separator = prop::sample::select(&[",", ";", ", "][..]);
    (header, rows, separator, any::<bool>()).prop_map(|(header, rows, separator, crlf)| {
        let newline = if crlf { "\r\n" } else { "\n" };
        let mut text = header.join(separator);
        for row in rows {
            text.push_str(newline);
            text.push_str(&row.join(","));
        }
        text
    })
}

fn kind() -> impl Strategy<Value = Option<ReportKind>> {
    prop::option::of(prop::sample::select(&ReportKind::ALL[..]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048),
                                       key in prop::sample::select(KEYS), kind in kind()) {
        run(&bytes, key, kind);
    }

    #[test]
    fn never_panics_on_csv_ish_text(text in csv_ish(), key in prop::sample::select(KEYS), kind in kind()) {
        run(text.as_bytes(), key, kind);
    }

    #[test]
    fn never_panics_on_a_plausible_header_with_random_rows(
        rows in prop::collection::vec(prop::collection::vec(prop::sample::select(VALUES), 16), 0..8),
        key in prop::sample::select(KEYS),
    ) {
        let mut text = "StartInterval,EndInterval,Queue,Agent,Contacts queued,Contacts handled,Contacts abandoned,\
            Contacts answered in 20 seconds,Contacts abandoned in 20 seconds,Service level 20 seconds,\
            Agent interaction time,Customer hold time,After contact work time,Average queue answer time,\
            Online time,Non-Productive Time".to_owned();
        for row in rows {
            text.push('\n');
            text.push_str(&row.join(","));
        }
        run(text.as_bytes(), key, None);
    }
}
