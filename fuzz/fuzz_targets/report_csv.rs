//! Fuzz target: the streaming CSV report reader. The first byte picks the file name (kind
//! tag or none); the rest is the object. Any input must give records or a ReportError that
//! names the file, never a panic; every record must serialise.
#![no_main]

use std::io::Cursor;

use connect_wfm_core::report::{ReportMapping, ReportReader, ReportSource};
use libfuzzer_sys::fuzz_target;

const KEYS: [&str; 4] = [
    "connect/fuzz/Reports/wfm/QR-2026-11-20T10:15:00Z.csv",
    "connect/fuzz/Reports/wfm/AQR-2026-11-20T10:15:00Z.csv",
    "connect/fuzz/Reports/wfm/ASPR-2026-11-20T10:15:00Z.csv",
    "connect/fuzz/Reports/wfm/report-2026-11-20T10:15:00Z.csv",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let key = KEYS[usize::from(pick) % KEYS.len()];
    let mapping = ReportMapping::default();
    let source = ReportSource::new("fuzz-bucket", key);
    let reader = match ReportReader::new(Cursor::new(body), source, None, None, &mapping) {
        Ok(reader) => reader,
        Err(e) => {
            assert!(e.to_string().starts_with("s3://fuzz-bucket/"), "{e}");
            return;
        }
    };
    for record in reader {
        match record {
            Ok(record) => {
                serde_json::to_vec(&record).expect("records serialise");
            }
            Err(e) => {
                assert!(e.to_string().starts_with("s3://fuzz-bucket/"), "{e}");
                break;
            }
        }
    }
});
