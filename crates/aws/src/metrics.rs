//! CloudWatch metrics in the Embedded Metric Format (EMF): the functions count with the
//! `metrics` facade, and [`Metrics::flush`] writes what was counted as one EMF document on
//! standard output after each invocation, where CloudWatch Logs turns it into metrics (no API
//! call, no extra permission). Without [`Metrics::init`] the facade records nothing, so
//! handlers and tests need no set-up.

use std::io::Write;

use metrics_cloudwatch_embedded::{Builder, Collector};

use crate::config::{ConfigError, Env};

/// Environment variable naming the CloudWatch namespace of the metrics (optional, default
/// `connect-wfm`).
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";

/// The process's metrics recorder.
#[derive(Clone, Copy)]
pub struct Metrics {
    collector: &'static Collector,
}

impl Metrics {
    /// Installs the EMF recorder for this process, every metric with the dimension
    /// `Function` = `function`. Call once, at cold start.
    pub fn init(env: &Env, function: &'static str) -> Result<Self, ConfigError> {
        let namespace = env
            .optional(METRICS_NAMESPACE)
            .unwrap_or_else(|| "connect-wfm".to_owned());
        let collector = Builder::new()
            .cloudwatch_namespace(namespace)
            .with_dimension("Function", function)
            .init()
            .map_err(|e| ConfigError::Inconsistent {
                message: format!("metrics recorder could not start: {e}"),
            })?;
        Ok(Self { collector })
    }

    /// Writes the metrics counted since the last flush to `out` (standard output in Lambda) as
    /// EMF documents, and resets the counters. A failed write is logged: metrics never fail an
    /// invocation.
    pub fn flush(&self, out: impl Write) {
        if let Err(e) = self.collector.flush(out) {
            tracing::warn!(error = %e, "could not write metrics");
        }
    }

    /// [`Metrics::flush`] to standard output.
    pub fn flush_stdout(&self) {
        self.flush(std::io::stdout().lock());
    }
}
