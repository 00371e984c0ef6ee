//! Reports that cannot be used: each error names the file and, where it applies, the line and
//! the column; content errors are permanent, reader I/O errors transient.

use std::io::{self, Read};

use connect_wfm_core::report::{
    IntervalRecord, MAX_RECORD_BYTES, ReportError, ReportMapping, ReportProblem, ReportReader, ReportSource,
};

const KEY: &str = "connect/acme/Reports/QR-2026-11-20T10:30:00Z.csv";
const FILE: &str = "s3://b/connect/acme/Reports/QR-2026-11-20T10:30:00Z.csv";

fn open<'a>(key: &str, bytes: &'a [u8]) -> Result<ReportReader<&'a [u8]>, ReportError> {
    ReportReader::new(
        bytes,
        ReportSource::new("b", key),
        None,
        None,
        &ReportMapping::default(),
    )
}

/// The first error of a report, at the header or in a row.
fn first_error(key: &str, bytes: &[u8]) -> ReportError {
    match open(key, bytes) {
        Err(e) => e,
        Ok(reader) => reader
            .collect::<Result<Vec<IntervalRecord>, _>>()
            .expect_err("the report should fail"),
    }
}

fn message(csv: &str) -> String {
    let err = first_error(KEY, csv.as_bytes());
    assert!(err.is_permanent(), "{err}");
    err.to_string()
}

#[test]
fn missing_start_interval_names_file_and_column() {
    assert_eq!(
        message("EndInterval,Queue,Contacts handled\n"),
        format!("{FILE}: missing required column `StartInterval`")
    );
    assert_eq!(
        message("StartInterval,Queue\n"),
        format!("{FILE}: missing required column `EndInterval`")
    );
}

#[test]
fn missing_grouping_column_names_file_and_column() {
    assert_eq!(
        message("StartInterval,EndInterval,Agent,Contacts handled\n"),
        format!("{FILE}: missing required column `Queue`")
    );
    let aqr = first_error("connect/a/Reports/AQR.csv", b"StartInterval,EndInterval,Queue\n");
    assert_eq!(
        aqr.to_string(),
        "s3://b/connect/a/Reports/AQR.csv: missing required column `Agent`"
    );
    assert_eq!(aqr.column, None);
    assert!(matches!(aqr.problem, ReportProblem::MissingColumn(ref c) if c == "Agent"));
    let aspr = first_error("connect/a/Reports/ASPR.csv", b"StartInterval,EndInterval,Queue\n");
    assert_eq!(
        aspr.to_string(),
        "s3://b/connect/a/Reports/ASPR.csv: missing required column `Agent`"
    );
}

#[test]
fn bad_values_name_line_and_column() {
    let header = "StartInterval,EndInterval,Queue,Contacts handled,Agent interaction time,Service level 20 seconds\n";
    let ok = "2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,1,2,3%\n";
    let cases = [
        (
            "2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,abc,2,3%\n",
            "line 3 column `Contacts handled`: `abc` is not a number",
        ),
        (
            "2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,1,2:00,3%\n",
            "line 3 column `Agent interaction time`: `2:00` is not a duration in seconds",
        ),
        (
            "2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,\"1,5\",2,3%\n",
            "line 3 column `Contacts handled`: `1,5` is not a number",
        ),
        (
            "2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,1,2,high\n",
            "line 3 column `Service level 20 seconds`: `high` is not a number",
        ),
        (
            "2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,1e99,2,3%\n",
            "line 3 column `Contacts handled`: `1e99` is not a number",
        ),
        (
            "2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,99999999999999999999,2,3%\n",
            "line 3 column `Contacts handled`: `99999999999999999999` is out of range",
        ),
        (
            "20/11/2026 10:15,2026-11-20T10:30:00Z,Sales,1,2,3%\n",
            "line 3 column `StartInterval`: `20/11/2026 10:15` is not an ISO 8601 timestamp",
        ),
        (
            "2026-11-20T10:15:00Z,,Sales,1,2,3%\n",
            "line 3 column `EndInterval`: the value is empty but the column is required",
        ),
        (
            "2026-11-20T10:15:00Z,2026-11-20T10:15:00Z,Sales,1,2,3%\n",
            "line 3 column `EndInterval`: EndInterval `2026-11-20T10:15:00Z` is not after StartInterval \
             `2026-11-20T10:15:00Z`",
        ),
        (
            "2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,1,2\n",
            "line 3: the row has 5 fields, the header has 6",
        ),
    ];
    for (row, expected) in cases {
        assert_eq!(
            message(&format!("{header}{ok}{row}")),
            format!("{FILE} {expected}"),
            "{row}"
        );
    }
}

#[test]
fn a_column_found_by_its_bare_name_is_named_as_written() {
    let csv = "StartInterval,EndInterval,Queue,Contacts handled (Incoming)\n\
               2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,many\n";
    let err = first_error(KEY, csv.as_bytes());
    assert_eq!(err.line, Some(2));
    assert_eq!(err.column.as_deref(), Some("Contacts handled (Incoming)"));
}

#[test]
fn invalid_utf8_in_a_name_is_an_error() {
    let csv = b"StartInterval,EndInterval,Queue\n2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sal\xffes\n";
    assert_eq!(
        first_error(KEY, csv).to_string(),
        format!("{FILE} line 2 column `Queue`: the value is not UTF-8 text")
    );
}

#[test]
fn not_a_report_at_all() {
    assert_eq!(message(""), format!("{FILE}: the file is empty (no header row)"));
    assert_eq!(
        message("\u{feff}"),
        format!("{FILE}: the file is empty (no header row)")
    );
    assert_eq!(message("\n\n"), format!("{FILE}: the file is empty (no header row)"));
    assert_eq!(
        message(" , ,\n"),
        format!("{FILE} line 1: not a CSV report: the header row has no column names")
    );
    assert_eq!(
        message("StartInterval;EndInterval;Queue\n2026-11-20T10:15:00Z;2026-11-20T10:30:00Z;Sales\n"),
        format!(
            "{FILE} line 1: not a CSV report: the header is a single column holding `;`: the file is not comma-separated"
        )
    );
    assert_eq!(
        message("StartInterval\tEndInterval\tQueue\n"),
        format!(
            "{FILE} line 1: not a CSV report: the header is a single column holding `\\t`: the file is not comma-separated"
        )
    );
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let err = first_error(KEY, &garbage);
    assert!(err.is_permanent());
    assert!(err.to_string().starts_with(FILE), "{err}");
    assert_eq!(
        message("\u{0}\u{1}PK\u{3}\u{4},x\n"),
        format!("{FILE} line 1: not a CSV report: the header row holds binary data")
    );
    assert_eq!(
        first_error(KEY, b"\xff\xfeS\x00t\x00").to_string(),
        format!("{FILE} line 1: not a CSV report: the file is UTF-16 text, not UTF-8")
    );
    assert_eq!(
        first_error(KEY, b"Start\xc3\x28Interval,Queue\n").to_string(),
        format!("{FILE} line 1: not a CSV report: the header row is not UTF-8 text")
    );
    assert_eq!(
        message("a,b,c\n1,2,3\n"),
        format!("{FILE}: missing required column `StartInterval`")
    );
}

/// An endless line of bytes with no line break, produced on the fly.
struct Endless(usize);

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0 += buf.len();
        buf.fill(b'x');
        Ok(buf.len())
    }
}

#[test]
fn a_record_without_end_fails_instead_of_filling_memory() {
    let source = ReportSource::new("b", KEY);
    let err = ReportReader::new(Endless(0), source, None, None, &ReportMapping::default())
        .err()
        .expect("an endless header fails");
    assert!(err.is_permanent());
    assert_eq!(
        err.to_string(),
        format!("{FILE}: not a CSV report: a record longer than {MAX_RECORD_BYTES} bytes")
    );

    // The same in a row after a good header.
    let body = b"StartInterval,EndInterval,Queue\n".chain(Endless(0));
    let mut reader =
        ReportReader::new(body, ReportSource::new("b", KEY), None, None, &ReportMapping::default()).unwrap();
    let err = reader.next().unwrap().unwrap_err();
    assert!(matches!(err.problem, ReportProblem::NotCsv(_)), "{err}");
    assert!(reader.next().is_none());
}

/// Fails after the header, like a dropped S3 connection.
struct Flaky<'a>(&'a [u8]);

impl Read for Flaky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            ));
        }
        let n = self.0.read(buf)?;
        Ok(n)
    }
}

#[test]
fn reader_io_errors_are_transient() {
    let body = Flaky(b"StartInterval,EndInterval,Queue\n2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales\n");
    let mut reader =
        ReportReader::new(body, ReportSource::new("b", KEY), None, None, &ReportMapping::default()).unwrap();
    assert!(reader.next().unwrap().is_ok());
    let err = reader.next().unwrap().unwrap_err();
    assert!(!err.is_permanent());
    assert!(matches!(err.problem, ReportProblem::Io(_)));
    assert!(err.to_string().starts_with(FILE), "{err}");
    assert!(err.to_string().contains("connection reset by peer"), "{err}");

    let err = ReportReader::new(
        Flaky(b""),
        ReportSource::new("b", KEY),
        None,
        None,
        &ReportMapping::default(),
    )
    .err()
    .unwrap();
    assert!(!err.is_permanent(), "{err}");
}

/// CSV semantics, as Connect's own readers apply them: an unclosed quote runs to the end of the
/// file (bounded by MAX_RECORD_BYTES), it does not hang or panic.
#[test]
fn an_unclosed_quote_runs_to_the_end_of_the_file() {
    let csv = "StartInterval,EndInterval,Queue\n2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,\"Sales\nmore";
    let records: Vec<IntervalRecord> = open(KEY, csv.as_bytes()).unwrap().map(Result::unwrap).collect();
    assert_eq!(records[0].queue(), Some("Sales\nmore"));
}
