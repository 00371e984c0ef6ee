//! A WFM's key or a webhook's secret, read from Secrets Manager once at cold start. The value
//! goes into a [`Secret`], which no log or error prints; errors name the secret's id only.

use connect_wfm_core::ports::PortError;
use connect_wfm_core::push::Secret;

use crate::error::port_error;

/// The secret string of `secret_id` (a name or ARN). A JSON secret (`{"key": "..."}`, as the
/// console's key/value form stores it) gives the value of its one field.
pub async fn read_secret(client: &aws_sdk_secretsmanager::Client, secret_id: &str) -> Result<Secret, PortError> {
    let operation = || format!("read secret {secret_id}");
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| port_error(operation(), &e))?;
    let value = output
        .secret_string()
        .ok_or_else(|| PortError::new(operation(), "the secret holds no string", false))?;
    Ok(Secret::new(secret_value(value)))
}

/// The plain string, or the value of a JSON object's only field.
fn secret_value(value: &str) -> String {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(value) {
        Ok(object) if object.len() == 1 => match object.values().next() {
            Some(serde_json::Value::String(inner)) => inner.clone(),
            _ => value.to_owned(),
        },
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_or_a_one_field_json_secret() {
        assert_eq!(secret_value("k3y"), "k3y");
        assert_eq!(secret_value(r#"{"key":"k3y"}"#), "k3y");
        assert_eq!(secret_value(r#"{"a":"1","b":"2"}"#), r#"{"a":"1","b":"2"}"#);
    }
}
