//! Cold start of the function binaries, measured with a minimal stand-in for the Lambda
//! Runtime API on 127.0.0.1: the time from spawning the process to its first
//! `GET /2018-06-01/runtime/invocation/next` (the function is ready for its first event).
//! Also prints each binary's size.
//!
//!   startup_bench [runs] [DIR]   (default 20 runs of each binary in target/release)
//!
//! The functions are given table and bucket names and AWS_ENDPOINT_URL pointing at a loopback
//! listener that answers every request `200 OK` with no body, so nothing leaves the machine and
//! the connections each function opens during its init (one request per endpoint, see
//! `connect_wfm_aws::warm`) are part of the time, as they are in Lambda's init.

#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use connect_wfm_bench::median;

const FUNCTIONS: [&str; 5] = [
    "agent-events",
    "historical-reports",
    "bucket-notifications",
    "contact-events",
    "sweep",
];

/// A loopback HTTP endpoint answering every request `200 OK` (no body), each connection on its
/// own thread; returns its URL.
fn answering_endpoint() -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    Ok(url)
}

/// Reads requests (head, then the body `Content-Length` gives) and answers each.
fn answer(stream: TcpStream) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err()
            || writer
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .is_err()
        {
            return;
        }
    }
}

/// Spawns `binary` against a fresh Runtime API listener; returns the time to its first
/// `/next` request.
fn time_to_ready(binary: &Path, endpoint: &str) -> Result<Duration, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "startup-bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("STATE_TABLE", "states")
        .env("CLAIM_TABLE", "claims")
        .env("CONTACT_TABLE", "contacts")
        .env("FEED_BUCKET", "feed")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
    let result = (|| {
        let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .map_err(|e| format!("read: {e}"))?;
        let elapsed = started.elapsed();
        if line.starts_with("GET /2018-06-01/runtime/invocation/next") {
            Ok(elapsed)
        } else {
            Err(format!("unexpected first request: {line:?}"))
        }
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let dir = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release"));
    let endpoint = match answering_endpoint() {
        Ok(url) => url,
        Err(e) => {
            eprintln!("the AWS stand-in: {e}");
            std::process::exit(1);
        }
    };
    for function in FUNCTIONS {
        let binary = dir.join(function);
        let size = match std::fs::metadata(&binary) {
            Ok(meta) => meta.len(),
            Err(e) => {
                eprintln!("{}: {e} (build it: cargo build --release --bins)", binary.display());
                std::process::exit(1);
            }
        };
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            match time_to_ready(&binary, &endpoint) {
                Ok(t) => times.push(t.as_secs_f64() * 1000.0),
                Err(e) => {
                    eprintln!("{function}: {e}");
                    std::process::exit(1);
                }
            }
        }
        let (min, max) = (
            times.iter().copied().fold(f64::INFINITY, f64::min),
            times.iter().copied().fold(0.0, f64::max),
        );
        println!(
            "{function}: binary {:.1} MB; start to ready over {runs} runs: min {min:.1} ms, median {:.1} ms, max {max:.1} ms",
            size as f64 / 1e6,
            median(&mut times)
        );
    }
}
