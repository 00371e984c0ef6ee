//! The shape of connect-wfm's DynamoDB tables, defined once: used by the end-to-end tests and
//! by local set-up. (The SAM template declares the same tables for deployments.)

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

use crate::error::describe;
use crate::item::{AGENT_ARN, AGENT_ID, AGENT_LOGIN, CLAIM_ID, EXPIRES_AT, LAST_SEEN};

/// Global secondary index of the agent-state table: partition key `agent_login`, projecting
/// `agent_id` and `last_seen`. Sparse: agents without a known login are not in it.
pub const BY_LOGIN_INDEX: &str = "by_login";

/// How long to wait for a new table to become ACTIVE.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// A table that could not be created, naming it and the step that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("table {table}: {step} failed: {message}")]
pub struct SchemaError {
    pub table: String,
    pub step: &'static str,
    pub message: String,
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("attribute name and key type are set")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute name and type are set")
}

/// Creates the agent-state table `name` (on-demand billing, key `agent_arn`, the
/// [`BY_LOGIN_INDEX`] index) and waits until it is ACTIVE.
pub async fn create_agent_state_table(client: &Client, name: &str) -> Result<(), SchemaError> {
    let error = |step: &'static str, message: String| SchemaError {
        table: name.to_owned(),
        step,
        message,
    };
    let by_login = GlobalSecondaryIndex::builder()
        .index_name(BY_LOGIN_INDEX)
        .key_schema(key(AGENT_LOGIN, KeyType::Hash))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes(AGENT_ID)
                .non_key_attributes(LAST_SEEN)
                .build(),
        )
        .build()
        .expect("index name, key schema and projection are set");
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(AGENT_ARN))
        .attribute_definitions(string_attribute(AGENT_LOGIN))
        .key_schema(key(AGENT_ARN, KeyType::Hash))
        .global_secondary_indexes(by_login)
        .send()
        .await
        .map_err(|e| error("CreateTable", describe(&e)))?;
    wait_active(client, name).await
}

/// Creates the claim table `name` (on-demand billing, key `claim_id`), waits until it is
/// ACTIVE and turns on TTL on `expires_at`.
pub async fn create_claim_table(client: &Client, name: &str) -> Result<(), SchemaError> {
    let error = |step: &'static str, message: String| SchemaError {
        table: name.to_owned(),
        step,
        message,
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(CLAIM_ID))
        .key_schema(key(CLAIM_ID, KeyType::Hash))
        .send()
        .await
        .map_err(|e| error("CreateTable", describe(&e)))?;
    wait_active(client, name).await?;
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(EXPIRES_AT)
        .build()
        .expect("enabled and attribute name are set");
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| error("UpdateTimeToLive", describe(&e)))?;
    Ok(())
}

async fn wait_active(client: &Client, name: &str) -> Result<(), SchemaError> {
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(TABLE_ACTIVE_TIMEOUT)
        .await
        .map_err(|e| SchemaError {
            table: name.to_owned(),
            step: "waiting for ACTIVE",
            message: aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
        })?;
    Ok(())
}
