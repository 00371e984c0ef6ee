//! `connect-wfm`: runs the connector's handlers locally, with state, claims and feed in local
//! folders (the embedded defaults). The very handlers the Lambda functions run are called here.

#![forbid(unsafe_code)]

mod input;
mod local;
mod push;
mod timeline;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
#[cfg(feature = "aws")]
use connect_wfm_aws::{DynamoStateStore, config, reload};
use connect_wfm_core::Mapping;
use connect_wfm_core::agent::{AgentState, FoldPolicy, RosterPolicy, StreamAgentInterval, SweepPolicy};
use connect_wfm_core::contact::store::ContactStore as _;
use connect_wfm_core::contact::{StreamSettings, stream_queue_intervals};
#[cfg(feature = "aws")]
use connect_wfm_core::ports::AgentDirectory;
use connect_wfm_core::report::ReportKind;
use connect_wfm_core::timefmt::feed_timestamp;
use connect_wfm_handlers::contacts::CtrFiles;
#[cfg(feature = "aws")]
use connect_wfm_handlers::custom_resource::Status;
use connect_wfm_handlers::objects::MessageReport;
use connect_wfm_handlers::reports::{CreatedObject, ObjectOutcome, Ports, convert};
use connect_wfm_handlers::sweep::{self, SweepSettings, handle_sweep};

use crate::input::{InputFile, classify};
use crate::local::{LocalClaimStore, LocalContactStore, LocalFeed, LocalFeedSink, LocalObjectSource, LocalStateStore};
#[cfg(feature = "aws")]
use crate::local::{LocalNotificationStore, StdoutResponseSender};

const DEFAULT_STATE: &str = ".connect-wfm/state";

/// How long a replayed custom-resource request may take (Lambda gives it its timeout).
#[cfg(feature = "aws")]
const CUSTOM_RESOURCE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Parser)]
#[command(
    name = "connect-wfm",
    version,
    about = "Amazon Connect to WFM connector: local runs of its functions"
)]
struct Cli {
    /// JSON mapping file overriding the built-in agent-state and report mappings.
    #[arg(long, global = true, value_name = "FILE")]
    mapping: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Lambda events through the functions' handlers: Kinesis events (or bare agent
    /// events) through agent-events, SQS events with S3 notifications through
    /// historical-reports (reports) or contact-events (objects of contact records, as Firehose
    /// writes them: told by content, gzip or not), contact events (one EventBridge event, an SQS event of them, or bare
    /// ones) and contact records (a Kinesis event of CTRs, or bare ones) through contact-events,
    /// CloudFormation custom-resource requests through bucket-notifications. Routed by content.
    /// A file of bare records holds one record (pretty-printed or not), records back to back
    /// (as Firehose writes them), JSON Lines, or a JSON array of them; a file that is none of
    /// these fails the command (exit 1), a bad record inside a readable one is rejected.
    Replay {
        /// Folder of last-known agent states, contact legs and object claims (kept between runs).
        #[arg(long, default_value = DEFAULT_STATE, value_name = "DIR")]
        state: PathBuf,
        /// Feed folder, or `-` for JSON Lines on standard output.
        #[arg(long, default_value = "-", value_name = "DIR|-")]
        feed: String,
        /// Where S3 objects named by SQS events (reports, contact-record files) are read:
        /// DIR/<bucket>/<key>. A custom-resource
        /// request keeps the bucket's notification configuration in DIR/<bucket>.notification.json.
        #[arg(long, default_value = "events/reports", value_name = "DIR")]
        objects: PathBuf,
        /// Write agents' first and last names in agent_profile records (personal data; the
        /// functions' AGENT_NAMES=include). Without it they are null.
        #[arg(long)]
        agent_names: bool,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the interval records of one Connect report CSV as JSON Lines.
    Report {
        /// Report kind, when neither the file name nor the columns tell it.
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        /// Instance name for the records (default: the alias in a `connect/<alias>/Reports/` path).
        #[arg(long, value_name = "NAME")]
        instance: Option<String>,
        /// Agent-state folder used to fill agent ids from login names.
        #[arg(long, default_value = DEFAULT_STATE, value_name = "DIR")]
        state: PathBuf,
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
    },
    /// Put the reports of a period still in S3 back on the reports queue (AWS credentials and
    /// region from the environment or profile). Without --force the function skips reports it
    /// already converted, so this fills gaps; with --force it converts them again (after a
    /// mapping change), overwriting their feed objects. With --contact-records, the
    /// contact-record files of Firehose instead (every key under the prefix, not only `.csv`),
    /// on the contact-record files queue.
    Reload {
        /// The reports bucket (or the contact-record files' bucket).
        #[arg(long, value_name = "BUCKET")]
        bucket: String,
        /// Key prefix of the reports, e.g. connect/acme/Reports/ (or of the CTR files).
        #[arg(long, default_value = "", value_name = "PREFIX")]
        prefix: String,
        /// URL of the stack's reports queue (output ReportsQueueUrl), or with --contact-records
        /// of its contact-record files queue (output ContactRecordFilesQueueUrl).
        #[arg(long, value_name = "URL", required_unless_present = "dry_run")]
        queue_url: Option<String>,
        /// The objects are contact-record files that Firehose wrote (ContactRecordsBucketName),
        /// not reports: every key under --prefix is listed.
        #[arg(long)]
        contact_records: bool,
        /// Only objects last modified at or after this time (RFC 3339, or a UTC date YYYY-MM-DD).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only objects last modified before this time (RFC 3339, or a UTC date YYYY-MM-DD).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Convert again even reports already converted.
        #[arg(long)]
        force: bool,
        /// List what would be queued, send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Read-only checks of a live deployment, one line each: `ok   <check>: <found>` or
    /// `PROBLEM <check>: <found> — fix: <fix>`; exit status 1 when any problem. The stack is read
    /// by name (CloudFormation DescribeStacks) or from the JSON of
    /// `aws cloudformation describe-stacks --stack-name NAME` (credentials and region from the
    /// environment or profile).
    #[command(group(clap::ArgGroup::new("stack_source").required(true).args(["stack", "stack_file"])))]
    Doctor {
        /// The stack's name (or id), read with CloudFormation DescribeStacks.
        #[arg(long, value_name = "NAME")]
        stack: Option<String>,
        /// The output of `aws cloudformation describe-stacks --stack-name NAME`, instead of --stack.
        #[arg(long, value_name = "FILE")]
        stack_file: Option<PathBuf>,
        /// The stack's region (default: the environment's or profile's).
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
        /// The clock the ages are judged at (RFC 3339; default now).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
    /// Print the current stream-basis queue_interval records (from the contact events and
    /// contact records replayed so far) as JSON Lines, sorted by interval_start, then queue_id;
    /// the clock is the newest event time processed.
    Intervals {
        /// Folder of the replayed state.
        #[arg(long, default_value = DEFAULT_STATE, value_name = "DIR")]
        state: PathBuf,
    },
    /// Print the current stream-basis agent_interval records (from the agent events replayed so
    /// far: their agent_activity pieces, and each agent's open state counted up to the interval's
    /// end) of every interval ended by the clock, the newest event time processed of each
    /// instance (intervals of the last 30 days), as JSON Lines sorted by interval_start, then
    /// agent_id.
    AgentIntervals {
        /// Folder of the replayed state.
        #[arg(long, default_value = DEFAULT_STATE, value_name = "DIR")]
        state: PathBuf,
    },
    /// Write the agents' day as one self-contained HTML page (inline SVG and CSS, works opened
    /// from disk): a row per agent of the state folder, a bar per agent_activity piece on a
    /// time axis with the 15-minute grid, UNKNOWN hatched, a legend, and under each row the
    /// agent's stream-basis agent_interval totals. Agent ids by default.
    Timeline {
        #[arg(long, default_value = DEFAULT_STATE, value_name = "DIR")]
        state: PathBuf,
        /// The page to write.
        #[arg(long, value_name = "FILE.html")]
        out: PathBuf,
        /// Label rows with login names instead of agent ids (personal data).
        #[arg(long)]
        agent_names: bool,
    },
    /// Print the last-known state of every agent (UNKNOWN for agents the sweep found silent).
    States {
        #[arg(long, default_value = DEFAULT_STATE, value_name = "DIR")]
        state: PathBuf,
        /// Read a deployed agent-state table (DynamoDB, credentials and region from the
        /// environment or profile) instead of the local folder. It scans the table.
        #[arg(long, value_name = "NAME", conflicts_with = "state")]
        table: Option<String>,
        /// One JSON object per agent instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run the sweep's handler on the local state at the clock --now: agents silent for
    /// --silence-seconds become UNKNOWN, an instance whose events stopped gets a feed_health
    /// record, the --snapshot-minutes slot's snapshot is written per instance when it is not
    /// yet; stream-basis intervals that ended within the last 2 minutes get their
    /// backlog record (contact legs of the state folder). Records go to the feed (JSON Lines on
    /// stdout by default), a summary to stderr.
    Sweep {
        /// Folder of last-known agent states and instance progress (as left by `replay`).
        #[arg(long, default_value = DEFAULT_STATE, value_name = "DIR")]
        state: PathBuf,
        /// Feed folder, or `-` for JSON Lines on standard output.
        #[arg(long, default_value = "-", value_name = "DIR|-")]
        feed: String,
        /// The sweep's clock: RFC 3339, e.g. 2026-11-21T10:15:00Z.
        #[arg(long, value_name = "TIME")]
        now: String,
        /// Seconds without any event after which an agent is UNKNOWN.
        #[arg(long, default_value_t = 300, value_name = "N")]
        silence_seconds: u32,
        /// Minutes between snapshots (0 = never).
        #[arg(long, default_value_t = 15, value_name = "N")]
        snapshot_minutes: u32,
    },
    /// Send feed records (JSON Lines as `replay` and `sweep` print them, feed objects, or `-`
    /// for standard input) to a WFM's API through the wfm-push function's own delivery: the
    /// same batches, order (the order given: files as listed, lines as written), retries and
    /// refusals. `--to calabrio`: Calabrio WFM / Teleopti RTA, POST URL/Rta/State/Batch;
    /// `--to webhook`: a signed POST of a JSON array of records. A summary goes to stderr; the
    /// exit code is 1 if any record was refused or could not be delivered.
    Push {
        #[arg(long, value_enum)]
        to: TargetArg,
        /// Calabrio: the RTA's base URL; webhook: the URL posted to.
        #[arg(long, value_name = "URL")]
        url: String,
        /// Calabrio: file holding the RTA's authentication key.
        #[arg(long, value_name = "FILE", required_if_eq("to", "calabrio"))]
        key_file: Option<PathBuf>,
        /// Calabrio: the SourceId of this data source.
        #[arg(long, value_name = "ID", required_if_eq("to", "calabrio"))]
        source_id: Option<String>,
        /// Calabrio: the agent's UserCode is its Connect login or its agent id.
        #[arg(long, value_enum, default_value = "login")]
        user_code: UserCodeArg,
        /// Calabrio: the StateCode is the record's `state`, or the agent-state mapping's name
        /// for it (`Unknown` for UNKNOWN; with --mapping, that file's names).
        #[arg(long, value_enum, default_value = "state")]
        state_code: StateCodeArg,
        /// Webhook: file holding the signing secret.
        #[arg(long, value_name = "FILE", required_if_eq("to", "webhook"))]
        secret_file: Option<PathBuf>,
        /// Record kinds sent, comma-separated (default: agent_state,agent_snapshot,feed_health).
        #[arg(long, value_name = "KINDS")]
        kinds: Option<String>,
        /// Calls per second at most.
        #[arg(long, default_value_t = connect_wfm_handlers::push::DEFAULT_RATE, value_name = "N")]
        rate: f64,
        #[arg(required = true, value_name = "FEED_FILE")]
        files: Vec<PathBuf>,
    },
    /// Mapping files: `mapping check FILE`.
    Mapping {
        #[command(subcommand)]
        command: MappingCommand,
    },
}

#[derive(Debug, Subcommand)]
enum MappingCommand {
    /// Validate a mapping file as the functions read it and print what it changes against the
    /// built-in defaults, one line per change, section by section. Exit 1 with the error (file
    /// and key) when it would be refused.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TargetArg {
    Calabrio,
    Webhook,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StateCodeArg {
    State,
    Name,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum UserCodeArg {
    Login,
    Id,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    #[value(name = "QR")]
    Qr,
    #[value(name = "AQR")]
    Aqr,
    #[value(name = "ASPR")]
    Aspr,
}

impl From<KindArg> for ReportKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Qr => ReportKind::Queue,
            KindArg::Aqr => ReportKind::AgentQueue,
            KindArg::Aspr => ReportKind::AgentSystem,
        }
    }
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
        Command::Replay {
            state,
            feed,
            objects,
            agent_names,
            files,
        } => replay(mapping, &state, &feed, &objects, agent_names, &files).await,
        Command::Report {
            kind,
            instance,
            state,
            file,
        } => report(mapping, kind, instance, &state, &file).await,
        Command::Intervals { state } => intervals(&StreamSettings::from_mapping(&mapping), &state).await,
        Command::AgentIntervals { state } => agent_intervals(mapping, &state).await,
        Command::Timeline {
            state,
            out,
            agent_names,
        } => timeline(mapping, &state, &out, agent_names).await,
        Command::States { state, table, json } => match table {
            Some(table) => states_of_table(&table, json).await,
            None => states(&state, json),
        },
        Command::Sweep {
            state,
            feed,
            now,
            silence_seconds,
            snapshot_minutes,
        } => {
            let now = DateTime::parse_from_rfc3339(&now)
                .map_err(|e| format!("--now `{now}` is not an RFC 3339 time: {e}"))?
                .with_timezone(&Utc);
            if silence_seconds == 0 {
                return Err("--silence-seconds must be at least 1".into());
            }
            let policy = SweepPolicy {
                silence: chrono::Duration::seconds(silence_seconds.into()),
                snapshot_minutes,
            };
            sweep(mapping, &state, &feed, now, policy).await
        }
        Command::Push {
            to,
            url,
            key_file,
            source_id,
            user_code,
            state_code,
            secret_file,
            kinds,
            rate,
            files,
        } => {
            push::run(push::PushArgs {
                to: match to {
                    TargetArg::Calabrio => "calabrio",
                    TargetArg::Webhook => "webhook",
                }
                .to_owned(),
                url,
                key_file,
                source_id,
                user_code: match user_code {
                    UserCodeArg::Login => connect_wfm_core::push::calabrio::UserCode::Login,
                    UserCodeArg::Id => connect_wfm_core::push::calabrio::UserCode::Id,
                },
                state_names: matches!(state_code, StateCodeArg::Name).then(|| mapping.agent_states.clone()),
                secret_file,
                kinds,
                rate,
                files,
            })
            .await
        }
        Command::Mapping {
            command: MappingCommand::Check { file },
        } => check_mapping(&file),
        Command::Doctor {
            stack,
            stack_file,
            region,
            now,
        } => {
            let now = parse_time("--now", now)?.unwrap_or_else(Utc::now);
            let stack = match (stack, stack_file) {
                (Some(name), _) => StackSource::Name(name),
                (None, Some(file)) => StackSource::File(file),
                (None, None) => return Err("doctor: give --stack NAME or --stack-file FILE".to_owned()),
            };
            doctor(&mapping, stack, region, now).await
        }
        Command::Reload {
            bucket,
            prefix,
            queue_url,
            contact_records,
            since,
            until,
            force,
            dry_run,
        } => {
            let period = (parse_time("--since", since)?, parse_time("--until", until)?);
            let what = if contact_records {
                Reloaded::ContactRecordFiles
            } else {
                Reloaded::Reports
            };
            reload(&bucket, &prefix, queue_url.as_deref(), what, period, force, dry_run).await
        }
    }
}

/// `mapping check FILE`: the file parsed as the functions parse it, then its changes against
/// the built-in defaults on standard output.
fn check_mapping(file: &Path) -> Result<ExitCode, String> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| format!("mapping file {name}: {e}"))?;
    let mapping = Mapping::from_json(&bytes, &name).map_err(|e| e.to_string())?;
    let changes = mapping.changes_from(&Mapping::default());
    let mut out = std::io::stdout().lock();
    let mut print = || -> std::io::Result<()> {
        writeln!(out, "mapping file {name}: valid; against the built-in defaults:")?;
        for change in &changes {
            writeln!(out, "{change}")?;
        }
        Ok(())
    };
    print().map_err(|e| format!("standard output: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

async fn replay(
    mapping: Mapping,
    state: &Path,
    feed: &str,
    objects: &Path,
    agent_names: bool,
    files: &[PathBuf],
) -> Result<ExitCode, String> {
    let states = LocalStateStore::new(state);
    let claims = LocalClaimStore::new(state);
    let source = LocalObjectSource::new(objects);
    let sink = LocalFeed::new(
        state,
        if feed == "-" {
            LocalFeedSink::Stdout
        } else {
            LocalFeedSink::Folder(PathBuf::from(feed))
        },
    );
    let contact_settings = connect_wfm_handlers::contacts::Settings {
        stream: StreamSettings::from_mapping(&mapping),
    };
    let contacts = LocalContactStore::open(state).map_err(|e| e.to_string())?;
    let agent_settings = connect_wfm_handlers::agent_events::Settings {
        mapping: mapping.agent_states,
        policy: FoldPolicy {
            roster: RosterPolicy {
                agent_names,
                filter: mapping.agents,
            },
            ..FoldPolicy::default()
        },
    };
    let report_settings = connect_wfm_handlers::reports::Settings {
        mapping: Arc::new(mapping.reports),
        instances: Arc::new(mapping.instances),
        ..Default::default()
    };
    let ports = Ports {
        claims: &claims,
        objects: &source,
        states: &states,
        sink: &sink,
    };
    let mut code = ExitCode::SUCCESS;
    for path in files {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("connect-wfm: {}: {e}", path.display());
                code = ExitCode::FAILURE;
                continue;
            }
        };
        for batch in classify(path, &bytes) {
            match batch {
                InputFile::ContactEvents(batch) => {
                    let outcome = connect_wfm_handlers::contacts::handle_sqs(
                        &batch,
                        &contacts.store,
                        &sink,
                        &contact_settings,
                        connect_wfm_handlers::contacts::Clock::NewestInput,
                        Utc::now(),
                    )
                    .await;
                    report_contacts(path, &outcome.stats);
                    for failure in &outcome.response.batch_item_failures {
                        eprintln!(
                            "connect-wfm: {}: message {} failed; run again",
                            path.display(),
                            failure.item_identifier
                        );
                        code = ExitCode::FAILURE;
                    }
                }
                InputFile::ContactRecords(batch) => {
                    let outcome = connect_wfm_handlers::contacts::handle_kinesis(
                        &batch,
                        &contacts.store,
                        &sink,
                        &contact_settings,
                        connect_wfm_handlers::contacts::Clock::NewestInput,
                        Utc::now(),
                    )
                    .await;
                    report_contacts(path, &outcome.stats);
                    if let Some(seq) = outcome.failed_from() {
                        eprintln!(
                            "connect-wfm: {}: processing failed from record {seq}; run again",
                            path.display()
                        );
                        code = ExitCode::FAILURE;
                    }
                }
                InputFile::Kinesis(batch) => {
                    let outcome = connect_wfm_handlers::agent_events::handle_batch(
                        &batch,
                        &states,
                        &sink,
                        &agent_settings,
                        Utc::now(),
                    )
                    .await;
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
                        eprintln!(
                            "connect-wfm: {}: processing failed from record {seq}; run again",
                            path.display()
                        );
                        code = ExitCode::FAILURE;
                    }
                }
                InputFile::Sqs(batch) => {
                    // Notifications of contact-record files (by the objects' content) go to
                    // contact-events, the others (reports) to historical-reports.
                    let (ctr_files, reports) = input::split_ctr_file_messages(batch, objects);
                    if !ctr_files.records.is_empty() {
                        let files = CtrFiles {
                            claims: &claims,
                            objects: &source,
                            prefix: None,
                        };
                        let outcome = connect_wfm_handlers::contacts::handle_ctr_files(
                            &ctr_files,
                            &contacts.store,
                            &sink,
                            &files,
                            &contact_settings,
                            connect_wfm_handlers::contacts::Clock::NewestInput,
                            Utc::now(),
                        )
                        .await;
                        report_objects(path, &outcome.messages, "records");
                        report_contacts(path, &outcome.stats);
                        if !outcome.response.batch_item_failures.is_empty() {
                            code = ExitCode::FAILURE;
                        }
                    }
                    if !reports.records.is_empty() || ctr_files.records.is_empty() {
                        let outcome = connect_wfm_handlers::reports::handle_messages(
                            &reports,
                            &ports,
                            &report_settings,
                            Utc::now(),
                        )
                        .await;
                        report_objects(path, &outcome.messages, "records");
                        if !outcome.response.batch_item_failures.is_empty() {
                            code = ExitCode::FAILURE;
                        }
                    }
                }
                #[cfg(not(feature = "aws"))]
                InputFile::CustomResource(request) => {
                    eprintln!(
                        "connect-wfm: {}: a CloudFormation custom-resource request ({}): bucket-notifications works \
                         on the AWS SDK's S3 types, and this build has no AWS SDK; run it with \
                         `cargo run -p connect-wfm-cli --features aws -- replay ...`",
                        path.display(),
                        request["RequestType"].as_str().unwrap_or("no RequestType")
                    );
                    code = ExitCode::FAILURE;
                }
                #[cfg(feature = "aws")]
                InputFile::CustomResource(request) => {
                    let store = LocalNotificationStore::new(objects);
                    let deadline = tokio::time::Instant::now() + CUSTOM_RESOURCE_TIMEOUT;
                    match connect_wfm_handlers::custom_resource::handle_request(
                        &request,
                        &store,
                        &StdoutResponseSender,
                        deadline,
                    )
                    .await
                    {
                        Ok(answer) => {
                            if answer.status == Status::Failed {
                                code = ExitCode::FAILURE;
                            }
                            eprintln!("{}: {}: {}", path.display(), answer.status.as_str(), answer.reason);
                        }
                        Err(e) => {
                            eprintln!("connect-wfm: {}: {e}", path.display());
                            code = ExitCode::FAILURE;
                        }
                    }
                }
                InputFile::Unknown(reason) => {
                    eprintln!("connect-wfm: {}: {reason}", path.display());
                    code = ExitCode::FAILURE;
                }
            }
        }
    }
    // What the scheduled sweep does in AWS, at the replay's clock: intervals that have ended
    // by the newest event time get their backlog, queues with only waiting contacts a record.
    if let Some(clock) = contacts.store.progress().await.map_err(|e| e.to_string())? {
        match connect_wfm_handlers::contacts::close_intervals_since(
            &contacts.store,
            &sink,
            &contact_settings,
            None,
            clock,
        )
        .await
        {
            Ok(closed) => {
                if closed.written > 0 {
                    eprintln!(
                        "intervals ended by {}: {} records written",
                        feed_timestamp(&clock),
                        closed.written
                    );
                }
            }
            Err(e) => {
                eprintln!("connect-wfm: closing intervals: {e}");
                code = ExitCode::FAILURE;
            }
        }
    }
    contacts.save().map_err(|e| e.to_string())?;
    Ok(code)
}

/// One line per object of each message (and per `s3:TestEvent`), on stderr.
fn report_objects(path: &Path, messages: &[MessageReport], what: &str) {
    for message in messages {
        let id = message.message_id.as_deref().unwrap_or("(no messageId)");
        if message.test_event {
            eprintln!("{}: message {id}: s3:TestEvent acknowledged", path.display());
        }
        for (object, result) in &message.objects {
            let file = object
                .as_ref()
                .map(|o| format!("s3://{}/{}", o.bucket, o.key))
                .unwrap_or_default();
            let said = match result {
                ObjectOutcome::Converted { records } => format!("{records} {what}"),
                ObjectOutcome::Duplicate => "already read, skipped".to_owned(),
                ObjectOutcome::Skipped { reason } => format!("skipped: {reason}"),
                ObjectOutcome::Failed { reason, .. } => format!("failed: {reason}"),
            };
            eprintln!("{}: message {id}: {file} {said}", path.display());
        }
    }
}

fn report_contacts(path: &Path, s: &connect_wfm_handlers::contacts::BatchStats) {
    eprintln!(
        "{}: {} contact inputs, {} legs changed, {} interval records written, {} rejected",
        path.display(),
        s.inputs,
        s.legs_changed,
        s.records_written,
        s.rejected
    );
}

/// Every stream-basis record the stored legs make at the newest event time processed.
async fn intervals(settings: &StreamSettings, state: &Path) -> Result<ExitCode, String> {
    let contacts = LocalContactStore::open(state).map_err(|e| e.to_string())?;
    let Some(clock) = contacts.store.progress().await.map_err(|e| e.to_string())? else {
        return Ok(ExitCode::SUCCESS);
    };
    let legs = contacts.store.legs();
    let names = contacts.store.names();
    let mut out = std::io::stdout().lock();
    for record in stream_queue_intervals(legs.iter(), &names, settings, clock) {
        let line = serde_json::to_string(&record).expect("records serialise");
        writeln!(out, "{line}").map_err(|e| format!("stdout: {e}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The sweep's settings for the local commands that compute what the sweep writes.
fn local_sweep_settings(mapping: Mapping) -> SweepSettings {
    SweepSettings {
        stream: connect_wfm_handlers::contacts::Settings {
            stream: StreamSettings::from_mapping(&mapping),
        },
        mapping: mapping.agent_states,
        policy: SweepPolicy::default(),
    }
}

/// The pieces and the stream-basis `agent_interval` records of every interval of the last 30
/// days ended by each instance's clock (its newest event time processed), computed by the
/// sweep's own code from the pieces kept in the state folder.
async fn agent_day(
    settings: &SweepSettings,
    state: &Path,
) -> Result<
    (
        Vec<connect_wfm_core::agent::AgentActivityRecord>,
        Vec<StreamAgentInterval>,
    ),
    String,
> {
    use connect_wfm_core::ports::{ActivityLog as _, AgentDirectory as _, ProgressStore as _};
    let states = LocalStateStore::new(state);
    let activity = LocalFeed::new(state, LocalFeedSink::Stdout);
    let step = chrono::Duration::minutes(15);
    let (mut pieces, mut records) = (Vec::new(), Vec::new());
    for progress in states.load_progress().await.map_err(|e| e.to_string())? {
        let instance = progress.instance_id.as_str();
        let agents = states.active_agents(instance).await.map_err(|e| e.to_string())?;
        let clock = progress.newest_with(&agents);
        let last = connect_wfm_core::contact::interval_start(clock) - step;
        let first = connect_wfm_core::contact::interval_start(clock - chrono::Duration::days(30));
        let alias = sweep::instance_alias(settings, instance);
        for interval in activity
            .intervals(instance, first, clock + step)
            .await
            .map_err(|e| e.to_string())?
        {
            pieces.extend(activity.pieces(instance, interval).await.map_err(|e| e.to_string())?);
        }
        let due = sweep::intervals_with_activity(instance, &agents, &activity, &settings.mapping, first, last)
            .await
            .map_err(|e| e.to_string())?;
        for interval in due {
            records.extend(
                sweep::interval_records(instance, alias, interval, &agents, &activity, &settings.mapping, clock)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    records.sort_by(|a, b| {
        (a.interval_start, &a.agent_id, &a.instance_id).cmp(&(b.interval_start, &b.agent_id, &b.instance_id))
    });
    Ok((pieces, records))
}

/// Prints the stream-basis `agent_interval` records of every ended interval.
async fn agent_intervals(mapping: Mapping, state: &Path) -> Result<ExitCode, String> {
    let (_, records) = agent_day(&local_sweep_settings(mapping), state).await?;
    let mut out = std::io::stdout().lock();
    for record in records {
        let line = serde_json::to_string(&record).expect("records serialise");
        writeln!(out, "{line}").map_err(|e| format!("stdout: {e}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the timeline page of the state folder's pieces.
async fn timeline(mapping: Mapping, state: &Path, out: &Path, names: bool) -> Result<ExitCode, String> {
    let settings = local_sweep_settings(mapping);
    let (pieces, records) = agent_day(&settings, state).await?;
    let layout = timeline::layout(&pieces, &records, &settings.mapping, names);
    let page = timeline::render(&layout, "connect-wfm: the agents' day");
    std::fs::write(out, &page).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!(
        "{}: {} agents, {} pieces, {} bytes",
        out.display(),
        layout.rows.len(),
        pieces.len(),
        page.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Converts one report file through the function's own conversion (the same parsing, agent-id
/// lookup and feed encoding), printing the records as JSON Lines.
async fn report(
    mapping: Mapping,
    kind: Option<KindArg>,
    instance: Option<String>,
    state: &Path,
    file: &Path,
) -> Result<ExitCode, String> {
    let states = LocalStateStore::new(state);
    let claims = LocalClaimStore::new(state);
    // The file is the object: bucket "" and the path as its key, read relative to here.
    let objects = LocalObjectSource::new(".");
    let ports = Ports {
        claims: &claims,
        objects: &objects,
        states: &states,
        sink: &LocalFeedSink::Stdout,
    };
    let settings = connect_wfm_handlers::reports::Settings {
        mapping: Arc::new(mapping.reports),
        instances: Arc::new(mapping.instances),
        instance,
        kind: kind.map(Into::into),
        ..Default::default()
    };
    let object = CreatedObject {
        bucket: String::new(),
        key: file.to_string_lossy().into_owned(),
        etag: None,
        reload: None,
    };
    match convert(&object, &ports, &settings).await {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(ObjectOutcome::Failed { reason, .. }) => Err(reason),
        Err(other) => Err(format!("{}: {other:?}", file.display())),
    }
}

/// `--since`/`--until`: RFC 3339, or a date taken as midnight UTC.
fn parse_time(flag: &str, value: Option<String>) -> Result<Option<DateTime<Utc>>, String> {
    let Some(value) = value else { return Ok(None) };
    if let Ok(time) = DateTime::parse_from_rfc3339(&value) {
        return Ok(Some(time.with_timezone(&Utc)));
    }
    chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d")
        .map(|date| Some(date.and_time(chrono::NaiveTime::MIN).and_utc()))
        .map_err(|_| format!("{flag} `{value}` is neither an RFC 3339 time nor a date YYYY-MM-DD"))
}

/// What `reload` puts back on a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reloaded {
    /// Connect's reports (`.csv` keys), on the reports queue.
    Reports,
    /// Firehose's contact-record files (every key), on the contact-record files queue.
    ContactRecordFiles,
}

#[cfg(feature = "aws")]
impl Reloaded {
    fn noun(self) -> &'static str {
        match self {
            Reloaded::Reports => "reports",
            Reloaded::ContactRecordFiles => "contact-record files",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Reloaded::Reports => "converted",
            Reloaded::ContactRecordFiles => "read",
        }
    }
}

#[cfg(feature = "aws")]
async fn reload(
    bucket: &str,
    prefix: &str,
    queue_url: Option<&str>,
    what: Reloaded,
    (since, until): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    force: bool,
    dry_run: bool,
) -> Result<ExitCode, String> {
    let sdk = config::load_sdk_config().await;
    let s3 = config::s3_client(&sdk);
    let objects = match what {
        Reloaded::Reports => reload::list_reports(&s3, bucket, prefix, since, until).await,
        Reloaded::ContactRecordFiles => reload::list_objects(&s3, bucket, prefix, since, until, |_| true).await,
    }
    .map_err(|e| e.to_string())?;
    let reload_id = force.then(|| Utc::now().format("%Y%m%dT%H%M%SZ").to_string());
    let bodies: Vec<String> = objects
        .iter()
        .map(|o| {
            connect_wfm_handlers::reports::created_notification(bucket, &o.key, &o.etag, o.size, reload_id.as_deref())
        })
        .collect();
    for object in &objects {
        println!(
            "s3://{bucket}/{}\t{}",
            object.key,
            feed_timestamp(&object.last_modified)
        );
    }
    match queue_url {
        Some(url) if !dry_run => {
            let sent = reload::send_messages(&config::sqs_client(&sdk), url, &bodies)
                .await
                .map_err(|e| e.to_string())?;
            let (noun, done) = (what.noun(), what.done());
            let how = if force {
                format!("to be {done} again")
            } else {
                format!("({noun} already {done} are skipped)")
            };
            eprintln!("connect-wfm: {sent} {noun} of s3://{bucket}/{prefix} queued {how}");
        }
        _ => eprintln!(
            "connect-wfm: dry run: {} {} would be queued",
            objects.len(),
            what.noun()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn sweep(
    mapping: Mapping,
    state: &Path,
    feed: &str,
    now: DateTime<Utc>,
    policy: SweepPolicy,
) -> Result<ExitCode, String> {
    let states = LocalStateStore::new(state);
    // The contact legs of the state folder: the sweep closes their intervals as in AWS.
    let contacts = LocalContactStore::open(state).map_err(|e| e.to_string())?;
    let sink = LocalFeed::new(
        state,
        if feed == "-" {
            LocalFeedSink::Stdout
        } else {
            LocalFeedSink::Folder(PathBuf::from(feed))
        },
    );
    let settings = SweepSettings {
        stream: connect_wfm_handlers::contacts::Settings {
            stream: StreamSettings::from_mapping(&mapping),
        },
        mapping: mapping.agent_states,
        policy,
    };
    let stats = handle_sweep(&states, Some(&contacts.store), &sink, &sink, &settings, now).await;
    contacts.save().map_err(|e| e.to_string())?;
    eprintln!(
        "sweep at {}: {} instances, {} silent ({} new), {} agents UNKNOWN, {} snapshots of {} agents, {} stream-basis intervals closed ({} records)",
        feed_timestamp(&now),
        stats.instances,
        stats.silent_instances,
        stats.newly_silent_instances,
        stats.silent_agents,
        stats.snapshots,
        stats.snapshot_agents,
        stats.intervals_closed,
        stats.interval_records
    );
    if stats.failures > 0 {
        eprintln!("connect-wfm: sweep: {} failures; run again", stats.failures);
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "aws")]
async fn states_of_table(table: &str, json: bool) -> Result<ExitCode, String> {
    let sdk = config::load_sdk_config().await;
    let store = DynamoStateStore::new(config::dynamodb_client(&sdk), table);
    let all = store
        .agents_seen_since(DateTime::UNIX_EPOCH)
        .await
        .map_err(|e| e.to_string())?;
    print_states(&all, json);
    Ok(ExitCode::SUCCESS)
}

/// Without the AWS SDK (the default build) `reload` says how to get a build that has it.
#[cfg(not(feature = "aws"))]
async fn reload(
    _bucket: &str,
    _prefix: &str,
    _queue_url: Option<&str>,
    _what: Reloaded,
    _period: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    _force: bool,
    _dry_run: bool,
) -> Result<ExitCode, String> {
    Err(no_aws("reload"))
}

/// Without the AWS SDK (the default build) `states --table` says how to get a build that has it.
#[cfg(not(feature = "aws"))]
async fn states_of_table(_table: &str, _json: bool) -> Result<ExitCode, String> {
    Err(no_aws("states --table"))
}

/// Where the doctor reads the stack: CloudFormation, or the JSON of describe-stacks.
#[cfg_attr(
    not(feature = "aws"),
    expect(dead_code, reason = "read only by the `aws` build's doctor")
)]
enum StackSource {
    Name(String),
    File(PathBuf),
}

/// `connect-wfm doctor`: every check, printed, exit status 1 on a problem.
#[cfg(feature = "aws")]
async fn doctor(
    mapping: &Mapping,
    source: StackSource,
    region: Option<String>,
    now: DateTime<Utc>,
) -> Result<ExitCode, String> {
    use connect_wfm_aws::doctor::{
        ConnectStorageConfigs, DoctorClients, cloudformation_client, describe_stack, examine,
    };
    use connect_wfm_core::doctor::{Ages, StackFacts, any_problem};
    let sdk = config::load_sdk_config_in(region).await;
    let stack = match source {
        StackSource::Name(name) => describe_stack(&cloudformation_client(&sdk), &name).await?,
        StackSource::File(file) => {
            let name = file.display().to_string();
            let json = std::fs::read_to_string(&file).map_err(|e| format!("{name}: {e}"))?;
            StackFacts::from_describe_stacks(&json, &name)?
        }
    };
    let clients = DoctorClients::new(&sdk);
    let connect = ConnectStorageConfigs::new(&sdk);
    let findings = examine(&clients, &connect, &stack, &mapping.reports, Ages::default(), now).await;
    let mut out = std::io::stdout().lock();
    for finding in &findings {
        writeln!(out, "{finding}").map_err(|e| format!("stdout: {e}"))?;
    }
    Ok(if any_problem(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(not(feature = "aws"))]
async fn doctor(
    _mapping: &Mapping,
    _source: StackSource,
    _region: Option<String>,
    _now: DateTime<Utc>,
) -> Result<ExitCode, String> {
    Err(no_aws("doctor"))
}

/// What a command that talks to AWS answers in a build without the SDK.
#[cfg(not(feature = "aws"))]
fn no_aws(command: &str) -> String {
    format!(
        "{command} talks to AWS, and this build has no AWS SDK (the local commands do not need it): build with \
         the `aws` feature, e.g. `cargo run -p connect-wfm-cli --features aws -- {command} ...`"
    )
}

fn states(state: &Path, json: bool) -> Result<ExitCode, String> {
    let all = LocalStateStore::new(state).all().map_err(|e| e.to_string())?;
    print_states(&all, json);
    Ok(ExitCode::SUCCESS)
}

fn print_states(all: &[AgentState], json: bool) {
    if json {
        for s in all {
            println!("{}", serde_json::to_string(s).expect("agent state serialises"));
        }
    } else {
        println!(
            "{:<38} {:<16} {:<34} {:<26} LAST SEEN",
            "AGENT ID", "LOGIN", "STATE", "SINCE"
        );
        for s in all {
            println!(
                "{:<38} {:<16} {:<34} {:<26} {}",
                s.agent_id,
                s.agent_login.as_deref().unwrap_or("-"),
                s.state,
                feed_timestamp(&s.since),
                feed_timestamp(&s.last_seen)
            );
        }
        let silent = all.iter().filter(|s| s.is_silent()).count();
        eprintln!("{} agents, {silent} UNKNOWN (silent)", all.len());
    }
}
