//! [`HttpWfmApi`]: the [`WfmApi`] port on HTTPS (or plain HTTP, for a local WFM or a test
//! server): one POST of a JSON body, its status, `Retry-After` and the start of its body.
//!
//! No retries here: the push delivery (`connect_wfm_handlers::push`) decides them. The request's
//! body may hold a key (Calabrio's `AuthenticationKey`): nothing of it reaches an error.

#![forbid(unsafe_code)]

use std::time::Duration;

use connect_wfm_core::push::answer::MESSAGE_CHARS;
use connect_wfm_core::push::{Answer, HttpRequest, WfmApi};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one call may take, connection included, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most of an answer's body that is read.
const BODY_LIMIT: usize = 64 * 1024;

/// Sends calls over one pool of kept-alive connections.
#[derive(Debug, Clone)]
pub struct HttpWfmApi {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl HttpWfmApi {
    /// A client trusting the system's root certificates; fails when none can be loaded.
    pub fn new(timeout: Duration) -> Result<Self, std::io::Error> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            timeout,
        })
    }
}

/// An error and its causes on one line (hyper-util says only "client error (Connect)").
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

impl WfmApi for HttpWfmApi {
    async fn post(&self, request: &HttpRequest) -> Result<Answer, String> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(&request.url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("connect-wfm/", env!("CARGO_PKG_VERSION")));
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let http = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            .map_err(|e| format!("not a usable request to {}: {e}", request.url))?;
        tokio::time::timeout(self.timeout, async {
            let answer = self.client.request(http).await.map_err(|e| chain(&e))?;
            let status = answer.status().as_u16();
            let retry_after = answer
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = Limited::new(answer.into_body(), BODY_LIMIT)
                .collect()
                .await
                .map(|b| {
                    String::from_utf8_lossy(&b.to_bytes())
                        .chars()
                        .take(MESSAGE_CHARS)
                        .collect::<String>()
                })
                .unwrap_or_default();
            Ok(Answer {
                status,
                retry_after,
                body,
            })
        })
        .await
        .map_err(|_| format!("no answer within {:?}", self.timeout))?
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    #[tokio::test]
    async fn a_call_gets_the_status_retry_after_and_body() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/Rta/State/Batch", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains("{\"a\":1}") {
                let n = stream.read(&mut buf).unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            stream
                .write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 4\r\n\r\nslow")
                .unwrap();
            String::from_utf8(seen).unwrap()
        });
        let api = HttpWfmApi::new(Duration::from_secs(5)).unwrap();
        let answer = api
            .post(&HttpRequest {
                url,
                headers: vec![("Idempotency-Key".into(), "abc".into())],
                body: b"{\"a\":1}".to_vec(),
            })
            .await
            .unwrap();
        assert_eq!(
            answer,
            Answer {
                status: 429,
                retry_after: Some("3".into()),
                body: "slow".into()
            }
        );
        let seen = server.join().unwrap().to_ascii_lowercase();
        assert!(seen.starts_with("post /rta/state/batch http/1.1"), "{seen}");
        assert!(seen.contains("content-type: application/json") && seen.contains("idempotency-key: abc"));
    }

    #[tokio::test]
    async fn no_listener_is_an_error_not_an_answer() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let api = HttpWfmApi::new(Duration::from_secs(5)).unwrap();
        let err = api
            .post(&HttpRequest {
                url: format!("http://127.0.0.1:{port}/"),
                headers: vec![],
                body: b"{\"AuthenticationKey\":\"k3y\"}".to_vec(),
            })
            .await
            .unwrap_err();
        assert!(!err.contains("k3y"), "{err}");
        assert!(err.to_lowercase().contains("connect"), "{err}");
    }
}
