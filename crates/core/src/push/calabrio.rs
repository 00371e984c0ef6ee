//! Calabrio WFM (Teleopti) real-time adherence: `POST {url}/Rta/State/Batch` with
//! `{"AuthenticationKey", "SourceId", "IsSnapshot", "States": [{"UserCode", "StateCode"}]}`, at
//! most [`MAX_STATES`] states a call.
//!
//! `UserCode` is the agent's login or id ([`UserCode`]); `StateCode` the record's `state`, or
//! the code [`Calabrio::state_codes`] names for it (the `UNKNOWN` of a silent agent included).
//! `agent_snapshot` records go as `IsSnapshot: true` batches of their slot. `feed_health` has no
//! agent, so no state: a silence reaches Calabrio as the `UNKNOWN` state of each agent it
//! affects, which the sweep writes with it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{HttpRequest, Kinds, PushRecord, Secret};

/// The most states one call carries (what Teleopti's own tests send).
pub const MAX_STATES: usize = 1000;

/// The path of the batch endpoint under the configured URL.
pub const PATH: &str = "/Rta/State/Batch";

/// Which agent field is the `UserCode` Calabrio knows the agent by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserCode {
    /// `agent_login` (Connect's user name), the default.
    #[default]
    Login,
    /// `agent_id` (the last segment of the agent's ARN).
    Id,
}

impl std::str::FromStr for UserCode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "login" => Ok(UserCode::Login),
            "id" => Ok(UserCode::Id),
            other => Err(format!("user code `{other}` is neither `login` nor `id`")),
        }
    }
}

/// A Calabrio target.
#[derive(Debug, Clone)]
pub struct Calabrio {
    /// The RTA's base URL (without `/Rta/State/Batch`).
    pub url: String,
    /// The key Calabrio's RTA checks (`AuthenticationKey`).
    pub key: Secret,
    /// The data source configured in Calabrio for this connector (`SourceId`).
    pub source_id: String,
    pub user_code: UserCode,
    /// A record's `state` → the `StateCode` Calabrio knows it by; a state not listed is sent as
    /// it is.
    pub state_codes: BTreeMap<String, String>,
    pub kinds: Kinds,
    /// At most [`MAX_STATES`].
    pub max_batch: usize,
}

/// One state of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RtaState<'a> {
    pub user_code: &'a str,
    pub state_code: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchBody<'a> {
    authentication_key: &'a str,
    source_id: &'a str,
    is_snapshot: bool,
    states: Vec<RtaState<'a>>,
}

impl Calabrio {
    /// A target with the default state codes, kinds and batch size.
    pub fn new(url: impl Into<String>, key: Secret, source_id: impl Into<String>, user_code: UserCode) -> Self {
        Self {
            url: url.into(),
            key,
            source_id: source_id.into(),
            user_code,
            state_codes: BTreeMap::new(),
            kinds: Kinds::default(),
            max_batch: MAX_STATES,
        }
    }

    /// True for the kinds that carry an agent's state.
    pub fn has_states(record: &PushRecord) -> bool {
        matches!(record.kind.as_str(), "agent_state" | "agent_snapshot")
    }

    /// The state `record` becomes, or why it cannot be sent (no login to use as `UserCode`, no
    /// state). Only for records [`Calabrio::has_states`] accepts.
    pub fn state_of<'a>(&'a self, record: &'a PushRecord) -> Result<RtaState<'a>, String> {
        let user_code = match self.user_code {
            UserCode::Login => record
                .agent_login
                .as_deref()
                .ok_or("the record has no agent_login to send as UserCode")?,
            UserCode::Id => record
                .agent_id
                .as_deref()
                .ok_or("the record has no agent_id to send as UserCode")?,
        };
        let state = record.state.as_deref().ok_or("the record has no state")?;
        let state_code = self.state_codes.get(state).map_or(state, String::as_str);
        Ok(RtaState { user_code, state_code })
    }

    /// Sends each state by its name in the agent-state mapping (`Unknown` for `UNKNOWN`,
    /// `Login` for `LOGIN`) instead of the record's `state`: for a Calabrio whose state codes
    /// were set up from Connect's names.
    pub fn with_mapping_names(mut self, mapping: &crate::agent::AgentStateMapping) -> Self {
        for entry in mapping.entries() {
            self.state_codes
                .entry(entry.event_id.clone())
                .or_insert_with(|| entry.name.clone());
        }
        self
    }

    /// The endpoint: the configured URL and [`PATH`].
    pub fn endpoint(&self) -> String {
        format!("{}{PATH}", self.url.trim_end_matches('/'))
    }

    /// The request of `records` (each passing [`Calabrio::state_of`]; any other is left out).
    pub fn request(&self, records: &[&PushRecord], snapshot: bool) -> HttpRequest {
        let body = BatchBody {
            authentication_key: self.key.expose(),
            source_id: &self.source_id,
            is_snapshot: snapshot,
            states: records.iter().filter_map(|r| self.state_of(r).ok()).collect(),
        };
        HttpRequest {
            url: self.endpoint(),
            headers: Vec::new(),
            body: serde_json::to_vec(&body).expect("a batch serialises"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn target(user_code: UserCode) -> Calabrio {
        let mut target = Calabrio::new("https://rta.example.com/", Secret::new("k3y"), "7", user_code);
        target.state_codes.insert("UNKNOWN".into(), "NOSIGNAL".into());
        target
    }

    fn record(line: serde_json::Value) -> PushRecord {
        PushRecord::parse(&line.to_string()).unwrap()
    }

    #[test]
    fn a_batch_is_the_documented_body_field_by_field() {
        let records = [
            record(json!({"kind":"agent_state","agent_id":"a-1","agent_login":"jdoe","state":"Break","event_id":"e1"})),
            record(
                json!({"kind":"agent_state","agent_id":"a-2","agent_login":"asmith","state":"UNKNOWN","event_id":"e2"}),
            ),
        ];
        let refs: Vec<&PushRecord> = records.iter().collect();
        let request = target(UserCode::Login).request(&refs, false);
        assert_eq!(request.url, "https://rta.example.com/Rta/State/Batch");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({
                "AuthenticationKey": "k3y",
                "SourceId": "7",
                "IsSnapshot": false,
                "States": [
                    {"UserCode": "jdoe", "StateCode": "Break"},
                    {"UserCode": "asmith", "StateCode": "NOSIGNAL"}
                ]
            })
        );
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "no other field");
    }

    #[test]
    fn the_user_code_is_the_login_or_the_id_as_configured() {
        let r = record(json!({"kind":"agent_snapshot","agent_id":"a-1","agent_login":"jdoe","state":"Available"}));
        assert_eq!(target(UserCode::Login).state_of(&r).unwrap().user_code, "jdoe");
        assert_eq!(target(UserCode::Id).state_of(&r).unwrap().user_code, "a-1");
        let no_login = record(json!({"kind":"agent_state","agent_id":"a-1","agent_login":null,"state":"Available"}));
        assert_eq!(
            target(UserCode::Login).state_of(&no_login).unwrap_err(),
            "the record has no agent_login to send as UserCode"
        );
        assert_eq!("id".parse::<UserCode>(), Ok(UserCode::Id));
        assert!("name".parse::<UserCode>().is_err());
    }

    #[test]
    fn the_state_code_may_be_the_mappings_name() {
        let target = Calabrio::new("http://rta", Secret::new("k"), "1", UserCode::Id)
            .with_mapping_names(&crate::agent::AgentStateMapping::default());
        let code = |state: &str| {
            let r = record(json!({"kind":"agent_state","agent_id":"a","state":state}));
            target.state_of(&r).unwrap().state_code.to_owned()
        };
        assert_eq!(code("UNKNOWN"), "Unknown");
        assert_eq!(code("LOGIN"), "Login");
        assert_eq!(code("VOICE-INBOUND-CONNECTED"), "VOICE-INBOUND-CONNECTED");
        assert_eq!(
            code("Lunch"),
            "Lunch",
            "a state the mapping does not list goes as it is"
        );
    }

    #[test]
    fn a_snapshot_batch_says_so() {
        let r = record(json!({"kind":"agent_snapshot","agent_id":"a-1","agent_login":"jdoe","state":"Available"}));
        let request = target(UserCode::Login).request(&[&r], true);
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["IsSnapshot"], json!(true));
    }

    #[test]
    fn only_records_with_an_agent_state_are_states() {
        let health = record(json!({"kind":"feed_health","instance_id":"i-1","status":"silent","event_id":"h"}));
        assert!(!Calabrio::has_states(&health));
        let state = record(json!({"kind":"agent_state","agent_id":"a","state":"X"}));
        assert!(Calabrio::has_states(&state));
    }
}
