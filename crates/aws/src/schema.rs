//! The shape of connect-wfm's DynamoDB tables, defined once: used by the end-to-end tests and
//! by local set-up. The SAM template declares the same tables for deployments; the test below
//! keeps the two equal.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

use crate::error::describe;
use crate::item::{ACTIVE_INSTANCE, AGENT_ARN, AGENT_LOGIN, CLAIM_ID, EXPIRES_AT};

/// Global secondary index of the agent-state table: partition key `agent_login`, keys only.
/// Sparse: agents without a known login are not in it. Keys only, so that no commit but the
/// one that gives an agent its login writes the index (DynamoDB bills an index write whenever a
/// projected attribute changes).
pub const BY_LOGIN_INDEX: &str = "by_login";

/// Global secondary index of the agent-state table: partition key `active_instance`, keys
/// only. Sparse: only agents that are not logged out carry the attribute, so the sweep's query
/// per instance finds those agents and no others; it then reads their rows. Keys only, so that
/// only a login or a logout writes the index, not every commit.
pub const ACTIVE_INDEX: &str = "active_by_instance";

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

/// The shape of one table: its keys, attribute definitions, indexes and TTL attribute, as
/// CreateTable and UpdateTimeToLive are given them. The SAM template declares the same (a test
/// keeps the two equal).
#[derive(Debug, Clone, PartialEq)]
pub struct TableShape {
    /// Attribute definitions of every key attribute (table and indexes).
    pub attributes: Vec<AttributeDefinition>,
    /// The table's key schema.
    pub key_schema: Vec<KeySchemaElement>,
    /// Global secondary indexes.
    pub indexes: Vec<GlobalSecondaryIndex>,
    /// The attribute that holds the expiry time, when TTL is on.
    pub ttl_attribute: Option<String>,
}

/// The agent-state table: key `agent_arn`, the [`BY_LOGIN_INDEX`] and [`ACTIVE_INDEX`] indexes.
pub fn agent_state_table() -> TableShape {
    let keys_only = || Projection::builder().projection_type(ProjectionType::KeysOnly).build();
    let by_login = GlobalSecondaryIndex::builder()
        .index_name(BY_LOGIN_INDEX)
        .key_schema(key(AGENT_LOGIN, KeyType::Hash))
        .projection(keys_only())
        .build()
        .expect("index name, key schema and projection are set");
    let active = GlobalSecondaryIndex::builder()
        .index_name(ACTIVE_INDEX)
        .key_schema(key(ACTIVE_INSTANCE, KeyType::Hash))
        .projection(keys_only())
        .build()
        .expect("index name, key schema and projection are set");
    TableShape {
        attributes: vec![
            string_attribute(AGENT_ARN),
            string_attribute(AGENT_LOGIN),
            string_attribute(ACTIVE_INSTANCE),
        ],
        key_schema: vec![key(AGENT_ARN, KeyType::Hash)],
        indexes: vec![by_login, active],
        ttl_attribute: None,
    }
}

/// The claim table: key `claim_id`, TTL on `expires_at`.
pub fn claim_table() -> TableShape {
    TableShape {
        attributes: vec![string_attribute(CLAIM_ID)],
        key_schema: vec![key(CLAIM_ID, KeyType::Hash)],
        indexes: Vec::new(),
        ttl_attribute: Some(EXPIRES_AT.to_owned()),
    }
}

/// The contact table of the stream basis (see [`crate::contact_store`]): keys `pk`/`sk`, TTL
/// on `expires_at`.
pub fn contact_table() -> TableShape {
    use crate::contact_store::{EXPIRES_AT, PK, SK};
    TableShape {
        attributes: vec![string_attribute(PK), string_attribute(SK)],
        key_schema: vec![key(PK, KeyType::Hash), key(SK, KeyType::Range)],
        indexes: Vec::new(),
        ttl_attribute: Some(EXPIRES_AT.to_owned()),
    }
}

/// The roster table (see [`crate::roster_store`]): keys `instance_id`/`member`, no TTL (the
/// latest profiles stay until replaced).
pub fn roster_table() -> TableShape {
    use crate::roster_store::{INSTANCE_ID, MEMBER};
    TableShape {
        attributes: vec![string_attribute(INSTANCE_ID), string_attribute(MEMBER)],
        key_schema: vec![key(INSTANCE_ID, KeyType::Hash), key(MEMBER, KeyType::Range)],
        indexes: Vec::new(),
        ttl_attribute: None,
    }
}

/// Every table, by its logical id in the SAM template.
pub fn tables() -> [(&'static str, TableShape); 4] {
    [
        ("AgentStateTable", agent_state_table()),
        ("ClaimTable", claim_table()),
        ("ContactTable", contact_table()),
        ("RosterTable", roster_table()),
    ]
}

/// Creates the roster table `name` ([`roster_table`]) and waits until it is ACTIVE.
pub async fn create_roster_table(client: &Client, name: &str) -> Result<(), SchemaError> {
    create_table(client, name, &roster_table()).await
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

/// Creates the agent-state table `name` ([`agent_state_table`]) and waits until it is ACTIVE.
pub async fn create_agent_state_table(client: &Client, name: &str) -> Result<(), SchemaError> {
    create_table(client, name, &agent_state_table()).await
}

/// Creates the claim table `name` ([`claim_table`]), waits until it is ACTIVE and turns on TTL.
pub async fn create_claim_table(client: &Client, name: &str) -> Result<(), SchemaError> {
    create_table(client, name, &claim_table()).await
}

/// Creates table `name` of this shape (on-demand billing), waits until it is ACTIVE and turns
/// on its TTL, if it has one.
pub async fn create_table(client: &Client, name: &str, shape: &TableShape) -> Result<(), SchemaError> {
    let error = |step: &'static str, message: String| SchemaError {
        table: name.to_owned(),
        step,
        message,
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(shape.attributes.clone()))
        .set_key_schema(Some(shape.key_schema.clone()))
        .set_global_secondary_indexes((!shape.indexes.is_empty()).then(|| shape.indexes.clone()))
        .send()
        .await
        .map_err(|e| error("CreateTable", describe(&e)))?;
    wait_active(client, name).await?;
    if let Some(attribute) = &shape.ttl_attribute {
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(attribute)
            .build()
            .expect("enabled and attribute name are set");
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| error("UpdateTimeToLive", describe(&e)))?;
    }
    Ok(())
}

/// Creates the contact table `name` ([`contact_table`]), waits until it is ACTIVE and turns on
/// TTL.
pub async fn create_contact_table(client: &Client, name: &str) -> Result<(), SchemaError> {
    create_table(client, name, &contact_table()).await
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    /// The parts of a template table that [`TableShape`] holds, as the template spells them.
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateTable {
        billing_mode: String,
        attribute_definitions: Vec<TemplateAttribute>,
        key_schema: Vec<TemplateKey>,
        #[serde(default)]
        global_secondary_indexes: Vec<TemplateIndex>,
        time_to_live_specification: Option<TemplateTtl>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateAttribute {
        attribute_name: String,
        attribute_type: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateKey {
        attribute_name: String,
        key_type: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateIndex {
        index_name: String,
        key_schema: Vec<TemplateKey>,
        projection: TemplateProjection,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateProjection {
        projection_type: String,
        #[serde(default)]
        non_key_attributes: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateTtl {
        attribute_name: String,
        enabled: bool,
    }

    fn keys(keys: &[TemplateKey]) -> Vec<KeySchemaElement> {
        keys.iter()
            .map(|k| key(&k.attribute_name, KeyType::from(k.key_type.as_str())))
            .collect()
    }

    impl TemplateTable {
        fn shape(&self) -> TableShape {
            let attributes = self.attribute_definitions.iter().map(|a| {
                AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()
                    .expect("attribute name and type are set")
            });
            let indexes = self.global_secondary_indexes.iter().map(|index| {
                GlobalSecondaryIndex::builder()
                    .index_name(&index.index_name)
                    .set_key_schema(Some(keys(&index.key_schema)))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(index.projection.projection_type.as_str()))
                            .set_non_key_attributes(
                                (!index.projection.non_key_attributes.is_empty())
                                    .then(|| index.projection.non_key_attributes.clone()),
                            )
                            .build(),
                    )
                    .build()
                    .expect("index name, key schema and projection are set")
            });
            let ttl_attribute = self
                .time_to_live_specification
                .as_ref()
                .filter(|t| t.enabled)
                .map(|t| t.attribute_name.clone());
            TableShape {
                attributes: attributes.collect(),
                key_schema: keys(&self.key_schema),
                indexes: indexes.collect(),
                ttl_attribute,
            }
        }
    }

    /// The tables of template.yaml by logical id. The template's SAM tags (`!Ref`, `!GetAtt`,
    /// `!Sub`, ...) parse as tagged values, which the table properties read here never are.
    fn template_tables() -> BTreeMap<String, TemplateTable> {
        #[derive(Deserialize)]
        struct Template {
            #[serde(rename = "Resources")]
            resources: BTreeMap<String, serde_norway::Value>,
        }
        let template: Template =
            serde_norway::from_str(include_str!("../../../template.yaml")).expect("template.yaml is YAML");
        template
            .resources
            .into_iter()
            .filter(|(_, resource)| resource.get("Type").and_then(|t| t.as_str()) == Some("AWS::DynamoDB::Table"))
            .map(|(id, resource)| {
                let properties = resource.get("Properties").cloned().expect("a table has Properties");
                let table = serde_norway::from_value(properties)
                    .unwrap_or_else(|e| panic!("template.yaml {id}: unexpected table properties: {e}"));
                (id, table)
            })
            .collect()
    }

    #[test]
    fn the_template_declares_the_tables_of_schema_rs() {
        let mut template = template_tables();
        for (id, shape) in tables() {
            let table = template
                .remove(id)
                .unwrap_or_else(|| panic!("template.yaml has no table {id}"));
            assert_eq!(
                table.billing_mode, "PAY_PER_REQUEST",
                "{id}: create_table makes on-demand tables"
            );
            assert_eq!(table.shape(), shape, "{id}: template.yaml and schema.rs differ");
        }
        assert!(
            template.is_empty(),
            "template.yaml tables missing from schema::tables(): {:?}",
            template.keys().collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_difference_is_seen() {
        let mut template = template_tables();
        let claims = template.remove("ClaimTable").expect("the template has the claim table");
        let mut shape = claims.shape();
        assert_eq!(shape, claim_table());
        shape.ttl_attribute = None;
        assert_ne!(shape, claim_table(), "a TTL attribute is compared");
        let mut states = template
            .remove("AgentStateTable")
            .expect("the template has the state table")
            .shape();
        states.indexes[0] = GlobalSecondaryIndex::builder()
            .index_name(BY_LOGIN_INDEX)
            .key_schema(key(AGENT_LOGIN, KeyType::Hash))
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .expect("set");
        assert_ne!(states, agent_state_table(), "a projection is compared");
    }
}
