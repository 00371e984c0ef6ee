//! The historical-reports handler: SQS messages with S3 notifications in, interval records out.
//!
//! Per object: claim `bucket/key#etag` (a COMPLETED claim means a duplicate delivery), stream
//! and parse the report off the async executor, fill agent ids from the agent-state store,
//! write the records under names derived from the object, then complete the claim. Any failure
//! releases the claim and fails only its message (SqsBatchResponse); a report that can never
//! parse fails every delivery and so rests in the DLQ after the receive limit.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsBatchResponse;
use chrono::{DateTime, NaiveDate, Utc};
use connect_wfm_core::agent::{AgentReconciliation, AgentState, StreamAgentInterval, reconcile_agent};
use connect_wfm_core::contact::Reconciliation;
use connect_wfm_core::contact::store::ContactStore;
use connect_wfm_core::feed;
use connect_wfm_core::mapping::Instances;
use connect_wfm_core::ports::{
    ActivityLog, AgentDirectory, AgentStateStore, ClaimStore, FeedSink, ObjectSource, PortError,
};
use connect_wfm_core::report::{
    AgentIdCache, AgentInterval, IntervalRecord, QueueInterval, ReportError, ReportKind, ReportMapping, ReportReader,
    ReportSource, is_csv_key,
};

use tracing::Instrument as _;

pub use crate::input::s3::{CreatedObject, Notification, RELOAD_FIELD, created_notification, parse_notification};
pub use crate::input::sqs::{SqsBatch, SqsMessage};
use crate::input::{BatchInput as _, keep_rejects, sqs_response};
pub use crate::objects::{MessageReport, ObjectOutcome};
use crate::objects::{once, port_failure};

/// Name of this function in rejects and logs.
pub const FUNCTION: &str = "historical-reports";

/// Records per feed object part; a report is written in parts of this size.
pub const PART_RECORDS: usize = 10_000;

/// What the handler needs besides its ports; built at cold start, and again when the mapping
/// file changes.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mapping: Arc<ReportMapping>,
    /// Only keys under this prefix are reports (None: every `.csv` key).
    pub reports_prefix: Option<String>,
    /// Instance name forced for every record (else taken from the key).
    pub instance: Option<String>,
    /// Instance alias → instance id (the mapping file's `instances`): agent ids of report rows
    /// are looked up by (instance, login).
    pub instances: Arc<Instances>,
    /// Report kind forced for every object (else told by the file name or the columns).
    pub kind: Option<ReportKind>,
    /// Records held back until the whole report has parsed, so a report that fails part-way
    /// leaves nothing in the feed; a larger report is written as it goes.
    pub spool_records: usize,
    /// Compares each report's queue_interval records with the stream basis once they are
    /// written (None: contact events are off, no reconciliation). Optional and off by default,
    /// so it lives here rather than in [`Ports`], which every caller names in full.
    pub reconciler: Option<Arc<dyn Reconciler>>,
    /// Compares each report's agent_interval records (ASPR) with the stream basis of the agent
    /// event stream (None: no reconciliation).
    pub agent_reconciler: Option<Arc<dyn AgentReconciler>>,
}

/// Reconciliation of ASPR agent_interval records with the stream basis of the agent events
/// (issue "The agent's day", item 3): a boxed future, like [`Reconciler`].
pub trait AgentReconciler: Send + Sync {
    /// The comparisons of `reports` with the stream-basis records of the same agent and
    /// interval (rows without an agent id, or without a stream record, are left out).
    fn reconcile_agents<'a>(
        &'a self,
        reports: &'a [AgentInterval],
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<AgentReconciliation>, PortError>> + Send + 'a>>;
}

impl fmt::Debug for dyn AgentReconciler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgentReconciler")
    }
}

/// The [`AgentReconciler`] over the agent-state table and the feed's pieces: the stream basis
/// recomputed by the sweep's own code (its pieces read back, the open segments counted to the
/// interval's end), one log line per compared record.
pub struct StreamAgentReconciler<S, L> {
    pub states: S,
    pub activity: L,
    /// The agent-state mapping and instance aliases, as the sweep has them.
    pub settings: crate::sweep::SweepSettings,
}

impl<S: AgentDirectory, L: ActivityLog> AgentReconciler for StreamAgentReconciler<S, L> {
    fn reconcile_agents<'a>(
        &'a self,
        reports: &'a [AgentInterval],
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<AgentReconciliation>, PortError>> + Send + 'a>> {
        Box::pin(async move {
            let instance_id = |alias: &str| {
                self.settings
                    .stream
                    .stream
                    .instances
                    .get(alias)
                    .cloned()
                    .unwrap_or_else(|| alias.to_owned())
            };
            let mut groups: BTreeMap<(String, DateTime<Utc>), Vec<&AgentInterval>> = BTreeMap::new();
            for row in reports.iter().filter(|r| r.agent_id.is_some()) {
                groups
                    .entry((instance_id(&row.instance), row.interval_start))
                    .or_default()
                    .push(row);
            }
            let mut agents_of: BTreeMap<String, Vec<AgentState>> = BTreeMap::new();
            let mut out = Vec::new();
            for ((instance, interval), rows) in groups {
                if !agents_of.contains_key(&instance) {
                    agents_of.insert(instance.clone(), self.states.active_agents(&instance).await?);
                }
                let alias = crate::sweep::instance_alias(&self.settings, &instance);
                let stream = crate::sweep::interval_records(
                    &instance,
                    alias,
                    interval,
                    &agents_of[&instance],
                    &self.activity,
                    &self.settings.mapping,
                    now,
                )
                .await?;
                let by_agent: BTreeMap<&str, &StreamAgentInterval> =
                    stream.iter().map(|r| (r.agent_id.as_str(), r)).collect();
                for row in rows {
                    let Some(stream) = row.agent_id.as_deref().and_then(|id| by_agent.get(id)) else {
                        continue;
                    };
                    let reconciliation = reconcile_agent(row, stream);
                    if reconciliation.differences().next().is_some() {
                        tracing::info!("{reconciliation}");
                    } else {
                        tracing::debug!("{reconciliation}");
                    }
                    out.push(reconciliation);
                }
            }
            Ok(out)
        })
    }
}

/// Reconciliation of report-basis queue_interval records with the stream basis (issue 12,
/// item 7): a boxed future so that [`Settings`] can hold any contact store.
pub trait Reconciler: Send + Sync {
    /// The comparisons of `reports` with the stream-basis records of the same instance, queue
    /// and interval (rows without one are left out), computed at `now`.
    fn reconcile<'a>(
        &'a self,
        reports: &'a [QueueInterval],
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Reconciliation>, PortError>> + Send + 'a>>;
}

impl fmt::Debug for dyn Reconciler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reconciler")
    }
}

/// The [`Reconciler`] over the contact-events function's store: the stream basis recomputed
/// from the stored legs (`reconcile_reports`, which also logs one line per compared record).
pub struct StreamReconciler<S> {
    /// The contact store (the contact-events function's table).
    pub store: S,
    /// Thresholds and instance aliases, as the contact-events function has them.
    pub settings: crate::contacts::Settings,
}

impl<S: ContactStore> Reconciler for StreamReconciler<S> {
    fn reconcile<'a>(
        &'a self,
        reports: &'a [QueueInterval],
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Reconciliation>, PortError>> + Send + 'a>> {
        Box::pin(crate::contacts::reconcile_reports(
            reports,
            &self.store,
            &self.settings,
            now,
        ))
    }
}

/// What reconciliation found in one batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReconcileStats {
    /// Report records compared with a stream-basis record.
    pub reconciled: usize,
    /// Of those, the ones that differ on at least one field.
    pub drifting: usize,
    /// Reports whose reconciliation failed (logged; the report itself is converted).
    pub failures: usize,
    /// Each differing field of each drifting record: the field and |stream − report| (1 when
    /// only one basis has a value).
    pub field_drift: Vec<(String, f64)>,
    /// ASPR records compared with a stream-basis agent_interval record.
    pub agents_reconciled: usize,
    /// Of those, the ones that differ by more than the tolerance on at least one field.
    pub agents_drifting: usize,
    /// As `field_drift`, for the agent fields (`agent.login_time_s`, ...).
    pub agent_field_drift: Vec<(String, f64)>,
}

impl ReconcileStats {
    /// The largest drift of each differing field, `field=value` by field name, comma-separated.
    pub fn largest_drift(&self) -> String {
        largest(&self.field_drift)
    }

    /// The largest drift of each differing agent field, as [`Self::largest_drift`].
    pub fn largest_agent_drift(&self) -> String {
        largest(&self.agent_field_drift)
    }

    fn add_agents(&mut self, reconciliations: &[AgentReconciliation]) {
        for r in reconciliations {
            self.agents_reconciled += 1;
            let before = self.agent_field_drift.len();
            self.agent_field_drift.extend(
                r.differences()
                    .map(|d| (d.field.clone(), d.delta().map_or(1.0, f64::abs))),
            );
            if self.agent_field_drift.len() > before {
                self.agents_drifting += 1;
            }
        }
    }

    fn add(&mut self, reconciliations: &[Reconciliation]) {
        for r in reconciliations {
            self.reconciled += 1;
            let before = self.field_drift.len();
            self.field_drift.extend(
                r.differences()
                    .map(|d| (d.field.clone(), d.delta().map_or(1.0, f64::abs))),
            );
            if self.field_drift.len() > before {
                self.drifting += 1;
            }
        }
    }
}

/// The largest drift of each field, `field=value` by field name, comma-separated.
fn largest(drift: &[(String, f64)]) -> String {
    let mut largest: BTreeMap<&str, f64> = BTreeMap::new();
    for (field, difference) in drift {
        let value = largest.entry(field).or_insert(0.0);
        *value = value.max(*difference);
    }
    let fields: Vec<String> = largest.iter().map(|(f, v)| format!("{f}={v}")).collect();
    fields.join(",")
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mapping: Arc::default(),
            reports_prefix: None,
            instance: None,
            instances: Arc::default(),
            kind: None,
            spool_records: 5 * PART_RECORDS,
            reconciler: None,
            agent_reconciler: None,
        }
    }
}

/// The Lambda response and what each message did.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub response: SqsBatchResponse,
    pub messages: Vec<MessageReport>,
    /// What comparing the reports' queue intervals with the stream basis found.
    pub reconciliation: ReconcileStats,
}

impl BatchOutcome {
    /// Counts this batch in the process's metrics recorder (CloudWatch EMF in Lambda, nothing
    /// elsewhere): `ReportFiles` (converted), `ReportRows` (records written), `ReportErrors`
    /// (objects that failed), and of reconciliation `DriftingIntervals` and `ReconcileErrors`;
    /// zeros are left out. Only what an alarm or the dashboard reads is a metric (CloudWatch
    /// bills each one): duplicates and skipped objects have their log lines, reconciled intervals
    /// and the drift of each field the batch's.
    pub fn record_metrics(&self) {
        let (mut files, mut rows, mut errors) = (0u64, 0u64, 0u64);
        for (_, outcome) in self.messages.iter().flat_map(|m| &m.objects) {
            match outcome {
                ObjectOutcome::Converted { records } => {
                    files += 1;
                    rows += *records as u64;
                }
                ObjectOutcome::Failed { .. } => errors += 1,
                ObjectOutcome::Duplicate | ObjectOutcome::Skipped { .. } => {}
            }
        }
        let reconciliation = &self.reconciliation;
        for (metric, value) in [
            ("ReportFiles", files),
            ("ReportRows", rows),
            ("ReportErrors", errors),
            ("DriftingIntervals", reconciliation.drifting as u64),
            ("DriftingAgentIntervals", reconciliation.agents_drifting as u64),
            ("ReconcileErrors", reconciliation.failures as u64),
        ] {
            if value > 0 {
                metrics::counter!(metric).increment(value);
            }
        }
    }
}

/// The ports of the function.
pub struct Ports<'a, C, O, S, F> {
    pub claims: &'a C,
    pub objects: &'a O,
    pub states: &'a S,
    pub sink: &'a F,
}

/// Processes one SQS batch; never fails as a whole. Messages run one after another: a batch
/// is a handful of 15-minute reports, and a shared claim store keeps duplicates out anyway.
pub async fn handle_messages<C, O, S, F>(
    batch: &SqsBatch,
    ports: &Ports<'_, C, O, S, F>,
    settings: &Settings,
    now: DateTime<Utc>,
) -> BatchOutcome
where
    C: ClaimStore,
    O: ObjectSource,
    S: AgentStateStore,
    F: FeedSink,
{
    let mut messages = Vec::with_capacity(batch.records.len());
    let mut failed = Vec::new();
    let mut reconciliation = ReconcileStats::default();
    // Positions in this batch, not the messages' own `index`: a batch may be built of messages
    // taken from another (a test's slice, a tool's selection).
    for (position, message) in batch.records.iter().enumerate() {
        // Every log line of the message, the object's included, says which message it is.
        let span = tracing::info_span!(
            "message",
            message_id = message.message_id.as_deref().unwrap_or("(no messageId)")
        );
        let report = handle_message(&batch.records, position, ports, settings, now, &mut reconciliation)
            .instrument(span)
            .await;
        if report.failed() {
            failed.push(position);
        }
        messages.push(report);
    }
    let response = sqs_response(&batch.records, failed);
    let failed = response.batch_item_failures.len();
    tracing::info!(
        messages = messages.len(),
        failed,
        reconciled = reconciliation.reconciled,
        drifting = reconciliation.drifting,
        field_drift = %reconciliation.largest_drift(),
        agents_reconciled = reconciliation.agents_reconciled,
        agents_drifting = reconciliation.agents_drifting,
        agent_field_drift = %reconciliation.largest_agent_drift(),
        "report batch processed"
    );
    BatchOutcome {
        response,
        messages,
        reconciliation,
    }
}

async fn handle_message<C, O, S, F>(
    batch: &[SqsMessage],
    position: usize,
    ports: &Ports<'_, C, O, S, F>,
    settings: &Settings,
    now: DateTime<Utc>,
    reconciliation: &mut ReconcileStats,
) -> MessageReport
where
    C: ClaimStore,
    O: ObjectSource,
    S: AgentStateStore,
    F: FeedSink,
{
    let message = &batch[position];
    let message_id = message.message_id.clone();
    let id = message_id.as_deref().unwrap_or("(no messageId)");
    let notification = match message.body() {
        Ok(body) => parse_notification(body),
        Err(e) => Err(e.to_owned()),
    };
    let created = match notification {
        Ok(Notification::Test) => {
            tracing::info!(message_id = id, "s3:TestEvent acknowledged");
            return MessageReport {
                message_id,
                test_event: true,
                objects: Vec::new(),
            };
        }
        Ok(Notification::Created(created)) => created,
        Err(reason) => {
            let reason = format!("SQS message {id}: {reason}");
            tracing::error!(message_id = id, %reason, "message is not an S3 notification; it will rest in the DLQ");
            keep_rejected(ports.sink, batch, position, &reason, now).await;
            let outcome = ObjectOutcome::Failed {
                reason,
                permanent: true,
            };
            return MessageReport {
                message_id,
                test_event: false,
                objects: vec![(None, outcome)],
            };
        }
    };
    let mut objects = Vec::with_capacity(created.len());
    for object in created {
        let outcome = handle_object(&object, id, ports, settings, now, reconciliation).await;
        let file = format!("s3://{}/{}", object.bucket, object.key);
        match &outcome {
            ObjectOutcome::Converted { records } => tracing::info!(message_id = id, file, records, "report converted"),
            ObjectOutcome::Duplicate => tracing::info!(message_id = id, file, "report already converted; skipped"),
            ObjectOutcome::Skipped { reason } => tracing::info!(message_id = id, file, reason, "object skipped"),
            ObjectOutcome::Failed {
                reason,
                permanent: true,
            } => {
                tracing::error!(
                    message_id = id,
                    file,
                    reason,
                    "report cannot be converted; fix the mapping or the report, then reload"
                );
                // The reject names the message; its reason names the file (most reasons do already).
                let reason = if reason.contains(&file) {
                    reason.clone()
                } else {
                    format!("{file}: {reason}")
                };
                keep_rejected(ports.sink, batch, position, &reason, now).await;
            }
            ObjectOutcome::Failed {
                reason,
                permanent: false,
            } => {
                tracing::warn!(
                    message_id = id,
                    file,
                    reason,
                    "report conversion failed; it will be retried"
                )
            }
        }
        objects.push((Some(object), outcome));
    }
    MessageReport {
        message_id,
        test_event: false,
        objects,
    }
}

/// Keeps what can never be converted under the feed's rejects, with the reason, where a feed
/// reader sees it at once; the message itself still fails and rests in the DLQ after the
/// queue's receive limit (architecture.md), from where `connect-wfm reload` brings it back once
/// the mapping is fixed. The object's name derives from the input, so a redelivery overwrites it.
async fn keep_rejected<F: FeedSink>(sink: &F, batch: &[SqsMessage], index: usize, reason: &str, now: DateTime<Utc>) {
    let rejects = vec![(index, reason.to_owned())];
    if !keep_rejects(FUNCTION, batch, rejects, sink, now).await.is_empty() {
        tracing::warn!(input = %batch[index].describe(), "could not keep the reject; the message still rests in the DLQ");
    }
}

/// Why an object is not one of our reports, if it is not.
fn not_a_report(object: &CreatedObject, settings: &Settings) -> Option<String> {
    if let Some(prefix) = settings
        .reports_prefix
        .as_deref()
        .filter(|p| !object.key.starts_with(p))
    {
        return Some(format!("outside the reports prefix `{prefix}`"));
    }
    if !is_csv_key(&object.key) {
        return Some("not a .csv file".into());
    }
    None
}

async fn handle_object<C, O, S, F>(
    object: &CreatedObject,
    owner: &str,
    ports: &Ports<'_, C, O, S, F>,
    settings: &Settings,
    now: DateTime<Utc>,
    reconciliation: &mut ReconcileStats,
) -> ObjectOutcome
where
    C: ClaimStore,
    O: ObjectSource,
    S: AgentStateStore,
    F: FeedSink,
{
    if let Some(reason) = not_a_report(object, settings) {
        return ObjectOutcome::Skipped { reason };
    }
    let collect = Collect {
        queues: settings.reconciler.is_some(),
        agents: settings.agent_reconciler.is_some(),
    };
    // The message is the claim's owner (see [`once`]).
    let converted = once(ports.claims, object, owner, now, || async {
        let (records, queues, agents) = convert_collecting(object, ports, settings, collect).await?;
        // Only for the operator's eyes: a failure is logged and counted, never a failure of the
        // report, whose records are written.
        if let Some(reconciler) = settings.agent_reconciler.as_deref().filter(|_| !agents.is_empty()) {
            match reconciler.reconcile_agents(&agents, now).await {
                Ok(found) => reconciliation.add_agents(&found),
                Err(e) => {
                    reconciliation.failures += 1;
                    tracing::warn!(error = %e, "could not reconcile the report's agents with the stream basis");
                }
            }
        }
        if let Some(reconciler) = settings.reconciler.as_deref().filter(|_| !queues.is_empty()) {
            match reconciler.reconcile(&queues, now).await {
                Ok(found) => reconciliation.add(&found),
                Err(e) => {
                    reconciliation.failures += 1;
                    tracing::warn!(error = %e, "could not reconcile the report with the stream basis");
                }
            }
        }
        Ok(records)
    })
    .await;
    match converted {
        Ok(records) => ObjectOutcome::Converted { records },
        Err(outcome) => outcome,
    }
}

/// Parser output sent from the blocking thread: a part of records, or the error that ended it.
type Part = Result<Vec<IntervalRecord>, ReportError>;

/// Streams, parses and writes one report, agent ids filled in; returns how many records were
/// written. The function calls it under a claim; `connect-wfm report` calls it directly.
pub async fn convert<C, O, S, F>(
    object: &CreatedObject,
    ports: &Ports<'_, C, O, S, F>,
    settings: &Settings,
) -> Result<usize, ObjectOutcome>
where
    O: ObjectSource,
    S: AgentStateStore,
    F: FeedSink,
{
    Ok(convert_collecting(object, ports, settings, Collect::default()).await?.0)
}

/// [`convert`], also returning the queue_interval and agent_interval records written, as
/// `collect` asks (for reconciliation; a QR has one per queue and interval, an ASPR one per
/// agent, so few).
async fn convert_collecting<C, O, S, F>(
    object: &CreatedObject,
    ports: &Ports<'_, C, O, S, F>,
    settings: &Settings,
    collect: Collect,
) -> Result<(usize, Vec<QueueInterval>, Vec<AgentInterval>), ObjectOutcome>
where
    O: ObjectSource,
    S: AgentStateStore,
    F: FeedSink,
{
    let transient = |reason: String| ObjectOutcome::Failed {
        reason,
        permanent: false,
    };
    let reader = ports
        .objects
        .open(&object.bucket, &object.key)
        .await
        .map_err(|e| port_failure(&e))?;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Part>(2);
    let source = ReportSource::new(object.bucket.clone(), object.key.clone());
    let (mapping, instance, kind) = (Arc::clone(&settings.mapping), settings.instance.clone(), settings.kind);
    // The reader may block on the network, and parsing is CPU work: keep both off the executor.
    let parser = tokio::task::spawn_blocking(move || {
        let report = match ReportReader::new(reader, source, kind, instance, &mapping) {
            Ok(report) => report,
            Err(e) => return drop(tx.blocking_send(Err(e))),
        };
        let mut part = Vec::with_capacity(PART_RECORDS.min(1024));
        for item in report {
            match item {
                Ok(record) => part.push(record),
                Err(e) => return drop(tx.blocking_send(Err(e))),
            }
            if part.len() == PART_RECORDS && tx.blocking_send(Ok(std::mem::take(&mut part))).is_err() {
                return;
            }
        }
        if !part.is_empty() {
            let _ = tx.blocking_send(Ok(part));
        }
    });

    let name = format!(
        "{}/{}#{}",
        object.bucket,
        object.key,
        object.etag.as_deref().unwrap_or("-")
    );
    let mut writer = PartWriter {
        ports,
        name,
        instances: &settings.instances,
        agent_ids: AgentIdCache::default(),
        parts: 0,
        records: 0,
        queues: collect.queues.then(Vec::new),
        agents: collect.agents.then(Vec::new),
    };
    let mut spooled: Vec<Vec<IntervalRecord>> = Vec::new();
    let mut spooled_records = 0;
    let mut result = Ok(());
    while let Some(part) = rx.recv().await {
        match part {
            Ok(records) => {
                spooled_records += records.len();
                spooled.push(records);
                if spooled_records > settings.spool_records {
                    for records in spooled.drain(..) {
                        writer.write(records).await?;
                    }
                }
            }
            Err(e) => {
                result = Err(ObjectOutcome::Failed {
                    reason: e.to_string(),
                    permanent: e.is_permanent(),
                });
                break;
            }
        }
    }
    drop(rx);
    if let Err(e) = parser.await {
        return Err(transient(format!("report parser stopped: {e}")));
    }
    result?;
    for records in spooled {
        writer.write(records).await?;
    }
    Ok((
        writer.records,
        writer.queues.unwrap_or_default(),
        writer.agents.unwrap_or_default(),
    ))
}

/// Which records [`convert_collecting`] keeps for reconciliation.
#[derive(Debug, Clone, Copy, Default)]
struct Collect {
    queues: bool,
    agents: bool,
}

/// Writes parts of one report's records, filling agent ids on the way.
struct PartWriter<'p, 'a, C, O, S, F> {
    ports: &'p Ports<'a, C, O, S, F>,
    /// `bucket/key#etag`: object names derive from it, so a retry overwrites.
    name: String,
    instances: &'p Instances,
    agent_ids: AgentIdCache,
    parts: usize,
    records: usize,
    /// The queue_interval records written, when collected.
    queues: Option<Vec<QueueInterval>>,
    /// The agent_interval records written, when collected.
    agents: Option<Vec<AgentInterval>>,
}

impl<C, O, S: AgentStateStore, F: FeedSink> PartWriter<'_, '_, C, O, S, F> {
    async fn write(&mut self, mut records: Vec<IntervalRecord>) -> Result<(), ObjectOutcome> {
        let logins = self
            .agent_ids
            .missing(records.iter().filter_map(IntervalRecord::agent_login));
        if !logins.is_empty() {
            let found = self
                .ports
                .states
                .agents_by_login(&logins)
                .await
                .map_err(|e| port_failure(&e))?;
            self.agent_ids.add(&logins, found);
        }
        for record in &mut records {
            let Some(login) = record.agent_login() else { continue };
            let alias = record.instance();
            let id = self.agent_ids.id(alias, self.instances.instance_id(alias), login);
            record.set_agent_id(id);
        }

        let mut by_object: BTreeMap<(&'static str, NaiveDate), Vec<&IntervalRecord>> = BTreeMap::new();
        for record in &records {
            by_object
                .entry((record.feed_kind(), record.interval_start().date_naive()))
                .or_default()
                .push(record);
        }
        for ((kind, date), lines) in by_object {
            let key = feed::object_key(kind, date, &format!("{}-part{:04}", self.name, self.parts));
            self.ports
                .sink
                .put(&key, feed::to_json_lines(&lines))
                .await
                .map_err(|e| port_failure(&e))?;
        }
        self.parts += 1;
        self.records += records.len();
        if self.queues.is_some() || self.agents.is_some() {
            for record in records {
                match (record, &mut self.queues, &mut self.agents) {
                    (IntervalRecord::Queue(queue), Some(queues), _) => queues.push(queue),
                    (IntervalRecord::Agent(agent), _, Some(agents)) => agents.push(agent),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}
