//! `connect-wfm push`: feed records from files into a WFM's API, through the function's own
//! delivery ([`connect_wfm_handlers::push`]): the same batches, order, retries and refusals.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use connect_wfm_core::push::calabrio::{Calabrio, UserCode};
use connect_wfm_core::push::webhook::Webhook;
use connect_wfm_core::push::{Kinds, PushRecord, Secret, Target};
use connect_wfm_handlers::push::{Settings, push};
use connect_wfm_http::HttpWfmApi;

/// The command line's choices, checked.
pub struct PushArgs {
    pub to: String,
    pub url: String,
    pub key_file: Option<PathBuf>,
    pub source_id: Option<String>,
    pub user_code: UserCode,
    /// Send the mapping's name of each state instead of the record's `state`.
    pub state_names: Option<connect_wfm_core::agent::AgentStateMapping>,
    pub secret_file: Option<PathBuf>,
    pub kinds: Option<String>,
    pub rate: f64,
    pub files: Vec<PathBuf>,
}

fn read_secret(flag: &str, path: &Path) -> Result<Secret, String> {
    // The file's content never reaches a message: only its path.
    let text = std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    let secret = Secret::new(text);
    if secret.expose().is_empty() {
        return Err(format!("{flag} {}: the file is empty", path.display()));
    }
    Ok(secret)
}

fn target(args: &PushArgs) -> Result<Target, String> {
    let kinds = args.kinds.as_deref().map(Kinds::parse).unwrap_or_default();
    match args.to.as_str() {
        "calabrio" => {
            let key_file = args.key_file.as_ref().ok_or("--to calabrio needs --key-file FILE")?;
            let source_id = args.source_id.clone().ok_or("--to calabrio needs --source-id ID")?;
            let mut target = Calabrio::new(
                args.url.clone(),
                read_secret("--key-file", key_file)?,
                source_id,
                args.user_code,
            );
            target.kinds = kinds;
            if let Some(mapping) = &args.state_names {
                target = target.with_mapping_names(mapping);
            }
            Ok(Target::Calabrio(target))
        }
        "webhook" => {
            let secret_file = args
                .secret_file
                .as_ref()
                .ok_or("--to webhook needs --secret-file FILE")?;
            let mut target = Webhook::new(args.url.clone(), read_secret("--secret-file", secret_file)?);
            target.kinds = kinds;
            Ok(Target::Webhook(target))
        }
        other => Err(format!("--to {other}: the targets are calabrio and webhook")),
    }
}

/// The records of one file, in order: JSON Lines (as `replay` and `sweep` print them, and as
/// feed objects hold them), or one JSON object or array of them; `-` is standard input. A line
/// that is not a record is an error naming the file and the line.
fn read_records(path: &Path) -> Result<Vec<PushRecord>, String> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}"))?
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?
    };
    let by_lines: Result<Vec<PushRecord>, (usize, String)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| PushRecord::parse(l).map_err(|e| (n + 1, e.to_string())))
        .collect();
    match by_lines {
        Ok(records) => Ok(records),
        Err((line, reason)) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Array(values)) => values
                .iter()
                .enumerate()
                .map(|(n, v)| {
                    PushRecord::parse(&v.to_string()).map_err(|e| format!("{}: item {}: {e}", path.display(), n + 1))
                })
                .collect(),
            Ok(value @ serde_json::Value::Object(_)) => PushRecord::parse(&value.to_string())
                .map(|r| vec![r])
                .map_err(|e| format!("{}: {e}", path.display())),
            _ => Err(format!("{}: line {line}: {reason}", path.display())),
        },
    }
}

pub async fn run(args: PushArgs) -> Result<ExitCode, String> {
    if args.rate.is_nan() || args.rate <= 0.0 {
        return Err("--rate must be above 0".into());
    }
    let target = target(&args)?;
    let mut records = Vec::new();
    for path in &args.files {
        records.extend(read_records(path)?);
    }
    let api = HttpWfmApi::new(connect_wfm_http::DEFAULT_TIMEOUT)
        .map_err(|e| format!("no root certificates for HTTPS: {e}"))?;
    // One process: its memory of delivered states (for snapshots) lives and ends with it.
    let settings = Settings::default().with_rate(args.rate);
    let outcome = push(&records, &target, &api, &settings, Utc::now).await;
    for (index, reason) in &outcome.refused {
        let record = &records[*index];
        // Ids only: logins and names are personal data.
        eprintln!(
            "refused: {} {} (agent {}): {reason}",
            record.kind,
            record.key(),
            record.agent_id.as_deref().unwrap_or("-")
        );
    }
    if let Some(reason) = &outcome.pending_reason {
        eprintln!(
            "not delivered: {} records from {} on, after the retries: {reason}; push them again",
            outcome.pending.len(),
            outcome.pending.first().map(|i| records[*i].key()).unwrap_or_default()
        );
    }
    eprintln!(
        "push to {}: {} records read, {} calls, {} records sent, {} retried, {} refused, {} not delivered, {} skipped (repeats or kinds the target does not take)",
        target.name(),
        records.len(),
        outcome.calls,
        outcome.delivered.len(),
        outcome.retries,
        outcome.refused.len(),
        outcome.pending.len(),
        outcome.skipped.len()
    );
    Ok(if outcome.refused.is_empty() && outcome.pending.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
