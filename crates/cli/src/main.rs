//! `connect-wfm`: runs the connector's handlers locally, with state, claims and feed in local
//! folders (the embedded defaults). The very handlers the Lambda functions run are called here.

mod input;
mod local;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use connect_wfm_core::Mapping;
use connect_wfm_core::timefmt::feed_timestamp;

use crate::input::{InputFile, classify};
use crate::local::{LocalFeedSink, LocalStateStore};

#[derive(Debug, Parser)]
#[command(name = "connect-wfm", version, about = "Amazon Connect to WFM connector: local runs of its functions")]
struct Cli {
    /// JSON mapping file overriding the built-in agent-state and report mappings.
    #[arg(long, global = true, value_name = "FILE")]
    mapping: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run inputs through the functions' handlers: Kinesis Lambda events, single agent events
    /// or JSON Lines of agent events.
    Replay {
        /// Folder of last-known agent states (kept between runs).
        #[arg(long, default_value = ".connect-wfm/state", value_name = "DIR")]
        state: PathBuf,
        /// Feed folder, or `-` for JSON Lines on standard output.
        #[arg(long, default_value = "-", value_name = "DIR|-")]
        feed: String,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the last-known state of every agent.
    States {
        #[arg(long, default_value = ".connect-wfm/state", value_name = "DIR")]
        state: PathBuf,
        /// One JSON object per agent instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("connect-wfm: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let mapping = match &cli.mapping {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("mapping file {}: {e}", path.display()))?;
            Mapping::from_json(&bytes, &path.display().to_string()).map_err(|e| e.to_string())?
        }
        None => Mapping::default(),
    };
    match cli.command {
        Command::Replay { state, feed, files } => replay(mapping, state, feed, files).await,
        Command::States { state, json } => states(state, json),
    }
}

async fn replay(mapping: Mapping, state: PathBuf, feed: String, files: Vec<PathBuf>) -> Result<ExitCode, String> {
    let states = LocalStateStore::new(&state);
    let sink = if feed == "-" { LocalFeedSink::Stdout } else { LocalFeedSink::Folder(PathBuf::from(feed)) };
    let settings = connect_wfm_agent_events::Settings { mapping: mapping.agent_states.clone(), ..Default::default() };
    let mut code = ExitCode::SUCCESS;
    for path in &files {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("connect-wfm: {}: {e}", path.display());
                code = ExitCode::FAILURE;
                continue;
            }
        };
        match classify(path, &bytes) {
            InputFile::Kinesis(batch) => {
                let outcome =
                    connect_wfm_agent_events::handle_batch(&batch, &states, &sink, &settings, chrono::Utc::now()).await;
                let s = &outcome.stats;
                eprintln!(
                    "{}: {} records, {} transitions, {} rejected, {} agents",
                    path.display(),
                    s.records,
                    s.transitions,
                    s.rejected,
                    s.agents
                );
                if let Some(seq) = outcome.failed_from() {
                    eprintln!("connect-wfm: {}: processing failed from record {seq}; run again", path.display());
                    code = ExitCode::FAILURE;
                }
            }
            InputFile::Unknown(reason) => {
                eprintln!("connect-wfm: {}: {reason}", path.display());
                code = ExitCode::FAILURE;
            }
        }
    }
    Ok(code)
}

fn states(state: PathBuf, json: bool) -> Result<ExitCode, String> {
    let all = LocalStateStore::new(&state).all().map_err(|e| e.to_string())?;
    if json {
        for s in &all {
            println!("{}", serde_json::to_string(s).expect("agent state serialises"));
        }
    } else {
        println!("{:<38} {:<16} {:<34} {:<26} LAST SEEN", "AGENT ID", "LOGIN", "STATE", "SINCE");
        for s in &all {
            println!(
                "{:<38} {:<16} {:<34} {:<26} {}",
                s.agent_id,
                s.agent_login.as_deref().unwrap_or("-"),
                s.state,
                feed_timestamp(&s.since),
                feed_timestamp(&s.last_seen)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
