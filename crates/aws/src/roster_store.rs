//! The roster table: every agent's and queue's latest profile (feed.md `agent_profile`,
//! `queue_profile`), the DynamoDB side of the [`RosterStore`] port of [`DynamoStateStore`].
//!
//! | attribute | type | content |
//! |---|---|---|
//! | `instance_id` | S | partition key: the Connect instance id |
//! | `member` | S | sort key: `agent#<agent id>` or `queue#<queue id>` |
//! | `record` | S | the profile record as the feed has it (JSON) |
//!
//! Written only when a profile is (an agent first seen or changed, a queue first seen, renamed or
//! with a new channel), read by agent-events for the queues a new profile names (one
//! BatchGetItem) and by the sweep once a day for the roster (one Query per instance, pages of
//! 1 MB). Items stay until replaced: no TTL.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use connect_wfm_core::agent::{AgentProfileRecord, QueueProfileRecord};
use connect_wfm_core::ports::{PortError, Roster, RosterStore};
use serde::Serialize;

use crate::batch::{Consistency, batch_get_as, batch_write, query_index};
use crate::item::Item;
use crate::state_store::DynamoStateStore;

/// Partition key of the roster table.
pub const INSTANCE_ID: &str = "instance_id";
/// Sort key of the roster table.
pub const MEMBER: &str = "member";
const RECORD: &str = "record";
const AGENT: &str = "agent#";
const QUEUE: &str = "queue#";

fn key(instance_id: &str, member: String) -> Item {
    HashMap::from([
        (INSTANCE_ID.to_owned(), AttributeValue::S(instance_id.to_owned())),
        (MEMBER.to_owned(), AttributeValue::S(member)),
    ])
}

fn put<R: Serialize>(instance_id: &str, member: String, record: &R) -> Result<WriteRequest, PortError> {
    let json = serde_json::to_string(record)
        .map_err(|e| PortError::new(format!("encode roster item {member}"), e.to_string(), false))?;
    let mut item = key(instance_id, member);
    item.insert(RECORD.to_owned(), AttributeValue::S(json));
    let request = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|e| PortError::new("build roster PutRequest", e.to_string(), false))?;
    Ok(WriteRequest::builder().put_request(request).build())
}

/// The record an item holds; an item that cannot be read is logged and left out (a roster
/// without it beats no roster).
fn record_of<R: serde::de::DeserializeOwned>(table: &str, item: &Item) -> Option<R> {
    let member = match item.get(MEMBER) {
        Some(AttributeValue::S(member)) => member.as_str(),
        _ => "?",
    };
    match item.get(RECORD) {
        Some(AttributeValue::S(json)) => match serde_json::from_str(json) {
            Ok(record) => Some(record),
            Err(e) => {
                tracing::warn!(table, member, error = %e, "roster item cannot be read; left out");
                None
            }
        },
        _ => {
            tracing::warn!(table, member, "roster item has no `record` string; left out");
            None
        }
    }
}

impl RosterStore for DynamoStateStore {
    async fn known_queues(
        &self,
        instance_id: &str,
        queue_ids: &[String],
    ) -> Result<Vec<QueueProfileRecord>, PortError> {
        let Some(table) = &self.roster else {
            return Ok(Vec::new());
        };
        let keys = queue_ids
            .iter()
            .map(|id| key(instance_id, format!("{QUEUE}{id}")))
            .collect();
        let items = batch_get_as(&self.client, table, keys, "known queues", Consistency::Strong).await?;
        Ok(items.iter().filter_map(|item| record_of(table, item)).collect())
    }

    async fn keep_profiles(
        &self,
        agents: &[AgentProfileRecord],
        queues: &[QueueProfileRecord],
    ) -> Result<(), PortError> {
        let Some(table) = &self.roster else {
            return Ok(());
        };
        // One request per key in a BatchWriteItem: the last profile of an agent or queue wins.
        let mut requests: HashMap<(String, String), WriteRequest> = HashMap::new();
        for profile in agents {
            let member = format!("{AGENT}{}", profile.agent_id);
            let request = put(&profile.instance_id, member.clone(), profile)?;
            requests.insert((profile.instance_id.clone(), member), request);
        }
        for profile in queues {
            let member = format!("{QUEUE}{}", profile.queue_id);
            let request = put(&profile.instance_id, member.clone(), profile)?;
            requests.insert((profile.instance_id.clone(), member), request);
        }
        batch_write(&self.client, table, requests.into_values().collect(), "roster items").await
    }

    async fn forget_agents(&self, instance_id: &str, agent_ids: &[String]) -> Result<(), PortError> {
        let Some(table) = &self.roster else {
            return Ok(());
        };
        let mut requests = Vec::with_capacity(agent_ids.len());
        for id in agent_ids {
            let request = DeleteRequest::builder()
                .set_key(Some(key(instance_id, format!("{AGENT}{id}"))))
                .build()
                .map_err(|e| PortError::new("build roster DeleteRequest", e.to_string(), false))?;
            requests.push(WriteRequest::builder().delete_request(request).build());
        }
        batch_write(&self.client, table, requests, "roster deletions").await
    }

    async fn roster(&self, instance_id: &str) -> Result<Roster, PortError> {
        let Some(table) = &self.roster else {
            return Ok(Roster::default());
        };
        let operation = || format!("read the roster of instance {instance_id} from table {table}");
        let items = query_index(&self.client, table, None, INSTANCE_ID, instance_id, operation).await?;
        let mut roster = Roster::default();
        for item in items {
            match item.get(MEMBER) {
                Some(AttributeValue::S(member)) if member.starts_with(AGENT) => {
                    roster.agents.extend(record_of::<AgentProfileRecord>(table, &item));
                }
                Some(AttributeValue::S(member)) if member.starts_with(QUEUE) => {
                    roster.queues.extend(record_of::<QueueProfileRecord>(table, &item));
                }
                _ => tracing::warn!(table, "roster item with an unknown member key; left out"),
            }
        }
        Ok(roster)
    }
}
