//! The streaming report reader: header validation, then one interval record per CSV row.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use csv::ByteRecord;

use super::header::{Header, ThresholdColumns, display_name};
use super::kind::{ReportKind, ReportSource, instance_from_key, kind_from_name};
use super::mapping::{Column, Measure, ReportMapping, Template};
use super::record::{
    AgentInterval, AgentQueueInterval, IntervalRecord, IntervalSource, QueueInterval, REPORT_BASIS, RecordSource,
    ServiceLevel,
};
use super::value::{self, ValueError};
use crate::feed::SCHEMA;

/// Largest CSV record accepted. Real rows are a few hundred bytes; the limit keeps memory flat
/// on binary garbage or a file without line breaks.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Read buffer of the CSV parser: large enough for throughput, small against a Lambda's memory.
const BUFFER_BYTES: usize = 64 * 1024;

/// Longest cell value quoted in an error message.
const MAX_QUOTED_VALUE: usize = 80;

/// What is wrong with a report. The `Display` texts are written to be read after the file,
/// line and column of [`ReportError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportProblem {
    /// Reading the object failed (network, disk): transient, worth a retry.
    #[error("cannot read the report: {0}")]
    Io(io::Error),
    /// Nothing but white space: no header row.
    #[error("the file is empty (no header row)")]
    Empty,
    /// Not a CSV report at all (binary data, another delimiter, a record beyond
    /// [`MAX_RECORD_BYTES`]).
    #[error("not a CSV report: {0}")]
    NotCsv(String),
    /// A required column (StartInterval, EndInterval, a grouping column), by its configured name.
    #[error("missing required column `{0}`")]
    MissingColumn(String),
    /// A column the mapping reads appears more than once: which one holds the value is a guess.
    #[error("column `{name}` appears more than once (columns {first} and {second})")]
    DuplicateColumn { name: String, first: usize, second: usize },
    /// No tag in the file name and neither grouping column in the header.
    #[error(
        "missing grouping column `{queue}` or `{agent}` (the file name has no report-kind tag such as QR, AQR or ASPR)"
    )]
    UnknownKind {
        /// The configured name of the queue column.
        queue: String,
        /// The configured name of the agent column.
        agent: String,
    },
    /// The CSV structure is broken (a row with a different number of fields than the header,
    /// an unclosed quote).
    #[error("{0}")]
    Malformed(String),
    /// A count or percentage cell holds something else.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// A duration cell holds something else.
    #[error("`{0}` is not a duration in seconds")]
    NotADuration(String),
    /// A number too large to be a count or a duration (≥ 9·10¹⁵).
    #[error("`{0}` is out of range")]
    OutOfRange(String),
    /// A StartInterval or EndInterval cell holds something else.
    #[error("`{0}` is not an ISO 8601 timestamp")]
    NotATimestamp(String),
    /// EndInterval empty on a row with a StartInterval and a grouping value.
    #[error("the value is empty but the column is required")]
    MissingValue,
    /// A queue or agent name that is not UTF-8.
    #[error("the value is not UTF-8 text")]
    NotUtf8,
    /// EndInterval at or before StartInterval.
    #[error("EndInterval `{end}` is not after StartInterval `{start}`")]
    EmptyInterval {
        /// StartInterval as written.
        start: String,
        /// EndInterval as written.
        end: String,
    },
}

/// A report that cannot be used. `Display` names the file (`s3://bucket/key`) and, where it
/// applies, the line and the column:
/// `s3://b/k.csv line 7 column `Contacts handled`: `abc` is not a number`.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {problem}", location(*.line, .column.as_deref()))]
pub struct ReportError {
    /// `s3://bucket/key` (or the key alone when there is no bucket).
    pub file: String,
    /// 1-based line of the CSV record (the header is line 1).
    pub line: Option<u64>,
    /// The column's header name as written in the file (or the configured name when missing).
    pub column: Option<String>,
    /// What is wrong.
    pub problem: ReportProblem,
}

fn location(line: Option<u64>, column: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(line) = line {
        out.push_str(&format!(" line {line}"));
    }
    if let Some(column) = column {
        out.push_str(&format!(" column `{column}`"));
    }
    out
}

impl ReportError {
    fn new(file: &str, problem: ReportProblem) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            column: None,
            problem,
        }
    }

    /// False for I/O errors of the underlying reader (transient: retry the file); true for
    /// everything about the content (the same bytes will fail again: fix the mapping or the
    /// report, then reload).
    pub fn is_permanent(&self) -> bool {
        !matches!(self.problem, ReportProblem::Io(_))
    }
}

/// Marks the I/O error raised when a record outgrows [`MAX_RECORD_BYTES`].
#[derive(Debug)]
struct RecordTooLong;

impl fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a record longer than {MAX_RECORD_BYTES} bytes")
    }
}

impl std::error::Error for RecordTooLong {}

/// Sits between the object and the CSV parser. Counts bytes read since the last reset (done
/// before each record) and fails beyond one record's allowance plus the parser's read-ahead;
/// remembers how the stream ended, to number the last line right.
struct RecordGuard<R> {
    inner: R,
    since_reset: usize,
    total: u64,
    eof: bool,
    last_byte: Option<u8>,
    /// The byte before `last_byte`.
    byte_before_last: Option<u8>,
}

impl<R> RecordGuard<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            since_reset: 0,
            total: 0,
            eof: false,
            last_byte: None,
            byte_before_last: None,
        }
    }
}

impl<R: Read> Read for RecordGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.since_reset = self.since_reset.saturating_add(n);
        if self.since_reset > MAX_RECORD_BYTES + BUFFER_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordTooLong));
        }
        self.total += n as u64;
        self.eof = n == 0 && !buf.is_empty();
        if n > 0 {
            self.byte_before_last = if n > 1 { Some(buf[n - 2]) } else { self.last_byte };
            self.last_byte = Some(buf[n - 1]);
        }
        Ok(n)
    }
}

/// The CSV parser with the record guard, reading one record at a time and numbering it.
///
/// The parser splits records at `\n` only: a `\r` before it stays in the last cell, where
/// trimming drops it. That keeps line numbers exact for LF and CRLF files alike (csv's own
/// record positions are off by one for CRLF and after blank lines).
struct Records<R: Read> {
    csv: csv::Reader<RecordGuard<R>>,
}

impl<R: Read> Records<R> {
    fn new(reader: R) -> Self {
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            // Row lengths are checked by the reader, which skips whitespace-only lines first.
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .buffer_capacity(BUFFER_BYTES)
            .from_reader(RecordGuard::new(reader));
        Self { csv }
    }

    /// Reads the next record into `record`; returns its 1-based line, `None` at the end.
    fn read(&mut self, record: &mut ByteRecord) -> Result<Option<u64>, csv::Error> {
        self.csv.get_mut().since_reset = 0;
        if !self.csv.read_byte_record(record)? {
            return Ok(None);
        }
        // The parser counts every `\n` it consumed: those of skipped blank lines, those inside
        // quoted cells, and the terminator unless the file ended without one.
        let after = self.csv.position();
        let guard = self.csv.get_ref();
        let inner_breaks = record.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
        let at_end = guard.eof && after.byte() == guard.total;
        // A quote left open runs to the end of the file and takes its last `\n` into the cell
        // (unlike a closed quoted cell ending in `\n`, whose closing quote comes before it).
        let open_quote = record.as_slice().last() == Some(&b'\n') && guard.byte_before_last != Some(b'"');
        let unterminated = at_end && (guard.last_byte != Some(b'\n') || open_quote);
        let terminator = u64::from(!unterminated);
        Ok(Some(after.line().saturating_sub(inner_breaks + terminator).max(1)))
    }
}

/// A record holding nothing but white space (a blank line, a lone `\r` of a CRLF file).
fn is_blank(record: &ByteRecord) -> bool {
    record.len() == 1 && value::trim(&record[0]).is_empty()
}

/// Column indices resolved once from the header, so a row costs only index lookups.
struct Plan {
    start: usize,
    end: usize,
    queue: Option<usize>,
    agent: Option<usize>,
    columns: [Option<usize>; Column::ALL.len()],
    /// Ascending by seconds.
    thresholds: Vec<(u32, ThresholdColumns)>,
    /// Header names as written (for messages).
    names: Vec<String>,
}

impl Plan {
    fn col(&self, column: Column) -> Option<usize> {
        self.columns[column as usize]
    }
}

/// The last timestamp parsed in a column: rows of one interval repeat the same text, so most
/// rows skip the parse.
#[derive(Default)]
struct TimestampCache {
    raw: Vec<u8>,
    value: Option<DateTime<Utc>>,
}

impl TimestampCache {
    fn parse(&mut self, cell: &[u8]) -> Result<Option<DateTime<Utc>>, ValueError> {
        if self.value.is_some() && self.raw == cell {
            return Ok(self.value);
        }
        let value = value::timestamp(cell)?;
        if value.is_some() {
            self.raw.clear();
            self.raw.extend_from_slice(cell);
            self.value = value;
        }
        Ok(value)
    }
}

/// Streaming reader of one Connect scheduled report.
///
/// [`ReportReader::new`] reads and validates the header; the iterator then parses one CSV row
/// at a time into one [`IntervalRecord`], reusing its buffers, so memory stays flat however
/// large the file. After the first error the iterator ends (the file has failed).
///
/// Rules beyond feed.md:
/// - **Summary rows are skipped** (counted in [`ReportReader::skipped_rows`]): a row whose
///   grouping column is empty or `-` (any of `Queue`/`Agent` for AQR), or whose StartInterval is
///   empty or `-` — such a row is a total over queues, agents or the whole period, not an
///   interval record. A row with a grouping value and a StartInterval but no EndInterval is an
///   error.
/// - **Duplicate header names**: a column the mapping reads may appear only once (an error
///   names it and both positions); duplicated columns nobody reads are ignored.
/// - **Required columns**: StartInterval, EndInterval (`interval_minutes` is never null) and
///   the grouping column(s) of the kind; metric columns are optional (missing → `null`).
/// - **Empty cells** (empty or `-`) of a metric column the report has: 0 for counts and
///   durations, `null` for averages and percentages (by the column's [`Measure`]); Connect's
///   exports leave a count empty where it is zero. A derived field (handle time, the long
///   splits, ready time, queue delay) is `null` when one of its inputs is.
/// - **Whole numbers**: counts and durations are rounded half away from zero.
/// - **`active`**: true when any count or duration of the record is above zero — QR:
///   contacts received, handled, abandoned, answered/abandoned within any threshold, talk,
///   hold, ACW time; AQR: handled, talk, hold, ACW time; ASPR: online, non-productive, idle,
///   on-contact time. Percentages do not count.
/// - **SLA threshold X**: configured for the queue (`sla_seconds`), else `default_sla_seconds`,
///   else the smallest threshold in the header. A configured X the header lacks keeps X in the
///   record and leaves the short/long split and the percentage null (never a guess).
/// - **Cells** are trimmed; whitespace-only lines are ignored; a row with another number of
///   fields than the header is an error.
/// - **Header-only file**: zero records, not an error. An empty file is an error.
pub struct ReportReader<R: Read> {
    records: Records<R>,
    row: ByteRecord,
    kind: ReportKind,
    plan: Plan,
    file: String,
    instance: Arc<str>,
    bucket: Arc<str>,
    key: Arc<str>,
    sla: HashMap<String, u32>,
    default_sla: Option<u32>,
    start_cache: TimestampCache,
    end_cache: TimestampCache,
    skipped: u64,
    done: bool,
}

impl<R: Read> ReportReader<R> {
    /// Reads the header and prepares the mapping of rows.
    ///
    /// - `kind`: forced (CLI `--kind`), else from the file name ([`kind_from_name`]), else from
    ///   the grouping columns (`Queue` only → QR, `Agent` and `Queue` → AQR, `Agent` only → ASPR).
    /// - `instance`: forced, else the alias in the key ([`instance_from_key`]), else the
    ///   mapping's `instance`, else the bucket name (a bucket usually serves one instance and
    ///   its name is stable), else `unknown` (a local file with no bucket).
    pub fn new(
        reader: R,
        source: ReportSource,
        kind: Option<ReportKind>,
        instance: Option<String>,
        mapping: &ReportMapping,
    ) -> Result<Self, ReportError> {
        let file = source.to_string();
        let mut records = Records::new(reader);
        let mut header = ByteRecord::new();
        let header_line = loop {
            match records.read(&mut header) {
                Ok(Some(_)) if is_blank(&header) => continue,
                Ok(Some(line)) => break line,
                Ok(None) => return Err(ReportError::new(&file, ReportProblem::Empty)),
                Err(e) => return Err(csv_error(&file, e)),
            }
        };
        let names = header_names(&header).map_err(|problem| ReportError {
            line: Some(header_line),
            ..ReportError::new(&file, problem)
        })?;
        let lookup = Header::new(names.iter().map(String::as_str));
        let queue = lookup.find(mapping.column_names(Column::Queue));
        let agent = lookup.find(mapping.column_names(Column::Agent));
        let missing = |column: Column| {
            ReportError::new(
                &file,
                ReportProblem::MissingColumn(mapping.column_names(column)[0].clone()),
            )
        };

        let kind = match kind.or_else(|| kind_from_name(&source.key, mapping)) {
            Some(kind) => kind,
            None => match (queue, agent) {
                (Some(_), None) => ReportKind::Queue,
                (Some(_), Some(_)) => ReportKind::AgentQueue,
                (None, Some(_)) => ReportKind::AgentSystem,
                (None, None) => {
                    let first = |c: Column| mapping.column_names(c)[0].clone();
                    return Err(ReportError::new(
                        &file,
                        ReportProblem::UnknownKind {
                            queue: first(Column::Queue),
                            agent: first(Column::Agent),
                        },
                    ));
                }
            },
        };
        let start = lookup
            .find(mapping.column_names(Column::StartInterval))
            .ok_or_else(|| missing(Column::StartInterval))?;
        let end = lookup
            .find(mapping.column_names(Column::EndInterval))
            .ok_or_else(|| missing(Column::EndInterval))?;
        let (queue, agent) = match kind {
            ReportKind::Queue => (Some(queue.ok_or_else(|| missing(Column::Queue))?), None),
            ReportKind::AgentQueue => (
                Some(queue.ok_or_else(|| missing(Column::Queue))?),
                Some(agent.ok_or_else(|| missing(Column::Agent))?),
            ),
            ReportKind::AgentSystem => (None, Some(agent.ok_or_else(|| missing(Column::Agent))?)),
        };
        let columns = Column::ALL.map(|c| lookup.find(mapping.column_names(c)));
        let thresholds: Vec<(u32, ThresholdColumns)> = lookup
            .thresholds(Template::ALL.map(|t| mapping.template_names(t)))
            .into_iter()
            .collect();

        let used = [Some(start), Some(end), queue, agent]
            .into_iter()
            .chain(columns)
            .chain(thresholds.iter().flat_map(|(_, t)| t.iter().copied()))
            .flatten();
        for index in used {
            if let Some(other) = lookup.duplicate_of(index) {
                let (first, second) = (index.min(other), index.max(other));
                return Err(ReportError {
                    line: Some(header_line),
                    ..ReportError::new(
                        &file,
                        ReportProblem::DuplicateColumn {
                            name: display_name(&names[first]),
                            first: first + 1,
                            second: second + 1,
                        },
                    )
                });
            }
        }

        let instance = instance
            .map(|i| i.trim().to_owned())
            .filter(|i| !i.is_empty())
            .or_else(|| instance_from_key(&source.key))
            .or_else(|| mapping.instance().map(str::to_owned))
            .or_else(|| (!source.bucket.is_empty()).then(|| source.bucket.clone()))
            .unwrap_or_else(|| "unknown".to_owned());

        Ok(Self {
            records,
            row: ByteRecord::new(),
            kind,
            plan: Plan {
                start,
                end,
                queue,
                agent,
                columns,
                thresholds,
                names,
            },
            file,
            instance: instance.into(),
            bucket: source.bucket.into(),
            key: source.key.into(),
            sla: mapping.queue_sla_seconds().clone(),
            default_sla: mapping.default_sla_seconds(),
            start_cache: TimestampCache::default(),
            end_cache: TimestampCache::default(),
            skipped: 0,
            done: false,
        })
    }

    /// The report kind (forced, from the name, or from the grouping columns).
    pub fn kind(&self) -> ReportKind {
        self.kind
    }

    /// The instance name every record carries.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// `s3://bucket/key` (as named in errors).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Every service-level threshold found in the header, ascending.
    pub fn thresholds(&self) -> Vec<u32> {
        self.plan.thresholds.iter().map(|(seconds, _)| *seconds).collect()
    }

    /// Summary rows skipped so far (empty grouping value or StartInterval).
    pub fn skipped_rows(&self) -> u64 {
        self.skipped
    }

    fn next_record(&mut self) -> Result<Option<IntervalRecord>, ReportError> {
        loop {
            let Some(line) = self.records.read(&mut self.row).map_err(|e| csv_error(&self.file, e))? else {
                return Ok(None);
            };
            if self.row.len() != self.plan.names.len() {
                if is_blank(&self.row) {
                    continue;
                }
                return Err(ReportError {
                    line: Some(line),
                    ..ReportError::new(
                        &self.file,
                        ReportProblem::Malformed(format!(
                            "the row has {} fields, the header has {}",
                            self.row.len(),
                            self.plan.names.len()
                        )),
                    )
                });
            }
            let row = Row {
                cells: &self.row,
                line,
                plan: &self.plan,
                file: &self.file,
            };
            let grouping = [self.plan.queue, self.plan.agent];
            let summary = grouping
                .into_iter()
                .flatten()
                .any(|i| value::is_null(value::trim(row.cell(i))))
                || value::is_null(value::trim(row.cell(self.plan.start)));
            if summary {
                self.skipped += 1;
                continue;
            }
            let start = self
                .start_cache
                .parse(row.cell(self.plan.start))
                .map_err(|e| row.value_error(self.plan.start, e))?
                .ok_or_else(|| row.error(self.plan.start, ReportProblem::MissingValue))?;
            // feed.md: interval starts are whole minutes. A start with seconds (an export quirk
            // such as `10:14:59.999`) goes to the nearest minute.
            let start = start.duration_round(TimeDelta::minutes(1)).unwrap_or(start);
            let end = self
                .end_cache
                .parse(row.cell(self.plan.end))
                .map_err(|e| row.value_error(self.plan.end, e))?
                .ok_or_else(|| row.error(self.plan.end, ReportProblem::MissingValue))?;
            let seconds = (end - start).num_seconds();
            if seconds <= 0 {
                let text = |i: usize| quoted(value::trim(row.cell(i)));
                return Err(row.error(
                    self.plan.end,
                    ReportProblem::EmptyInterval {
                        start: text(self.plan.start),
                        end: text(self.plan.end),
                    },
                ));
            }
            let interval_minutes = u32::try_from((seconds + 30) / 60).map_err(|_| {
                row.error(
                    self.plan.end,
                    ReportProblem::OutOfRange(quoted(row.cell(self.plan.end))),
                )
            })?;
            let base = Base {
                instance: self.instance.clone(),
                interval_start: start,
                interval_minutes,
                source: RecordSource {
                    bucket: self.bucket.clone(),
                    key: self.key.clone(),
                    line,
                },
            };
            let record = match self.kind {
                ReportKind::Queue => IntervalRecord::Queue(queue_interval(&row, base, &self.sla, self.default_sla)?),
                ReportKind::AgentQueue => IntervalRecord::AgentQueue(agent_queue_interval(&row, base)?),
                ReportKind::AgentSystem => IntervalRecord::Agent(agent_interval(&row, base)?),
            };
            return Ok(Some(record));
        }
    }
}

impl<R: Read> Iterator for ReportReader<R> {
    type Item = Result<IntervalRecord, ReportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record().transpose();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

impl<R: Read> std::iter::FusedIterator for ReportReader<R> {}

/// Header cells as text; refuses what is plainly not a comma-separated report.
fn header_names(header: &ByteRecord) -> Result<Vec<String>, ReportProblem> {
    let first = header.get(0).unwrap_or_default();
    if first.starts_with(b"\xff\xfe") || first.starts_with(b"\xfe\xff") {
        return Err(ReportProblem::NotCsv("the file is UTF-16 text, not UTF-8".into()));
    }
    let mut names = Vec::with_capacity(header.len());
    for cell in header {
        if cell.contains(&0) {
            return Err(ReportProblem::NotCsv("the header row holds binary data".into()));
        }
        let text =
            std::str::from_utf8(cell).map_err(|_| ReportProblem::NotCsv("the header row is not UTF-8 text".into()))?;
        names.push(display_name(text));
    }
    if names.iter().all(String::is_empty) {
        return Err(ReportProblem::NotCsv("the header row has no column names".into()));
    }
    let single_with_delimiter = match names.as_slice() {
        [only] => [';', '\t', '|'].into_iter().find(|d| only.contains(*d)),
        _ => None,
    };
    if let Some(delimiter) = single_with_delimiter {
        let shown = if delimiter == '\t' {
            "\\t".to_owned()
        } else {
            delimiter.to_string()
        };
        return Err(ReportProblem::NotCsv(format!(
            "the header is a single column holding `{shown}`: the file is not comma-separated"
        )));
    }
    Ok(names)
}

/// A failure of the parser itself: only I/O with byte records and flexible rows.
fn csv_error(file: &str, error: csv::Error) -> ReportError {
    let message = error.to_string();
    let problem = match error.into_kind() {
        csv::ErrorKind::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<RecordTooLong>()) => {
            ReportProblem::NotCsv(format!("a record longer than {MAX_RECORD_BYTES} bytes"))
        }
        csv::ErrorKind::Io(e) => ReportProblem::Io(e),
        _ => ReportProblem::Malformed(format!("broken CSV: {message}")),
    };
    ReportError::new(file, problem)
}

/// A cell value for a message: lossy UTF-8, shortened.
fn quoted(cell: &[u8]) -> String {
    let text = String::from_utf8_lossy(value::trim(cell));
    match text.char_indices().nth(MAX_QUOTED_VALUE) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

/// One CSV row with what is needed to read its cells and name them in errors.
struct Row<'a> {
    cells: &'a ByteRecord,
    line: u64,
    plan: &'a Plan,
    file: &'a str,
}

impl Row<'_> {
    fn cell(&self, index: usize) -> &[u8] {
        self.cells.get(index).unwrap_or_default()
    }

    fn error(&self, index: usize, problem: ReportProblem) -> ReportError {
        ReportError {
            file: self.file.to_owned(),
            line: Some(self.line),
            column: self.plan.names.get(index).cloned(),
            problem,
        }
    }

    fn value_error(&self, index: usize, error: ValueError) -> ReportError {
        let value = quoted(self.cell(index));
        let problem = match error {
            ValueError::NotANumber => ReportProblem::NotANumber(value),
            ValueError::NotADuration => ReportProblem::NotADuration(value),
            ValueError::OutOfRange => ReportProblem::OutOfRange(value),
            ValueError::NotATimestamp => ReportProblem::NotATimestamp(value),
        };
        self.error(index, problem)
    }

    fn text(&self, index: usize) -> Result<String, ReportError> {
        std::str::from_utf8(value::trim(self.cell(index)))
            .map(str::to_owned)
            .map_err(|_| self.error(index, ReportProblem::NotUtf8))
    }

    /// A metric cell, by what it measures (feed.md "Header matching"): a column the report
    /// lacks is `None`; an empty cell or `-` is 0 for counts and durations and `None` for
    /// averages and percentages.
    fn metric(&self, index: Option<usize>, measure: Measure) -> Result<Option<f64>, ReportError> {
        let Some(i) = index else { return Ok(None) };
        let parse = match measure {
            Measure::Count => value::number,
            Measure::Duration | Measure::Average => value::duration,
            Measure::Percentage => value::percent,
        };
        let value = parse(self.cell(i)).map_err(|e| self.value_error(i, e))?;
        Ok(value.or_else(|| measure.empty_value()))
    }

    /// A metric column, unrounded (an average is multiplied before rounding). The interval and
    /// grouping columns measure nothing and are never read here.
    fn value(&self, column: Column) -> Result<Option<f64>, ReportError> {
        match column.measure() {
            Some(measure) => self.metric(self.plan.col(column), measure),
            None => Ok(None),
        }
    }

    /// A count or a duration in whole seconds, rounded.
    fn whole(&self, column: Column) -> Result<Option<i64>, ReportError> {
        Ok(self.value(column)?.map(value::whole))
    }

    /// The values of one service-level threshold's columns.
    fn service_level(
        &self,
        seconds: u32,
        [answered, abandoned, pct]: ThresholdColumns,
    ) -> Result<ServiceLevel, ReportError> {
        let count = |index, template: Template| -> Result<Option<i64>, ReportError> {
            Ok(self.metric(index, template.measure())?.map(value::whole))
        };
        Ok(ServiceLevel {
            seconds,
            answered: count(answered, Template::ContactsAnsweredIn)?,
            abandoned: count(abandoned, Template::ContactsAbandonedIn)?,
            pct: self.metric(pct, Template::ServiceLevel.measure())?,
        })
    }
}

/// The fields every interval record shares.
struct Base {
    instance: Arc<str>,
    interval_start: DateTime<Utc>,
    interval_minutes: u32,
    source: RecordSource,
}

/// Handle time = talk + hold + ACW, only when all three are present.
fn handle_time(talk: Option<i64>, hold: Option<i64>, acw: Option<i64>) -> Option<i64> {
    Some(talk?.saturating_add(hold?).saturating_add(acw?))
}

/// `total − part`, never below 0; `None` when either is missing.
fn remainder(total: Option<i64>, part: Option<i64>) -> Option<i64> {
    Some(total?.saturating_sub(part?).max(0))
}

fn any_positive(values: &[Option<i64>]) -> bool {
    values.iter().any(|v| v.is_some_and(|v| v > 0))
}

fn queue_interval(
    row: &Row<'_>,
    base: Base,
    sla: &HashMap<String, u32>,
    default_sla: Option<u32>,
) -> Result<QueueInterval, ReportError> {
    let queue_index = row.plan.queue.unwrap_or_default();
    let queue = row.text(queue_index)?;
    let contacts_received = row.whole(Column::ContactsQueued)?;
    let handled = row.whole(Column::ContactsHandled)?;
    let abandoned = row.whole(Column::ContactsAbandoned)?;
    let talk = row.whole(Column::AgentInteractionTime)?;
    let hold = row.whole(Column::CustomerHoldTime)?;
    let acw = row.whole(Column::AfterContactWorkTime)?;
    let average_answer = row.value(Column::AverageQueueAnswerTime)?;

    let mut service_levels = Vec::with_capacity(row.plan.thresholds.len());
    for &(seconds, columns) in &row.plan.thresholds {
        service_levels.push(row.service_level(seconds, columns)?);
    }
    // The configured threshold of the queue, else the smallest in the header. A configured X
    // the header does not carry leaves the short/long split and the percentage null.
    let service_level_seconds = sla
        .get(queue.as_str())
        .copied()
        .or(default_sla)
        .or_else(|| service_levels.first().map(|sl| sl.seconds));
    let at_threshold = service_level_seconds.and_then(|x| service_levels.iter().find(|sl| sl.seconds == x));
    let handled_short = at_threshold.and_then(|sl| sl.answered);
    let abandoned_short = at_threshold.and_then(|sl| sl.abandoned);
    let service_level_pct = at_threshold.and_then(|sl| sl.pct);

    let queue_delay_s = match (average_answer, handled) {
        // Bounded inputs; `as` saturates rather than wraps on an absurd product.
        (Some(average), Some(handled)) => Some((average * handled as f64).round() as i64),
        _ => None,
    };
    let active = any_positive(&[contacts_received, handled, abandoned, talk, hold, acw])
        || service_levels
            .iter()
            .any(|sl| any_positive(&[sl.answered, sl.abandoned]));

    Ok(QueueInterval {
        kind: QueueInterval::KIND,
        schema: SCHEMA,
        basis: REPORT_BASIS,
        instance: base.instance,
        instance_id: None,
        queue: Some(queue),
        queue_id: None,
        interval_start: base.interval_start,
        interval_minutes: base.interval_minutes,
        contacts_received,
        handled,
        handled_short,
        handled_long: remainder(handled, handled_short),
        abandoned,
        abandoned_short,
        abandoned_long: remainder(abandoned, abandoned_short),
        transferred_out: None,
        talk_time_s: talk,
        hold_time_s: hold,
        acw_time_s: acw,
        handle_time_s: handle_time(talk, hold, acw),
        queue_delay_s,
        service_level_seconds,
        service_level_pct,
        service_levels,
        backlog: None,
        backlog_expired: None,
        backlog_not_expired: None,
        right_party_contacts: None,
        right_party_handle_time_s: None,
        wrong_party_contacts: None,
        wrong_party_handle_time_s: None,
        active,
        as_of: None,
        ctr_pending: None,
        source: IntervalSource::Row(base.source),
    })
}

fn agent_queue_interval(row: &Row<'_>, base: Base) -> Result<AgentQueueInterval, ReportError> {
    let agent_login = row.text(row.plan.agent.unwrap_or_default())?;
    let queue = row.text(row.plan.queue.unwrap_or_default())?;
    let handled = row.whole(Column::ContactsHandled)?;
    let talk = row.whole(Column::AgentInteractionTime)?;
    let hold = row.whole(Column::CustomerHoldTime)?;
    let acw = row.whole(Column::AfterContactWorkTime)?;
    Ok(AgentQueueInterval {
        kind: AgentQueueInterval::KIND,
        schema: SCHEMA,
        basis: REPORT_BASIS,
        instance: base.instance,
        agent_login,
        agent_id: None,
        queue,
        interval_start: base.interval_start,
        interval_minutes: base.interval_minutes,
        handled,
        talk_time_s: talk,
        hold_time_s: hold,
        acw_time_s: acw,
        handle_time_s: handle_time(talk, hold, acw),
        right_party_contacts: None,
        right_party_handle_time_s: None,
        wrong_party_contacts: None,
        wrong_party_handle_time_s: None,
        active: any_positive(&[handled, talk, hold, acw]),
        source: base.source,
    })
}

fn agent_interval(row: &Row<'_>, base: Base) -> Result<AgentInterval, ReportError> {
    let agent_login = row.text(row.plan.agent.unwrap_or_default())?;
    let login = row.whole(Column::OnlineTime)?;
    let not_ready = row.whole(Column::NonProductiveTime)?;
    let idle = row.whole(Column::AgentIdleTime)?;
    let on_contact = row.whole(Column::AgentOnContactTime)?;
    Ok(AgentInterval {
        kind: AgentInterval::KIND,
        schema: SCHEMA,
        basis: REPORT_BASIS,
        instance: base.instance,
        agent_login,
        agent_id: None,
        interval_start: base.interval_start,
        interval_minutes: base.interval_minutes,
        login_time_s: login,
        not_ready_time_s: not_ready,
        ready_time_s: remainder(login, not_ready),
        idle_time_s: idle,
        on_contact_time_s: on_contact,
        active: any_positive(&[login, not_ready, idle, on_contact]),
        source: base.source,
    })
}
