//! Configuration of the wfm-push function, read and validated once at cold start. The WFM's
//! key or the webhook's secret is not here: only the id of the Secrets Manager secret that
//! holds it.

use std::time::Duration;

use connect_wfm_aws::config::{ConfigError, Env, FeedConfig};
use connect_wfm_core::push::Kinds;
use connect_wfm_core::push::calabrio::UserCode;

/// Environment variables of the function.
pub mod vars {
    /// `calabrio` or `webhook` (required).
    pub const WFM_TARGET: &str = "WFM_TARGET";
    /// Calabrio: the RTA's base URL; webhook: the URL posted to (required).
    pub const WFM_URL: &str = "WFM_URL";
    /// Secrets Manager secret (name or ARN) holding the key (Calabrio) or the signing secret
    /// (webhook) (required).
    pub const WFM_SECRET_ID: &str = "WFM_SECRET_ID";
    /// Calabrio: the SourceId of this data source (required for Calabrio).
    pub const WFM_SOURCE_ID: &str = "WFM_SOURCE_ID";
    /// Calabrio: `login` (default) or `id`.
    pub const WFM_USER_CODE: &str = "WFM_USER_CODE";
    /// Calabrio: `state` (default, the record's state) or `name` (the mapping's name for it).
    pub const WFM_STATE_CODE: &str = "WFM_STATE_CODE";
    /// Record kinds sent, comma-separated (default agent_state,agent_snapshot,feed_health).
    pub const WFM_KINDS: &str = "WFM_KINDS";
    /// Calls per second at most (default 5).
    pub const WFM_RATE: &str = "WFM_RATE";
    /// The target's SQS FIFO queue (required).
    pub const WFM_PUSH_QUEUE_URL: &str = "WFM_PUSH_QUEUE_URL";
    /// Seconds one invocation takes messages for (default 50; the schedule starts one a minute).
    pub const RUN_SECONDS: &str = "RUN_SECONDS";
}

/// Which target, and its settings that are not secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetConfig {
    Calabrio {
        source_id: String,
        user_code: UserCode,
        state_names: bool,
    },
    Webhook,
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The feed (its rejects keep refused records) and the mapping.
    pub feed: FeedConfig,
    pub target: TargetConfig,
    pub url: String,
    pub secret_id: String,
    pub kinds: Kinds,
    pub rate: f64,
    pub queue_url: String,
    pub run: Duration,
}

impl Config {
    /// Reads every variable; the first missing or bad one is the error.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let bad = |name: &str, value: &str, what: &str| ConfigError::Inconsistent {
            message: format!("environment variable {name}=`{value}` {what}"),
        };
        let target = match env.required(vars::WFM_TARGET)?.as_str() {
            "calabrio" => {
                let user_code = env.optional(vars::WFM_USER_CODE).unwrap_or_else(|| "login".into());
                let state_code = env.optional(vars::WFM_STATE_CODE).unwrap_or_else(|| "state".into());
                TargetConfig::Calabrio {
                    source_id: env.required(vars::WFM_SOURCE_ID)?,
                    user_code: user_code
                        .parse()
                        .map_err(|_| bad(vars::WFM_USER_CODE, &user_code, "is neither `login` nor `id`"))?,
                    state_names: match state_code.as_str() {
                        "state" => false,
                        "name" => true,
                        other => return Err(bad(vars::WFM_STATE_CODE, other, "is neither `state` nor `name`")),
                    },
                }
            }
            "webhook" => TargetConfig::Webhook,
            other => return Err(bad(vars::WFM_TARGET, other, "is neither `calabrio` nor `webhook`")),
        };
        let rate = match env.optional(vars::WFM_RATE) {
            None => connect_wfm_handlers::push::DEFAULT_RATE,
            Some(value) => value
                .parse::<f64>()
                .ok()
                .filter(|r| *r > 0.0 && r.is_finite())
                .ok_or_else(|| bad(vars::WFM_RATE, &value, "is not a number of calls per second above 0"))?,
        };
        Ok(Self {
            feed: FeedConfig::from_env(env)?,
            target,
            url: env.required(vars::WFM_URL)?,
            secret_id: env.required(vars::WFM_SECRET_ID)?,
            kinds: env
                .optional(vars::WFM_KINDS)
                .map(|k| Kinds::parse(&k))
                .unwrap_or_default(),
            rate,
            queue_url: env.required(vars::WFM_PUSH_QUEUE_URL)?,
            run: Duration::from_secs(env.number(vars::RUN_SECONDS, 50)?.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("FEED_BUCKET", "feed"),
            ("WFM_TARGET", "calabrio"),
            ("WFM_URL", "https://rta.example.com"),
            ("WFM_SECRET_ID", "connect-wfm/calabrio"),
            ("WFM_SOURCE_ID", "7"),
            ("WFM_PUSH_QUEUE_URL", "https://sqs/q.fifo"),
        ]
    }

    #[test]
    fn reads_required_and_defaults() {
        let config = Config::from_env(&Env::from_pairs(base())).unwrap();
        assert_eq!(
            config.target,
            TargetConfig::Calabrio {
                source_id: "7".into(),
                user_code: UserCode::Login,
                state_names: false
            }
        );
        assert_eq!(config.rate, 5.0);
        assert_eq!(config.run, Duration::from_secs(50));
        assert_eq!(config.kinds, Kinds::default());
    }

    #[test]
    fn a_bad_or_missing_variable_is_named() {
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "WFM_SOURCE_ID");
        let err = Config::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(err.to_string().contains("WFM_SOURCE_ID"), "{err}");
        let mut pairs = base();
        pairs.push(("WFM_RATE", "fast"));
        let err = Config::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(err.to_string().contains("WFM_RATE=`fast`"), "{err}");
        let mut pairs = base();
        pairs.push(("WFM_USER_CODE", "name"));
        assert!(Config::from_env(&Env::from_pairs(pairs)).is_err());
        let webhook = [
            ("FEED_BUCKET", "feed"),
            ("WFM_TARGET", "webhook"),
            ("WFM_URL", "https://wfm/hook"),
            ("WFM_SECRET_ID", "s"),
            ("WFM_PUSH_QUEUE_URL", "q"),
        ];
        assert_eq!(
            Config::from_env(&Env::from_pairs(webhook)).unwrap().target,
            TargetConfig::Webhook
        );
    }
}
