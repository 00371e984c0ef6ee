//! What the connector costs to run, from counted requests and a measured duration, at a chosen
//! memory size: per million agent events and per report file. It prints the price table it
//! used beside the result; nothing here is measured, the inputs are (scripts/bench passes them).
//!
//!   cost_model <agent events/s on one full core> <report rows/s on one full core> [MB]
//!
//! The model (one Kinesis batch of 100 records, 10 of its agents changing; one QR file of 200
//! rows), the requests counted by the end-to-end test against the emulator:
//!
//! - agent-events, per batch: 1 invocation; 1 BatchGetItem of the batch's agents; 1 PutItem per
//!   changed agent; 1 S3 PUT of the feed object (all transitions of a batch share one object per
//!   UTC date); the instance's progress (read with the agents; carried by the rows committed, so
//!   no write of its own). Duration: CPU time (decoding at the measured rate, plus
//!   [`REQUEST_CPU_S`] per request) at the memory size's share of a core (Lambda gives 1 vCPU at
//!   1,769 MB, proportionally less below) plus the round trips (BatchGetItem, the PUT, the
//!   commits in parallel), taken as 15 ms each. DynamoDB is priced by units, not requests.
//! - historical-reports, per file: 1 SQS-triggered invocation; 1 S3 GET of the report; the claim
//!   (2 conditional writes: IN_PROGRESS, COMPLETED); 1 S3 PUT per 1,000 records; 4 round trips.

use std::process::ExitCode;

/// Prices (USD) used by the model: AWS list prices, us-east-1, arm64, on-demand, as published
/// in 2025. Check https://aws.amazon.com/lambda/pricing/ and the DynamoDB, S3 and SQS pages for
/// your region.
struct Prices {
    lambda_gb_second: f64,
    lambda_request: f64,
    dynamodb_write_unit: f64,
    dynamodb_read_unit: f64,
    s3_put: f64,
    s3_get: f64,
    sqs_request: f64,
}

const PRICES: Prices = Prices {
    lambda_gb_second: 0.000_013_333_4,
    lambda_request: 0.20 / 1e6,
    dynamodb_write_unit: 0.625 / 1e6,
    dynamodb_read_unit: 0.125 / 1e6,
    s3_put: 0.005 / 1e3,
    s3_get: 0.0004 / 1e3,
    sqs_request: 0.40 / 1e6,
};

/// Memory at which Lambda gives a function one full vCPU.
const FULL_CORE_MB: f64 = 1769.0;
/// One round trip to DynamoDB or S3 from Lambda in the same region, taken as typical.
const ROUND_TRIP_S: f64 = 0.015;
/// CPU time of one AWS request in the SDK (building, signing, sending, reading the answer), on
/// one full core: measured by `scripts/bench` on the release binaries run as Lambda runs them,
/// about 0.4 ms (agent-events: 100-110 ms for a 4,000-record batch of 250 agents' commits,
/// less its decoding; the sweep: 0.45 ms per silent agent, a PutItem and a feed line each).
const REQUEST_CPU_S: f64 = 0.000_4;

const BATCH_RECORDS: f64 = 100.0;
const CHANGED_AGENTS: f64 = 10.0;
const REPORT_ROWS: f64 = 200.0;

struct Cost {
    lambda: f64,
    requests: f64,
    duration_s: f64,
}

fn lambda_cost(duration_s: f64, memory_mb: f64) -> f64 {
    // Lambda bills whole milliseconds.
    let billed = (duration_s * 1000.0).ceil() / 1000.0;
    billed * memory_mb / 1024.0 * PRICES.lambda_gb_second + PRICES.lambda_request
}

fn agent_batch(events_per_core_second: f64, memory_mb: f64) -> Cost {
    let cpu_share = (memory_mb / FULL_CORE_MB).min(1.0);
    // BatchGetItem (agents and progress), PutItem per changed agent, S3 PUT.
    let requests_made = 2.0 + CHANGED_AGENTS;
    let cpu_s = BATCH_RECORDS / events_per_core_second + requests_made * REQUEST_CPU_S;
    let duration_s = cpu_s / cpu_share + 3.0 * ROUND_TRIP_S;
    // Agent rows are under 1 KB: one write unit per PutItem; BatchGetItem reads are strongly
    // consistent (a batch must see the one before it), one read unit per item under 4 KB (the
    // progress item among them).
    let commits = CHANGED_AGENTS * PRICES.dynamodb_write_unit + CHANGED_AGENTS * PRICES.dynamodb_read_unit;
    let progress = PRICES.dynamodb_read_unit;
    let requests = commits + progress + PRICES.s3_put;
    Cost {
        lambda: lambda_cost(duration_s, memory_mb),
        requests,
        duration_s,
    }
}

fn report_file(rows_per_core_second: f64, memory_mb: f64) -> Cost {
    let cpu_share = (memory_mb / FULL_CORE_MB).min(1.0);
    // S3 GET, two claim writes, S3 PUT per 1,000 records.
    let requests_made = 3.0 + (REPORT_ROWS / 1000.0).ceil();
    let cpu_s = REPORT_ROWS / rows_per_core_second + requests_made * REQUEST_CPU_S;
    let duration_s = cpu_s / cpu_share + 4.0 * ROUND_TRIP_S;
    let requests = PRICES.sqs_request * 3.0 // receive, delete, and the S3 notification's send
        + PRICES.s3_get
        + 2.0 * PRICES.dynamodb_write_unit
        + (REPORT_ROWS / 1000.0).ceil() * PRICES.s3_put;
    Cost {
        lambda: lambda_cost(duration_s, memory_mb),
        requests,
        duration_s,
    }
}

fn main() -> ExitCode {
    let args: Vec<f64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (Some(&events), Some(&rows)) = (args.first(), args.get(1)) else {
        eprintln!("usage: cost_model <agent events/s on one core> <report rows/s on one core> [memory MB]");
        return ExitCode::FAILURE;
    };
    // 128 MB is what template.yaml gives the functions; 256 MB for comparison.
    let sizes: Vec<f64> = match args.get(2) {
        Some(&mb) => vec![mb],
        None => vec![128.0, 256.0],
    };
    println!(
        "price table (USD, us-east-1, arm64, on-demand list prices 2025): Lambda {:.10}/GB-s + {:.2}/M requests; \
         DynamoDB {:.3}/M write units, {:.3}/M read units; S3 {:.4}/1k PUT, {:.4}/1k GET; SQS {:.2}/M requests",
        PRICES.lambda_gb_second,
        PRICES.lambda_request * 1e6,
        PRICES.dynamodb_write_unit * 1e6,
        PRICES.dynamodb_read_unit * 1e6,
        PRICES.s3_put * 1e3,
        PRICES.s3_get * 1e3,
        PRICES.sqs_request * 1e6
    );
    println!(
        "inputs: {events:.0} agent events/s and {rows:.0} report rows/s on one full core; batches of {BATCH_RECORDS} records \
         with {CHANGED_AGENTS} agents changing; report files of {REPORT_ROWS} rows; {:.0} ms per round trip; {:.1} ms of CPU per request",
        ROUND_TRIP_S * 1000.0,
        REQUEST_CPU_S * 1000.0
    );
    for memory in sizes {
        let batch = agent_batch(events, memory);
        let per_million = 1e6 / BATCH_RECORDS;
        let report = report_file(rows, memory);
        println!(
            "{memory:.0} MB: per million agent events ${:.4} (Lambda ${:.4}, DynamoDB + S3 ${:.4}; {:.0} ms per batch); \
             per report file ${:.7} (Lambda ${:.7}, requests ${:.7}; {:.0} ms)",
            (batch.lambda + batch.requests) * per_million,
            batch.lambda * per_million,
            batch.requests * per_million,
            batch.duration_s * 1000.0,
            report.lambda + report.requests,
            report.lambda,
            report.requests,
            report.duration_s * 1000.0
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_memory_shortens_the_cpu_part_and_costs_more_per_millisecond() {
        let (small, large) = (agent_batch(150_000.0, 128.0), agent_batch(150_000.0, 256.0));
        assert!(small.duration_s > large.duration_s);
        assert!(small.duration_s > 3.0 * ROUND_TRIP_S);
        // The requests do not depend on the memory size.
        assert_eq!(small.requests, large.requests);
        // 10 writes (the progress rides on the rows), 10 + 1 strongly consistent read units (the
        // agents and the progress item) and one PUT per batch of 100 events.
        let expected = 10.0 * 0.625 / 1e6 + 11.0 * 0.125 / 1e6 + 0.005 / 1e3;
        assert!((small.requests - expected).abs() < 1e-12);
    }

    #[test]
    fn lambda_bills_whole_milliseconds() {
        let one_ms = lambda_cost(0.0001, 1024.0) - PRICES.lambda_request;
        assert!((one_ms - 0.001 * PRICES.lambda_gb_second).abs() < 1e-15);
    }
}
