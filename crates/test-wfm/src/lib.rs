//! A WFM on 127.0.0.1 for tests: a tiny HTTP/1.1 server (keep-alive, Content-Length bodies)
//! that implements each target's documented contract and keeps what it took, in order.
//!
//! - `calabrio`: `POST /Rta/State/Batch`, JSON `{AuthenticationKey, SourceId, IsSnapshot,
//!   States: [{UserCode, StateCode}]}`; 401 for a wrong key, 400 for a body of another shape or
//!   more than 1,000 states, and 400 for the whole batch when one StateCode is unknown (`BAD`).
//! - `webhook`: `POST /hook`, a JSON array, `Connect-Wfm-Signature` checked against the secret
//!   (401 when wrong), `Idempotency-Key` kept; 400 for a record whose `state` is `BAD`.
//!
//! `down(n)` answers the next n calls with 503 (a WFM that is down); `throttle(n)` with 429 and
//! `Retry-After: 1`.
//!
//! One crate for the CLI's tests (`connect-wfm push`) and the end-to-end tests of the wfm-push
//! function, so both test against the same WFM.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    Calabrio,
    Webhook,
}

/// One call the WFM took.
#[derive(Debug, Clone)]
pub struct Taken {
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// When the call was taken.
    pub at: std::time::SystemTime,
}

#[derive(Default)]
struct State {
    down: usize,
    throttle: usize,
    calls: usize,
    taken: Vec<Taken>,
    refused: Vec<String>,
}

#[derive(Clone)]
pub struct Wfm {
    pub url: String,
    state: Arc<Mutex<State>>,
}

pub const KEY: &str = "rta-key-123";
pub const SECRET: &str = "whsec_local";

impl Wfm {
    pub fn start(contract: Contract) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, contract, &state));
            }
        });
        let url = match contract {
            Contract::Calabrio => format!("http://{addr}"),
            Contract::Webhook => format!("http://{addr}/hook"),
        };
        Self { url, state }
    }

    pub fn down(&self, calls: usize) {
        self.state.lock().unwrap().down = calls;
    }

    pub fn throttle(&self, calls: usize) {
        self.state.lock().unwrap().throttle = calls;
    }

    /// Calls answered, whatever the answer.
    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }

    /// Calls taken (2xx), in order.
    pub fn taken(&self) -> Vec<Taken> {
        self.state.lock().unwrap().taken.clone()
    }

    /// Calabrio: every state taken, in order, as (UserCode, StateCode, IsSnapshot).
    pub fn states(&self) -> Vec<(String, String, bool)> {
        self.taken()
            .iter()
            .flat_map(|t| {
                let snapshot = t.body["IsSnapshot"].as_bool().unwrap();
                t.body["States"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |s| {
                        (
                            s["UserCode"].as_str().unwrap().to_owned(),
                            s["StateCode"].as_str().unwrap().to_owned(),
                            snapshot,
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Webhook: every record taken, in order.
    pub fn records(&self) -> Vec<Value> {
        self.taken()
            .iter()
            .flat_map(|t| t.body.as_array().unwrap().clone())
            .collect()
    }
}

fn serve(stream: TcpStream, contract: Contract, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let (status, extra, text) = answer(contract, &request_line, &headers, &body, state);
        let response = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{extra}\r\n{text}",
            text.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn answer(
    contract: Contract,
    request_line: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
    state: &Mutex<State>,
) -> (u16, String, String) {
    let mut state = state.lock().unwrap();
    state.calls += 1;
    if state.down > 0 {
        state.down -= 1;
        return (503, String::new(), "down for maintenance".into());
    }
    if state.throttle > 0 {
        state.throttle -= 1;
        return (429, "Retry-After: 1\r\n".into(), "slow down".into());
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    if !request_line.starts_with("POST ") || headers.get("content-type").map(String::as_str) != Some("application/json")
    {
        return (400, String::new(), "a JSON POST expected".into());
    }
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return (400, String::new(), "not JSON".into());
    };
    match contract {
        Contract::Calabrio => {
            if path != "/Rta/State/Batch" {
                return (404, String::new(), "no such endpoint".into());
            }
            let Some(object) = json.as_object() else {
                return (400, String::new(), "an object expected".into());
            };
            let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
            keys.sort_unstable();
            if keys != ["AuthenticationKey", "IsSnapshot", "SourceId", "States"] {
                return (400, String::new(), format!("unexpected fields {keys:?}"));
            }
            if json["AuthenticationKey"] != KEY {
                return (401, String::new(), "wrong key".into());
            }
            let states = json["States"].as_array().cloned().unwrap_or_default();
            if states.is_empty() || states.len() > 1000 || !json["IsSnapshot"].is_boolean() {
                return (400, String::new(), "1 to 1000 states, IsSnapshot a boolean".into());
            }
            if let Some(bad) = states.iter().find(|s| s["StateCode"] == "BAD") {
                let message = format!("StateCode BAD of {} is not configured", bad["UserCode"]);
                state.refused.push(message.clone());
                return (400, String::new(), message);
            }
        }
        Contract::Webhook => {
            let signature = headers.get("connect-wfm-signature").cloned().unwrap_or_default();
            // What a receiver does: t and v1 from the header, HMAC of "<t>.<body>", compared.
            let parts: HashMap<&str, &str> = signature.split(',').filter_map(|p| p.split_once('=')).collect();
            let t = parts.get("t").copied().unwrap_or("");
            let mut signed = format!("{t}.").into_bytes();
            signed.extend_from_slice(body);
            let expected = connect_wfm_core::push::webhook::hmac_sha256_hex(SECRET.as_bytes(), &signed);
            if parts.get("v1").copied() != Some(expected.as_str()) || headers.get("idempotency-key").is_none() {
                return (401, String::new(), "bad signature".into());
            }
            let Some(records) = json.as_array() else {
                return (400, String::new(), "an array expected".into());
            };
            if let Some(bad) = records.iter().find(|r| r["state"] == "BAD") {
                let message = format!("state BAD of {} is not configured", bad["event_id"]);
                return (400, String::new(), message);
            }
        }
    }
    state.taken.push(Taken {
        headers: headers.clone(),
        body: json,
        at: std::time::SystemTime::now(),
    });
    (200, String::new(), "{}".into())
}
