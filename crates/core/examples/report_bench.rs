//! Benchmark of the historical-report reader: a large QR report generated on the fly (never
//! held in memory) is parsed and mapped, then parsed, mapped and encoded as JSON Lines.
//! Prints rows per second and the peak resident memory (VmHWM).
//!
//! `cargo run --release -p connect-wfm-core --example report_bench [rows] [parse]`
//! (default 1,000,000 rows; `parse` runs the parse + map phase only, e.g. under `perf`).

use std::io::{self, Read, Write};
use std::time::Instant;

use connect_wfm_core::report::{ReportMapping, ReportReader, ReportSource};

const QUEUES: usize = 100;

const HEADER: &str = "StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,\
Contacts answered in 20 seconds,Contacts abandoned in 20 seconds,Service level 20 seconds,\
Contacts answered in 60 seconds,Contacts abandoned in 60 seconds,Service level 60 seconds,\
Agent interaction time,Customer hold time,After contact work time,Average queue answer time,Contacts missed\n";

/// A QR report of `rows` data rows, 100 queues per 15-minute interval, produced row by row.
struct GeneratedReport {
    rows: u64,
    produced: u64,
    /// Per queue: `,<queue>,<metrics>\n`.
    tails: Vec<Vec<u8>>,
    /// `<start>,<end>` of the current interval.
    interval: Vec<u8>,
    pending: Vec<u8>,
    offset: usize,
}

impl GeneratedReport {
    fn new(rows: u64) -> Self {
        let tails =
            (0..QUEUES)
                .map(|q| {
                    let handled = 10 + q % 37;
                    let answered20 = handled * 2 / 3;
                    format!(
                    ",\"Queue {q:03}, EMEA\",{},{handled},{},{answered20},{},{:.2}%,{},{},{:.2}%,{},{},{},{}.{},{}\n",
                    handled + 3,
                    q % 4,
                    q % 3,
                    answered20 as f64 * 100.0 / handled as f64,
                    handled - 1,
                    q % 4,
                    (handled - 1) as f64 * 100.0 / handled as f64,
                    // Some cells in Connect's thousands format, quoted as CSV requires.
                    if q % 10 == 0 { "\"1,234\"".to_owned() } else { (handled * 95).to_string() },
                    q * 3,
                    handled * 30,
                    q % 40,
                    q % 10,
                    if q % 7 == 0 { "-" } else { "0" },
                )
                .into_bytes()
                })
                .collect();
        Self {
            rows,
            produced: 0,
            tails,
            interval: Vec::new(),
            pending: HEADER.as_bytes().to_vec(),
            offset: 0,
        }
    }

    fn next_row(&mut self) -> bool {
        if self.produced == self.rows {
            return false;
        }
        let queue = (self.produced % QUEUES as u64) as usize;
        if queue == 0 {
            let interval = self.produced / QUEUES as u64;
            let start = 1_795_000_000 + interval as i64 * 900;
            let at = |secs: i64| {
                chrono::DateTime::from_timestamp(secs, 0)
                    .unwrap()
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            };
            self.interval = format!("{},{}", at(start), at(start + 900)).into_bytes();
        }
        self.pending.clear();
        self.pending.extend_from_slice(&self.interval);
        self.pending.extend_from_slice(&self.tails[queue]);
        self.offset = 0;
        self.produced += 1;
        true
    }
}

impl Read for GeneratedReport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < buf.len() {
            if self.offset == self.pending.len() && !self.next_row() {
                break;
            }
            let n = (self.pending.len() - self.offset).min(buf.len() - written);
            buf[written..written + n].copy_from_slice(&self.pending[self.offset..self.offset + n]);
            self.offset += n;
            written += n;
        }
        Ok(written)
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn rss_text() -> String {
    peak_rss_kib().map_or_else(|| "n/a".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .map(|a| a.replace('_', "").parse().expect("rows: a whole number"))
        .unwrap_or(1_000_000);
    let mapping = ReportMapping::default();
    let source = || ReportSource::new("bench-bucket", "connect/bench/Reports/QR-2026-11-20T10:30:00Z.csv");
    println!("report_bench: {rows} QR rows, {QUEUES} queues per interval, generated on the fly");
    println!("peak RSS at start: {}", rss_text());

    // The generator alone, to tell its cost from the reader's.
    let started = Instant::now();
    let bytes = io::copy(&mut GeneratedReport::new(rows), &mut io::sink()).unwrap();
    let generate = started.elapsed().as_secs_f64();
    println!(
        "generate only:        {:>10.0} rows/s  ({:.1} MB, {:.1} MB/s)",
        rows as f64 / generate,
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / generate
    );

    // Parse + map, checking memory part-way and at the end.
    let started = Instant::now();
    let reader = ReportReader::new(GeneratedReport::new(rows), source(), None, None, &mapping).unwrap();
    let (mut count, mut active, mut handled) = (0u64, 0u64, 0i64);
    let mut rss_at_tenth = None;
    for record in reader {
        let record = record.unwrap();
        count += 1;
        active += u64::from(record.active());
        if let connect_wfm_core::report::IntervalRecord::Queue(q) = &record {
            handled += q.handled.unwrap_or(0);
        }
        if count == rows / 10 {
            rss_at_tenth = Some(rss_text());
        }
    }
    let parse = started.elapsed().as_secs_f64();
    assert_eq!(count, rows);
    println!(
        "parse + map:          {:>10.0} rows/s  ({:.2} s; {active} active, {handled} handled)",
        count as f64 / parse,
        parse
    );
    println!(
        "peak RSS after 10% of rows: {}, after all rows: {}",
        rss_at_tenth.unwrap_or_default(),
        rss_text()
    );

    if std::env::args().nth(2).as_deref() == Some("parse") {
        return;
    }

    // Parse + map + JSON Lines (what the handler does before writing a feed object).
    let started = Instant::now();
    let reader = ReportReader::new(GeneratedReport::new(rows), source(), None, None, &mapping).unwrap();
    let mut out = Vec::with_capacity(1 << 20);
    let mut json_bytes = 0u64;
    for record in reader {
        serde_json::to_writer(&mut out, &record.unwrap()).unwrap();
        out.push(b'\n');
        if out.len() >= 1 << 20 {
            json_bytes += out.len() as u64;
            io::sink().write_all(&out).unwrap();
            out.clear();
        }
    }
    json_bytes += out.len() as u64;
    let encode = started.elapsed().as_secs_f64();
    println!(
        "parse + map + JSON:   {:>10.0} rows/s  ({:.2} s, {:.1} MB of JSON Lines)",
        rows as f64 / encode,
        encode,
        json_bytes as f64 / 1e6
    );
    println!("peak RSS at the end: {}", rss_text());
}
