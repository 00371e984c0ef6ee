//! [`DynamoStateStore`]: the agent-state port on a DynamoDB table (layout in [`crate::item`]).

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use connect_wfm_core::agent::AgentState;
use connect_wfm_core::agent::instance_id_of_agent_arn;
use connect_wfm_core::ports::{AgentStateStore, CommitOutcome, KnownAgent, LoadedStates, PortError, UnreadableState};
use connect_wfm_core::retry::Backoff;
use futures_util::StreamExt as _;
use futures_util::future::try_join_all;

use crate::batch::{Consistency, batch_get, batch_get_as, query_index};
use crate::error::port_error;
use crate::item::{
    AGENT_ARN, AGENT_LOGIN, Item, ItemError, ItemReader, PROGRESS_KEY, SILENT_SINCE, WM_MS, WM_N, agent_key,
    agent_state_from_item, agent_state_to_item, item_to_json, parse_unreadable_version, stored_time,
    unreadable_version,
};
use crate::schema::BY_LOGIN_INDEX;

/// Login queries in flight at once.
const LOGIN_QUERY_CONCURRENCY: usize = 8;
/// Items per TransactWriteItems request: the DynamoDB limit.
const TRANSACTION_LIMIT: usize = 100;
/// Transactions of [`AgentStateStore::commit_many`] in flight at once: one. The heaviest minute
/// (10,000 agents: 100 transactions of a few tens of milliseconds each) stays far within the
/// sweep's timeout, and the emulator the tests run on restores a whole-table backup when a
/// transaction fails, which would undo a concurrent transaction's writes there.
const TRANSACTION_CONCURRENCY: usize = 1;
/// Pauses before sending again a transaction cancelled only by conflicts or throttling.
const TRANSACTION_RETRY: Backoff = Backoff::new(Duration::from_millis(25), Duration::from_millis(400), 5);

/// The commit condition of `state`, exactly as `AgentState::may_replace`: no row yet, or the
/// stored (wm_ms, wm_n, silent) is strictly behind; and a stored `silent_since` is `state`'s own
/// or the one it recovered from. Returns the expression and its values.
fn commit_condition(state: &AgentState) -> (String, Vec<(&'static str, AttributeValue)>) {
    let (ms, n, _) = state.commit_key();
    let mut values = vec![
        (":ms", AttributeValue::N(ms.to_string())),
        (":n", AttributeValue::N(n.to_string())),
    ];
    let mut order = String::from("attribute_not_exists(agent_arn) OR wm_ms < :ms OR (wm_ms = :ms AND wm_n < :n)");
    if state.is_silent() {
        // UNKNOWN keeps the watermark: it orders just past the same watermark without silence.
        order.push_str(&format!(
            " OR (wm_ms = :ms AND wm_n = :n AND attribute_not_exists({SILENT_SINCE}))"
        ));
    }
    let mut guard = format!("attribute_not_exists({SILENT_SINCE})");
    if let Some(since) = &state.silent_since {
        guard.push_str(&format!(" OR {SILENT_SINCE} = :silent"));
        values.push((":silent", AttributeValue::S(stored_time(since))));
    }
    if let Some(since) = &state.last_silence {
        guard.push_str(&format!(" OR {SILENT_SINCE} = :recovered"));
        values.push((":recovered", AttributeValue::S(stored_time(since))));
    }
    (format!("({order}) AND ({guard})"), values)
}

/// Last-known agent states in a DynamoDB table keyed by `agent_arn`, with the `by_login`
/// global secondary index (see [`crate::schema::create_agent_state_table`]).
///
/// Reads are strongly consistent: a batch must see the commit of the batch before it, or it
/// would emit transitions again that the watermark condition then refuses to store.
#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    pub client: Client,
    pub table: String,
    /// The roster table (the agents' and queues' latest profiles), when the deployment keeps one.
    pub roster: Option<String>,
}

impl DynamoStateStore {
    /// A store on `table`, reached through `client`, keeping no roster.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            roster: None,
        }
    }

    /// The same store, keeping the roster in table `roster` ([`crate::roster_store`]).
    pub fn with_roster(mut self, roster: impl Into<String>) -> Self {
        self.roster = Some(roster.into());
        self
    }

    /// An item that cannot be read, as the handler keeps it: location, reason, raw attributes
    /// and the version token of its watermark attributes.
    fn unreadable(&self, item: &Item, error: ItemError) -> UnreadableState {
        UnreadableState {
            agent_arn: match item.get(AGENT_ARN) {
                Some(AttributeValue::S(arn)) => arn.clone(),
                _ => String::new(),
            },
            location: format!("table {}, item {}", error.table, error.key),
            reason: format!("attribute `{}` {}", error.attribute, error.problem),
            raw: item_to_json(item).to_string().into_bytes(),
            version: unreadable_version(item),
        }
    }

    /// Every agent the `by_login` index holds for `login`. Index items that cannot be read are
    /// logged and left out. The index holds keys only: an agent's last-seen is read from its
    /// row, and only where it decides something (one login, two agents of one instance: Connect
    /// recreated the agent under a new id).
    async fn agents_of_login(&self, login: &str) -> Result<Vec<KnownAgent>, PortError> {
        // Never put the login (personal data) in an error or log line.
        let operation = || format!("query index {BY_LOGIN_INDEX} of table {}", self.table);
        let items = query_index(
            &self.client,
            &self.table,
            Some(BY_LOGIN_INDEX),
            AGENT_LOGIN,
            login,
            operation,
        )
        .await?;
        // (agent ARN, agent): the ARN is the row's key.
        let mut agents: Vec<(String, KnownAgent)> = Vec::with_capacity(items.len());
        for item in &items {
            match known_agent_from_index_item(&self.table, login, item) {
                Ok(agent) => agents.push(agent),
                Err(e) => tracing::warn!(error = %e, "index item cannot be read; left out of the agent-id lookup"),
            }
        }
        let shared_instance = agents
            .iter()
            .enumerate()
            .any(|(i, (_, a))| agents[..i].iter().any(|(_, b)| b.instance_id == a.instance_id));
        if shared_instance {
            let keys = agents.iter().map(|(arn, _)| agent_key(arn)).collect();
            for row in batch_get_as(&self.client, &self.table, keys, "agent states", Consistency::Eventual).await? {
                match agent_state_from_item(&self.table, &row) {
                    Ok(state) => {
                        for (_, agent) in agents.iter_mut().filter(|(arn, _)| *arn == state.agent_arn) {
                            agent.last_seen = Some(state.last_seen);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "agent-state item cannot be read; its last-seen is unknown"),
                }
            }
        }
        Ok(agents.into_iter().map(|(_, agent)| agent).collect())
    }
}

/// An agent of the `by_login` index, which projects keys only: the agent ARN (which holds the
/// instance id and the agent id) under the login. Its last-seen is not there.
fn known_agent_from_index_item(table: &str, login: &str, item: &Item) -> Result<(String, KnownAgent), ItemError> {
    let r = ItemReader::new(table, AGENT_ARN, item);
    let arn = r.string(AGENT_ARN)?;
    let instance_id = instance_id_of_agent_arn(arn).ok_or_else(|| r.error(AGENT_ARN, "is not an agent ARN"))?;
    let agent_id = arn.rsplit_once("/agent/").map(|(_, id)| id).unwrap_or_default();
    let agent = KnownAgent {
        login: login.to_owned(),
        agent_id: agent_id.to_owned(),
        instance_id: instance_id.to_owned(),
        last_seen: None,
    };
    Ok((arn.to_owned(), agent))
}

impl connect_wfm_core::ports::AgentBatchStore for DynamoStateStore {
    /// One strongly consistent BatchGetItem of the agents' rows and the progress item (100
    /// keys a request, so a batch of up to 99 agents reads both in one round trip), instead of
    /// a BatchGetItem and a GetItem.
    async fn load_batch(
        &self,
        agent_arns: &[String],
    ) -> (
        Result<LoadedStates, PortError>,
        Result<Vec<connect_wfm_core::agent::InstanceProgress>, PortError>,
    ) {
        let mut seen = HashSet::new();
        let mut keys: Vec<_> = agent_arns
            .iter()
            .map(String::as_str)
            .filter(|arn| seen.insert(*arn))
            .map(agent_key)
            .collect();
        keys.push(agent_key(PROGRESS_KEY));
        let items = match batch_get(&self.client, &self.table, keys, "agent states and the progress item").await {
            Ok(items) => items,
            Err(e) => return (Err(e.clone()), Err(e)),
        };
        let mut loaded = LoadedStates::default();
        let mut progress = Ok(Vec::new());
        for item in &items {
            if matches!(item.get(AGENT_ARN), Some(AttributeValue::S(key)) if key == PROGRESS_KEY) {
                progress = crate::sweep_store::progress_from_item(&self.table, item);
                continue;
            }
            match agent_state_from_item(&self.table, item) {
                Ok(state) => {
                    loaded.states.insert(state.agent_arn.clone(), state);
                }
                Err(e) => {
                    let unreadable = self.unreadable(item, e);
                    loaded.unreadable.insert(unreadable.agent_arn.clone(), unreadable);
                }
            }
        }
        (Ok(loaded), progress)
    }
}

impl AgentStateStore for DynamoStateStore {
    /// One strongly consistent BatchGetItem per 100 distinct agents (requests run one after the
    /// other); a malformed stored item is returned as unreadable, naming table, key and attribute.
    async fn load_many(&self, agent_arns: &[String]) -> Result<LoadedStates, PortError> {
        let mut seen = HashSet::new();
        let distinct: Vec<&str> = agent_arns
            .iter()
            .map(String::as_str)
            .filter(|arn| seen.insert(*arn))
            .collect();
        let keys = distinct.iter().map(|arn| agent_key(arn)).collect();
        let mut loaded = LoadedStates::default();
        for item in batch_get(&self.client, &self.table, keys, "agent states").await? {
            match agent_state_from_item(&self.table, &item) {
                Ok(state) => {
                    loaded.states.insert(state.agent_arn.clone(), state);
                }
                Err(e) => {
                    let unreadable = self.unreadable(&item, e);
                    loaded.unreadable.insert(unreadable.agent_arn.clone(), unreadable);
                }
            }
        }
        Ok(loaded)
    }

    /// A conditional PutItem of the whole row (the condition of `AgentState::may_replace`); a
    /// failed condition means the stored state is at or past this one, or carries an `UNKNOWN`
    /// mark this state has not seen: [`CommitOutcome::Superseded`].
    async fn commit(&self, state: &AgentState) -> Result<CommitOutcome, PortError> {
        self.put_state(state, None).await
    }

    /// TransactWriteItems of up to 100 conditional Puts (the conditions of [`Self::commit`]),
    /// one transaction after the other: a silent instance of 10,000 agents commits in 100 requests
    /// instead of 10,000 (each Put bills two write units instead of one). A transaction that a
    /// failed condition cancels is sent again without the superseded states; items cancelled by
    /// a conflict or throttling are retried with backoff.
    async fn commit_many(&self, states: &[AgentState]) -> Vec<Result<CommitOutcome, PortError>> {
        // A plain loop builds the futures: a closure here trips the `Send` inference of the
        // trait's future.
        let mut transactions = Vec::new();
        for chunk in states.chunks(TRANSACTION_LIMIT) {
            transactions.push(self.commit_transaction(chunk));
        }
        futures_util::stream::iter(transactions)
            .buffered(TRANSACTION_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// The same PutItem, whose condition also accepts the unreadable item exactly as it was
    /// read (its watermark attributes unchanged).
    async fn replace_unreadable(
        &self,
        state: &AgentState,
        unreadable: &UnreadableState,
    ) -> Result<CommitOutcome, PortError> {
        let Some((wm_ms, wm_n)) = parse_unreadable_version(&unreadable.version) else {
            return Err(PortError::new(
                format!("replace agent-state {} in table {}", state.agent_id, self.table),
                format!("`{}` is not a version token of this store", unreadable.version),
                false,
            ));
        };
        let (ms_condition, ms_value) = wm_ms.condition(WM_MS, ":old_ms");
        let (n_condition, n_value) = wm_n.condition(WM_N, ":old_n");
        let values = [(":old_ms", ms_value), (":old_n", n_value)]
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name, v)))
            .collect();
        self.put_state(state, Some((format!("({ms_condition} AND {n_condition})"), values)))
            .await
    }

    /// One Query of the `by_login` index per distinct login, up to 8 at a time.
    async fn agents_by_login(&self, logins: &[String]) -> Result<Vec<KnownAgent>, PortError> {
        let mut seen = HashSet::new();
        let distinct: Vec<&str> = logins
            .iter()
            .map(String::as_str)
            .filter(|login| !login.is_empty() && seen.insert(*login))
            .collect();
        let mut agents = Vec::with_capacity(distinct.len());
        for chunk in distinct.chunks(LOGIN_QUERY_CONCURRENCY) {
            // A plain loop builds the futures: closures here trip the `Send` inference of the
            // trait's future.
            let mut queries = Vec::with_capacity(chunk.len());
            for login in chunk {
                queries.push(self.agents_of_login(login));
            }
            agents.extend(try_join_all(queries).await?.into_iter().flatten());
        }
        Ok(agents)
    }
}

impl DynamoStateStore {
    /// One chunk of [`AgentStateStore::commit_many`]: its outcomes, in order.
    async fn commit_transaction(&self, states: &[AgentState]) -> Vec<Result<CommitOutcome, PortError>> {
        let operation = || {
            format!(
                "commit {} agent states to table {} in a transaction",
                states.len(),
                self.table
            )
        };
        let mut outcomes: Vec<Option<Result<CommitOutcome, PortError>>> = vec![None; states.len()];
        let mut pending: Vec<usize> = (0..states.len()).collect();
        let mut pauses = TRANSACTION_RETRY.delays();
        while !pending.is_empty() {
            let mut items = Vec::with_capacity(pending.len());
            for &i in &pending {
                let (condition, values) = commit_condition(&states[i]);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(agent_state_to_item(&states[i])))
                    .condition_expression(condition)
                    .set_expression_attribute_values(Some(values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
                    .build();
                match put {
                    Ok(put) => items.push(TransactWriteItem::builder().put(put).build()),
                    Err(e) => {
                        let error = PortError::new(operation(), e.to_string(), false);
                        return states.iter().map(|_| Err(error.clone())).collect();
                    }
                }
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let reasons = match result {
                Ok(_) => {
                    for &i in &pending {
                        outcomes[i] = Some(Ok(CommitOutcome::Committed));
                    }
                    break;
                }
                Err(e) => match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                        if cancelled.cancellation_reasons().len() == pending.len() =>
                    {
                        cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_owned())
                            .collect::<Vec<_>>()
                    }
                    _ => {
                        let error = port_error(operation(), &e);
                        for &i in &pending {
                            outcomes[i] = Some(Err(error.clone()));
                        }
                        break;
                    }
                },
            };
            // `None`: this Put was fine, another one cancelled the transaction.
            let mut retry = Vec::with_capacity(pending.len());
            let mut decided = false;
            for (&i, code) in pending.iter().zip(&reasons) {
                match code.as_str() {
                    "ConditionalCheckFailed" => {
                        tracing::debug!(table = %self.table, agent_id = %states[i].agent_id, "commit superseded by a stored watermark");
                        outcomes[i] = Some(Ok(CommitOutcome::Superseded));
                        decided = true;
                    }
                    "None" | "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded" => {
                        retry.push(i)
                    }
                    other => {
                        outcomes[i] = Some(Err(PortError::new(
                            format!(
                                "commit agent-state {} to table {} in a transaction",
                                states[i].agent_id, self.table
                            ),
                            format!("cancelled: {other}"),
                            false,
                        )));
                        decided = true;
                    }
                }
            }
            pending = retry;
            if !decided && !pending.is_empty() {
                // Only conflicts or throttling: wait before asking again, a few times.
                let Some(pause) = pauses.next() else {
                    let error = PortError::new(
                        operation(),
                        format!("cancelled by conflicts or throttling: {reasons:?}"),
                        true,
                    );
                    for &i in &pending {
                        outcomes[i] = Some(Err(error.clone()));
                    }
                    break;
                };
                tokio::time::sleep(pause).await;
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(PortError::new(operation(), "no outcome", true))))
            .collect()
    }

    /// PutItem of `state` under the watermark condition, or'ed with `extra` (a condition and
    /// its values) when given.
    async fn put_state(
        &self,
        state: &AgentState,
        extra: Option<(String, Vec<(&'static str, AttributeValue)>)>,
    ) -> Result<CommitOutcome, PortError> {
        let (condition, values) = commit_condition(state);
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(agent_state_to_item(state)))
            .set_expression_attribute_values(Some(values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
        let condition = match extra {
            None => condition,
            Some((extra, values)) => {
                for (name, value) in values {
                    request = request.expression_attribute_values(name, value);
                }
                format!("({condition}) OR {extra}")
            }
        };
        match request.condition_expression(condition).send().await {
            Ok(_) => Ok(CommitOutcome::Committed),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                tracing::debug!(table = %self.table, agent_id = %state.agent_id, "commit superseded by a stored watermark");
                Ok(CommitOutcome::Superseded)
            }
            Err(e) => Err(port_error(
                format!("commit agent-state {} to table {}", state.agent_id, self.table),
                &e,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use connect_wfm_core::agent::Watermark;

    /// The DynamoDB condition and `Watermark::advances` must order watermarks alike; this
    /// evaluates the condition's logic on the order keys.
    #[test]
    fn commit_condition_matches_watermark_advances() {
        let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
        let wm = |ms: i64, n: usize| Watermark {
            at: at(ms),
            event_ids: (0..n).map(|i| format!("e{i}")).collect(),
        };
        let condition = |new: &Watermark, stored: &Watermark| {
            let ((ms, n), (wm_ms, wm_n)) = (new.order_key(), stored.order_key());
            wm_ms < ms || (wm_ms == ms && wm_n < n)
        };
        for (a, b) in [
            (wm(5, 1), wm(4, 3)),
            (wm(5, 2), wm(5, 1)),
            (wm(5, 1), wm(5, 1)),
            (wm(4, 3), wm(5, 1)),
        ] {
            assert_eq!(condition(&a, &b), a.advances(&b));
            assert_eq!(condition(&b, &a), b.advances(&a));
        }
    }
}
