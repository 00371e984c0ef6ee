//! A fault-injecting HTTP proxy between a function binary and the AWS emulator: every request
//! takes the next entry of a seeded schedule, which forwards it, answers 503 without forwarding,
//! closes the connection before forwarding, or forwards it and then drops the answer (the
//! request's effect stands, the caller sees a broken connection). The binaries reach it through
//! `AWS_ENDPOINT_URL`, exactly as they reach the emulator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProxyFault {
    /// 503 Service Unavailable (S3's SlowDown, DynamoDB's 5xx), nothing forwarded.
    Unavailable,
    /// The connection closed before the request was forwarded.
    ClosedBefore,
    /// The request forwarded, its answer dropped and the connection closed.
    AnswerLost,
}

impl ProxyFault {
    /// Every fault, for schedules.
    pub const ALL: [ProxyFault; 3] = [
        ProxyFault::Unavailable,
        ProxyFault::ClosedBefore,
        ProxyFault::AnswerLost,
    ];
}

/// A schedule of faults by request number, from a seed: each request is faulted with
/// probability `per_mille`/1000, the kind drawn from [`ProxyFault::ALL`]; requests after
/// `until` pass (so a driver that keeps re-delivering always finishes).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub seed: u64,
    pub per_mille: u64,
    pub until: usize,
}

impl Schedule {
    /// The fault of request `n`, if any (splitmix64 of the seed and `n`: the same every run).
    pub fn fault(&self, n: usize) -> Option<ProxyFault> {
        if n >= self.until {
            return None;
        }
        let mut z = self
            .seed
            .wrapping_add((n as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % 1000 < self.per_mille).then(|| ProxyFault::ALL[((z >> 20) % 3) as usize])
    }
}

/// A running proxy: its URL and what it injected.
pub struct FaultProxy {
    pub url: String,
    injected: Arc<Mutex<Vec<(usize, ProxyFault)>>>,
    requests: Arc<Mutex<usize>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:<port>`) with `schedule`.
    pub async fn start(upstream: &str, schedule: Schedule) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let injected = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(0usize));
        let (inj, reqs) = (Arc::clone(&injected), Arc::clone(&requests));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, schedule, inj, reqs) =
                    (upstream.clone(), schedule.clone(), Arc::clone(&inj), Arc::clone(&reqs));
                tokio::spawn(async move { serve(client, &upstream, &schedule, &inj, &reqs).await });
            }
        });
        Self {
            url,
            injected,
            requests,
        }
    }

    /// Requests seen so far.
    pub fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }

    /// Faults injected so far, by kind.
    pub fn injected(&self) -> BTreeMap<ProxyFault, usize> {
        let mut by_kind = BTreeMap::new();
        for (_, fault) in self.injected.lock().unwrap().iter() {
            *by_kind.entry(*fault).or_default() += 1;
        }
        by_kind
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    schedule: &Schedule,
    injected: &Mutex<Vec<(usize, ProxyFault)>>,
    requests: &Mutex<usize>,
) {
    let mut buffer = Vec::new();
    while let Some(request) = super::read_request(&mut client, &mut buffer).await {
        let n = {
            let mut count = requests.lock().unwrap();
            *count += 1;
            *count - 1
        };
        let fault = schedule.fault(n);
        if let Some(fault) = fault {
            injected.lock().unwrap().push((n, fault));
        }
        match fault {
            Some(ProxyFault::ClosedBefore) => return,
            Some(ProxyFault::Unavailable) => {
                let body = "Service Unavailable (injected)";
                let answer = format!(
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if client.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
            None | Some(ProxyFault::AnswerLost) => {
                let Some(answer) = forward(upstream, &request).await else {
                    return;
                };
                if fault == Some(ProxyFault::AnswerLost) || client.write_all(&answer).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends `request` to `upstream` on a connection of its own and returns the whole answer.
pub async fn forward(upstream: &str, request: &super::ReceivedRequest) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await.ok()?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if name != "connection" && name != "content-length" {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        request.body.len()
    ));
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(&request.body).await.ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    Some(answer)
}
