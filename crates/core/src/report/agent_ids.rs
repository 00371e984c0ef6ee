//! The agent id of a report row. Connect's agent reports (AQR, ASPR) name agents by login
//! only, and two Connect instances may share a login: feed.md looks the id up by
//! (instance, login), never by login alone.

use std::collections::{BTreeMap, HashMap};

use crate::ports::KnownAgent;

/// The agent id for `login` among `known` (the agents the state store knows by that login, in
/// any instance):
/// - the report's instance is known (`instance_id`): the agent of that instance, the one seen
///   last when Connect recreated the agent under a new id;
/// - the instance is unknown: the same, when every agent with that login is in one instance;
///   None when the login exists in more than one instance — never a guess.
///
/// Ties in last-seen go to the highest agent id, so the answer never depends on store order.
pub fn agent_id_for<'a>(known: &'a [KnownAgent], login: &str, instance_id: Option<&str>) -> Option<&'a str> {
    let mut candidates = known
        .iter()
        .filter(|a| a.login == login && instance_id.is_none_or(|id| a.instance_id == id))
        .peekable();
    let first_instance = candidates.peek()?.instance_id.as_str();
    let mut best: Option<&KnownAgent> = None;
    for agent in candidates {
        if agent.instance_id != first_instance {
            return None;
        }
        if best.is_none_or(|b| (agent.last_seen, &agent.agent_id) > (b.last_seen, &b.agent_id)) {
            best = Some(agent);
        }
    }
    best.map(|a| a.agent_id.as_str())
}

/// Agent ids of report rows, looked up once per (instance alias, login) in a report.
#[derive(Debug, Clone, Default)]
pub struct AgentIdCache {
    /// (instance alias, login) → the id found, or None.
    ids: HashMap<(String, String), Option<String>>,
    /// Agents fetched so far, by login.
    known: BTreeMap<String, Vec<KnownAgent>>,
}

impl AgentIdCache {
    /// The logins among `logins` not fetched yet.
    pub fn missing<'a>(&self, logins: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut missing: Vec<String> = logins
            .into_iter()
            .filter(|login| !login.is_empty() && !self.known.contains_key(*login))
            .map(str::to_owned)
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Adds what the store returned for `logins` (a login it did not return is known to have
    /// no agent).
    pub fn add(&mut self, logins: &[String], found: Vec<KnownAgent>) {
        for login in logins {
            self.known.entry(login.clone()).or_default();
        }
        for agent in found {
            self.known.entry(agent.login.clone()).or_default().push(agent);
        }
    }

    /// The agent id of `login` in the instance named `alias` (`instance_id`: the id the
    /// mapping file's `instances` gives that alias, if any).
    pub fn id(&mut self, alias: &str, instance_id: Option<&str>, login: &str) -> Option<String> {
        let key = (alias.to_owned(), login.to_owned());
        if let Some(id) = self.ids.get(&key) {
            return id.clone();
        }
        let known = self.known.get(login).map(Vec::as_slice).unwrap_or_default();
        let id = agent_id_for(known, login, instance_id).map(str::to_owned);
        self.ids.insert(key, id.clone());
        id
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn agent(login: &str, id: &str, instance: &str, seen: Option<&str>) -> KnownAgent {
        KnownAgent {
            login: login.into(),
            agent_id: id.into(),
            instance_id: instance.into(),
            last_seen: seen.map(|t| t.parse::<DateTime<Utc>>().unwrap()),
        }
    }

    #[test]
    fn the_instance_decides_between_two_agents_sharing_a_login() {
        let known = [
            agent("jdoe", "a-east", "i-east", Some("2026-11-20T10:00:00Z")),
            agent("jdoe", "a-west", "i-west", Some("2026-11-20T11:00:00Z")),
        ];
        assert_eq!(agent_id_for(&known, "jdoe", Some("i-east")), Some("a-east"));
        assert_eq!(agent_id_for(&known, "jdoe", Some("i-west")), Some("a-west"));
        // Unknown instance and the login in two instances: null, never the one seen last.
        assert_eq!(agent_id_for(&known, "jdoe", None), None);
        // A known instance where the login has no agent: null, not the other instance's.
        assert_eq!(agent_id_for(&known, "jdoe", Some("i-north")), None);
    }

    #[test]
    fn one_instance_gives_the_agent_seen_last_even_when_the_instance_is_unknown() {
        let known = [
            agent("jdoe", "a-old", "i-1", Some("2026-11-01T10:00:00Z")),
            agent("jdoe", "a-new", "i-1", Some("2026-11-20T10:00:00Z")),
            agent("ann", "a-ann", "i-2", None),
        ];
        assert_eq!(agent_id_for(&known, "jdoe", None), Some("a-new"));
        assert_eq!(agent_id_for(&known, "jdoe", Some("i-1")), Some("a-new"));
        assert_eq!(agent_id_for(&known, "ann", None), Some("a-ann"));
        assert_eq!(agent_id_for(&known, "nobody", None), None);
    }

    #[test]
    fn a_tie_in_last_seen_goes_to_the_highest_id_whatever_the_order() {
        let a = agent("jdoe", "a-1", "i-1", None);
        let b = agent("jdoe", "a-2", "i-1", None);
        assert_eq!(agent_id_for(&[a.clone(), b.clone()], "jdoe", None), Some("a-2"));
        assert_eq!(agent_id_for(&[b, a], "jdoe", None), Some("a-2"));
    }

    #[test]
    fn the_cache_asks_the_store_once_per_login_and_answers_per_instance() {
        let mut cache = AgentIdCache::default();
        let logins = cache.missing(["jdoe", "ann", "jdoe", ""]);
        assert_eq!(logins, ["ann", "jdoe"]);
        cache.add(
            &logins,
            vec![
                agent("jdoe", "a-east", "i-east", None),
                agent("jdoe", "a-west", "i-west", None),
            ],
        );
        assert!(cache.missing(["jdoe", "ann"]).is_empty());
        assert_eq!(cache.id("east", Some("i-east"), "jdoe").as_deref(), Some("a-east"));
        assert_eq!(cache.id("unmapped", None, "jdoe"), None);
        assert_eq!(cache.id("east", Some("i-east"), "ann"), None);
    }
}
