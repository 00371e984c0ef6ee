//! `connect-wfm doctor`, as far as it is pure: what a live deployment is judged by. Each check
//! turns what the adapters found (a stack's parameters and outputs, a bucket's notification
//! entries, the newest object of a kind and its time, a report's header, a queue's depth, a
//! stream's status, a key policy, an instance's storage configs) into one [`Finding`]: ok, or a
//! problem with the fix in one line. The AWS calls that gather the facts live in
//! `connect_wfm_aws::doctor`; Connect's storage configs come through the
//! [`InstanceStorageConfigs`] port (the emulator does not serve Connect).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::agent::InstanceProgress;
use crate::custom_resource::{NotificationEntry, OBJECT_CREATED, overlapping};
use crate::ports::PortError;
use crate::report::{ReportKind, ReportMapping, ReportProblem, ReportReader, ReportSource};

/// Ok or a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Problem,
}

/// One line of the doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    /// What was checked: `reports notification`, `newest QR report`, ...
    pub check: String,
    /// What was found.
    pub found: String,
    /// The fix, in one line (problems only).
    pub fix: Option<String>,
}

impl Finding {
    /// An ok line.
    pub fn ok(check: impl Into<String>, found: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Ok,
            check: check.into(),
            found: found.into(),
            fix: None,
        }
    }

    /// A problem and its fix.
    pub fn problem(check: impl Into<String>, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Problem,
            check: check.into(),
            found: found.into(),
            fix: Some(fix.into()),
        }
    }

    /// True for a problem.
    pub fn is_problem(&self) -> bool {
        self.verdict == Verdict::Problem
    }
}

/// `ok   <check>: <found>` or `PROBLEM <check>: <found> — fix: <fix>`.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.verdict {
            Verdict::Ok => write!(f, "ok   {}: {}", self.check, self.found),
            Verdict::Problem => write!(
                f,
                "PROBLEM {}: {} — fix: {}",
                self.check,
                self.found,
                self.fix.as_deref().unwrap_or("-")
            ),
        }
    }
}

/// The stack as `aws cloudformation describe-stacks --stack-name NAME` prints it: its
/// parameters and outputs by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackFacts {
    pub name: String,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeStacks {
    stacks: Vec<StackJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StackJson {
    stack_name: String,
    #[serde(default)]
    parameters: Vec<ParameterJson>,
    #[serde(default)]
    outputs: Vec<OutputJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParameterJson {
    parameter_key: String,
    #[serde(default)]
    parameter_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OutputJson {
    output_key: String,
    #[serde(default)]
    output_value: String,
}

impl StackFacts {
    /// Reads the JSON of `describe-stacks` (its first stack); `file` names it in errors.
    pub fn from_describe_stacks(json: &str, file: &str) -> Result<Self, String> {
        let described: DescribeStacks =
            serde_json::from_str(json).map_err(|e| format!("{file}: not the JSON of describe-stacks: {e}"))?;
        let stack = (described.stacks.into_iter().next()).ok_or_else(|| format!("{file}: no stack in `Stacks`"))?;
        Ok(Self {
            name: stack.stack_name,
            parameters: (stack.parameters.into_iter())
                .map(|p| (p.parameter_key, p.parameter_value))
                .collect(),
            outputs: (stack.outputs.into_iter())
                .map(|o| (o.output_key, o.output_value))
                .collect(),
        })
    }

    /// A parameter's value, empty ones as absent.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// An output's value, empty ones as absent.
    pub fn output(&self, key: &str) -> Option<&str> {
        self.outputs.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// How old the newest object of a kind may be before it is a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ages {
    /// Connect writes a scheduled report every 15 minutes, 6 to 16 minutes after its interval,
    /// even for idle intervals.
    pub report: Duration,
    /// The feed is written at least every sweep (feed_health) and with every report.
    pub feed: Duration,
}

impl Default for Ages {
    fn default() -> Self {
        Self {
            report: Duration::minutes(45),
            feed: Duration::minutes(45),
        }
    }
}

/// A duration in words: `3 min`, `2 h 5 min`, `4 d 3 h`.
pub fn age_text(age: Duration) -> String {
    let minutes = age.num_minutes().max(0);
    match minutes {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} d {} h", m / (24 * 60), (m / 60) % 24),
    }
}

/// The newest object of a kind: `newest` is its key and last-modified time, `None` when there
/// is none. Older than `max_age` at `now` (or none at all) is a problem with `fix`.
pub fn judge_newest(
    check: &str,
    newest: Option<(&str, DateTime<Utc>)>,
    now: DateTime<Utc>,
    max_age: Duration,
    fix: &str,
) -> Finding {
    match newest {
        None => Finding::problem(check, "none found", fix),
        Some((key, time)) => {
            let age = now - time;
            let found = format!("{key}, {} old", age_text(age));
            if age > max_age {
                Finding::problem(check, format!("{found} (older than {})", age_text(max_age)), fix)
            } else {
                Finding::ok(check, found)
            }
        }
    }
}

/// What the newest report of `kind` says through the very reader the function converts with:
/// its kind, the service-level thresholds it carries, or the required column it lacks.
pub fn judge_report_header(kind: ReportKind, bucket: &str, key: &str, head: &[u8], mapping: &ReportMapping) -> Finding {
    let check = format!("header of the newest {} report", kind.tag());
    match ReportReader::new(head, ReportSource::new(bucket, key), None, None, mapping) {
        Ok(reader) if reader.kind() != kind => Finding::problem(
            check,
            format!("{key} reads as {} by its columns", reader.kind().tag()),
            "give the report a name with its kind tag (QR, AQR, ASPR) or fix `kinds` in the mapping file",
        ),
        Ok(reader) => {
            let thresholds = reader.thresholds();
            let found = if thresholds.is_empty() {
                "every required column; no service-level threshold columns".to_owned()
            } else {
                let list: Vec<String> = thresholds.iter().map(|t| format!("{t} s")).collect();
                format!("every required column; service-level thresholds {}", list.join(", "))
            };
            if kind == ReportKind::Queue && thresholds.is_empty() {
                Finding::problem(
                    check,
                    found,
                    "add `Contacts answered in X seconds` and `Service level X seconds` to the queue report in Connect",
                )
            } else {
                Finding::ok(check, found)
            }
        }
        Err(e) => {
            let fix = match &e.problem {
                ReportProblem::MissingColumn(column) => format!(
                    "add the column `{column}` to the {} report in Connect, or name its header in the mapping file",
                    kind.tag()
                ),
                _ => "fix the report in Connect (Analytics, Saved reports) or the mapping file, then `connect-wfm reload`"
                    .to_owned(),
            };
            Finding::problem(check, e.to_string(), fix)
        }
    }
}

/// A queue's depth: messages in a dead-letter or failure queue are inputs that need a look.
pub fn judge_depth(check: &str, depth: Option<u64>, fix: &str) -> Finding {
    match depth {
        None => Finding::problem(
            check,
            "the queue cannot be read",
            "check the queue exists and you may read its attributes",
        ),
        Some(0) => Finding::ok(check, "empty"),
        Some(n) => Finding::problem(check, format!("{n} message(s) waiting"), fix),
    }
}

/// The reports notification: with `queue` delivery an entry of ours (our queue, ObjectCreated,
/// our prefix) must be there, and whoever overlaps it is named; with `eventbridge` delivery
/// the bucket's EventBridge notifications must be on.
pub fn judge_reports_notification(
    bucket: &str,
    entries: &[NotificationEntry],
    event_bridge_on: bool,
    wanted: &NotificationEntry,
    eventbridge: bool,
) -> Finding {
    let check = "reports notification";
    if eventbridge {
        return if event_bridge_on {
            Finding::ok(check, format!("s3://{bucket} sends its events to EventBridge"))
        } else {
            Finding::problem(
                check,
                format!("s3://{bucket} does not send its events to EventBridge"),
                "update the stack (its custom resource turns them on) or turn on EventBridge in the bucket's properties",
            )
        };
    }
    let ours = entries.iter().find(|e| {
        e.destination == wanted.destination
            && e.events
                .iter()
                .any(|ev| crate::custom_resource::events_overlap(ev, OBJECT_CREATED))
            && wanted.prefix.starts_with(&e.prefix)
            && wanted.suffix.ends_with(&e.suffix)
    });
    match (
        ours,
        overlapping(
            entries,
            &NotificationEntry {
                id: None,
                ..wanted.clone()
            },
        ),
    ) {
        (Some(entry), _) => Finding::ok(check, format!("s3://{bucket} has ours, {}", entry.describe())),
        (None, Some(theirs)) if theirs.destination != wanted.destination => Finding::problem(
            check,
            format!(
                "s3://{bucket} has no entry for our queue; {} overlaps it",
                theirs.describe()
            ),
            "redeploy with ReportsNotification=eventbridge, or remove that entry and update the stack",
        ),
        (None, _) => Finding::problem(
            check,
            format!(
                "s3://{bucket} has no entry sending ObjectCreated of keys under `{}` to {}",
                wanted.prefix, wanted.destination
            ),
            "update the stack (its custom resource writes the entry back), or check who rewrote the bucket's notifications",
        ),
    }
}

/// A Kinesis stream: it must exist and be ACTIVE (or UPDATING).
pub fn judge_stream(check: &str, arn: &str, status: Option<&str>) -> Finding {
    match status {
        None => Finding::problem(
            check,
            format!("{arn} does not exist"),
            "create the stream or give the stack the right ARN",
        ),
        Some(s @ ("ACTIVE" | "UPDATING")) => Finding::ok(check, format!("{arn} is {s}")),
        Some(s) => Finding::problem(
            check,
            format!("{arn} is {s}"),
            "wait for the stream to become ACTIVE, or recreate it",
        ),
    }
}

/// What Lambda says of an event source mapping (ListEventSourceMappings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingState<'a> {
    pub uuid: &'a str,
    /// `Enabled`, `Disabled`, `Creating`, ...
    pub state: &'a str,
    /// `OK`, `No records processed`, `PROBLEM: ...`, when Lambda gives one.
    pub last_result: Option<&'a str>,
}

/// How far behind its stream a function may read (the stack's iterator-age alarm's threshold is
/// of the same order): past this the feed is late.
pub const ITERATOR_AGE_LIMIT_MS: f64 = 60_000.0;

/// The greatest `IteratorAge` (milliseconds) of a stream's function over the last minutes, if
/// CloudWatch has any: within [`ITERATOR_AGE_LIMIT_MS`] it reads the stream as it comes.
pub fn judge_iterator_age(check: &str, function: &str, max_ms: Option<f64>) -> Finding {
    match max_ms {
        None => Finding::ok(
            check,
            format!("{function}: no IteratorAge data in the last 15 minutes (no records read, or a quiet stream)"),
        ),
        Some(age) if age > ITERATOR_AGE_LIMIT_MS => Finding::problem(
            check,
            format!(
                "{function} reads {:.0} s behind the stream (the newest records wait)",
                age / 1000.0
            ),
            "read its Errors and Throttles on the dashboard; a backlog after an outage drains by itself, one that keeps growing needs the mapping's ParallelizationFactor raised",
        ),
        Some(age) => Finding::ok(
            check,
            format!("{function} reads {:.1} s behind the stream", age / 1000.0),
        ),
    }
}

/// A Lambda event source mapping: it must be Enabled, and its last processing result (when
/// Lambda gives one) must not be a `PROBLEM: ...`.
pub fn judge_mapping(check: &str, source: &str, mapping: Option<MappingState<'_>>) -> Finding {
    let Some(mapping) = mapping else {
        return Finding::problem(
            check,
            format!("no mapping from {source}"),
            "update the stack: its event source mapping is gone",
        );
    };
    let result = (mapping.last_result)
        .map(|r| format!(", last processing result `{r}`"))
        .unwrap_or_default();
    let found = format!("from {source}: {}{result}", mapping.state);
    match mapping.state {
        "Enabled" if mapping.last_result.is_some_and(|r| r.starts_with("PROBLEM")) => Finding::problem(
            check,
            found,
            "read the function's log and its role's permissions on the stream (and on the stream's key)",
        ),
        "Enabled" => Finding::ok(check, found),
        _ => Finding::problem(
            check,
            found,
            format!(
                "enable it: aws lambda update-event-source-mapping --uuid {} --enabled",
                mapping.uuid
            ),
        ),
    }
}

/// The statements of a key policy that allow one of `actions` (lower case, `kms:*` and `*`
/// always count) to a principal `principal` accepts: `Principal` itself (`*`, `{"AWS": ...}`,
/// `{"Service": ...}`) or, for a wildcard principal, the `aws:PrincipalArn` patterns of its
/// condition (a wildcard narrowed to other principals lets nobody else in).
fn policy_allows(policy: &str, actions: &[&str], principal: impl Fn(&PolicyPrincipal<'_>) -> bool) -> bool {
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(policy) else {
        return false;
    };
    let statements = match policy.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    statements.iter().any(|s| {
        let allow = s.get("Effect").and_then(|e| e.as_str()) == Some("Allow");
        let action = many(s.get("Action")).iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == "kms:*" || a == "*" || actions.contains(&a.as_str())
        });
        let arn_conditions: Vec<String> = (s.get("Condition").and_then(|c| c.as_object()))
            .into_iter()
            .flat_map(|operators| operators.values())
            .filter_map(|keys| keys.as_object())
            .flat_map(|keys| keys.iter())
            .filter(|(key, _)| key.eq_ignore_ascii_case("aws:PrincipalArn"))
            .flat_map(|(_, values)| many(Some(values)))
            .collect();
        let wildcard = PolicyPrincipal::Anyone {
            arn_patterns: &arn_conditions,
        };
        let given = match s.get("Principal") {
            Some(serde_json::Value::String(p)) if p == "*" => principal(&wildcard),
            Some(p @ serde_json::Value::Object(_)) => {
                many(p.get("Service"))
                    .iter()
                    .any(|x| principal(&PolicyPrincipal::Service(x)))
                    || many(p.get("AWS")).iter().any(|x| {
                        if x == "*" {
                            principal(&wildcard)
                        } else {
                            principal(&PolicyPrincipal::Aws(x))
                        }
                    })
            }
            _ => false,
        };
        allow && action && given
    })
}

/// One principal of a key policy statement.
enum PolicyPrincipal<'a> {
    /// `*`, with the `aws:PrincipalArn` patterns its condition narrows it to (none: anyone).
    Anyone { arn_patterns: &'a [String] },
    /// `{"Service": ...}`.
    Service(&'a str),
    /// `{"AWS": ...}`: an ARN or an account id.
    Aws(&'a str),
}

fn many(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// IAM's `ArnLike` matching: `*` any run of characters, `?` one character.
fn arn_like(pattern: &str, arn: &str) -> bool {
    let (p, a): (Vec<char>, Vec<char>) = (pattern.chars().collect(), arn.chars().collect());
    let (mut pi, mut ai, mut star, mut mark) = (0, 0, None, 0);
    while ai < a.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == a[ai]) {
            pi += 1;
            ai += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ai;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ai = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Connect's service-linked role, as it appears in a principal or an `aws:PrincipalArn` pattern.
const CONNECT_ROLE: &str = "AWSServiceRoleForAmazonConnect";

/// True when a KMS key policy lets Amazon Connect generate data keys: a statement that allows
/// `kms:GenerateDataKey` (or `kms:*`, `kms:GenerateDataKey*`) to the service `connect.amazonaws.com`
/// or to a role of Connect's (`AWSServiceRoleForAmazonConnect`), or to every principal (unless
/// its `aws:PrincipalArn` condition names only others).
pub fn key_policy_lets_connect(policy: &str) -> bool {
    policy_allows(policy, &["kms:generatedatakey", "kms:generatedatakey*"], |p| match p {
        PolicyPrincipal::Anyone { arn_patterns } => {
            arn_patterns.is_empty() || arn_patterns.iter().any(|a| a.contains(CONNECT_ROLE))
        }
        PolicyPrincipal::Service(s) => *s == "connect.amazonaws.com",
        PolicyPrincipal::Aws(a) => a.contains(CONNECT_ROLE),
    })
}

/// How a key policy lets a role decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptBy {
    /// A statement names the role (or every principal).
    KeyPolicy,
    /// The policy gives the role's account the key (`arn:aws:iam::<account>:root`): IAM policies
    /// decide, and the stack's role policies grant `kms:Decrypt`.
    AccountIam,
}

/// Whether a KMS key policy lets `role_arn` (a function's role) call `kms:Decrypt`.
pub fn key_policy_lets_decrypt(policy: &str, role_arn: &str) -> Option<DecryptBy> {
    let actions = ["kms:decrypt"];
    let named = policy_allows(policy, &actions, |p| match p {
        PolicyPrincipal::Anyone { arn_patterns } => {
            arn_patterns.is_empty() || arn_patterns.iter().any(|a| arn_like(a, role_arn))
        }
        PolicyPrincipal::Service(_) => false,
        PolicyPrincipal::Aws(a) => *a == role_arn,
    });
    if named {
        return Some(DecryptBy::KeyPolicy);
    }
    let account = role_arn.split(':').nth(4).unwrap_or_default();
    let root = role_arn.split(':').take(5).collect::<Vec<_>>().join(":") + ":root";
    let delegated = !account.is_empty()
        && policy_allows(
            policy,
            &actions,
            |p| matches!(p, PolicyPrincipal::Aws(a) if *a == account || *a == root),
        );
    delegated.then_some(DecryptBy::AccountIam)
}

/// A function's role against the customer managed key of the stream it reads.
pub fn judge_reader_key(check: &str, key: &str, role_arn: &str, policy: Option<&str>) -> Finding {
    let Some(policy) = policy else {
        return Finding::problem(
            check,
            format!("the key policy of {key} cannot be read"),
            "allow kms:GetKeyPolicy to check it, or check by hand that the role may kms:Decrypt",
        );
    };
    match key_policy_lets_decrypt(policy, role_arn) {
        Some(DecryptBy::KeyPolicy) => Finding::ok(check, format!("{key}: its policy lets {role_arn} decrypt")),
        Some(DecryptBy::AccountIam) => Finding::ok(
            check,
            format!(
                "{key}: its policy lets IAM policies of the account grant {role_arn} kms:Decrypt (the stack's role policy does; IAM itself is not read)"
            ),
        ),
        None => Finding::problem(
            check,
            format!("{key}: its policy does not let {role_arn} decrypt (the function reads nothing)"),
            format!("aws kms create-grant --key-id {key} --grantee-principal {role_arn} --operations Decrypt"),
        ),
    }
}

/// A stream's encryption: none or the AWS managed key is fine; a customer managed key must let
/// Connect generate data keys, or nothing arrives.
pub fn judge_stream_key(check: &str, key: Option<&str>, policy: Option<&str>) -> Finding {
    match (key, policy) {
        (None, _) => Finding::ok(check, "no customer managed key (unencrypted or aws/kinesis)"),
        (Some(key), None) => Finding::problem(
            check,
            format!("the key policy of {key} cannot be read"),
            "allow kms:GetKeyPolicy to check it, or check by hand that Connect's role may kms:GenerateDataKey",
        ),
        (Some(key), Some(policy)) if key_policy_lets_connect(policy) => {
            Finding::ok(check, format!("{key}: its policy lets Connect generate data keys"))
        }
        (Some(key), Some(_)) => Finding::problem(
            check,
            format!("{key}: its policy does not let Connect generate data keys (nothing arrives)"),
            format!(
                "grant it (README, \"An existing customer managed key\"): aws kms create-grant --key-id {key} --grantee-principal <Connect's service-linked role ARN> --operations GenerateDataKey"
            ),
        ),
    }
}

/// One storage config of a Connect instance: its resource type (`AGENT_EVENTS`,
/// `CONTACT_TRACE_RECORDS`, ...) and the Kinesis stream it points at, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    pub resource_type: String,
    pub stream_arn: Option<String>,
}

/// The storage configs of a Connect instance (Connect's ListInstanceStorageConfigs).
pub trait InstanceStorageConfigs: Send + Sync {
    /// The configs of `instance_arn` for `resource_type`.
    fn list(
        &self,
        instance_arn: &str,
        resource_type: &str,
    ) -> impl Future<Output = Result<Vec<StorageConfig>, PortError>> + Send;
}

/// Whether the instance's `resource_type` config points at `stream_arn`.
pub fn judge_storage_config(
    instance_arn: &str,
    resource_type: &str,
    stream_arn: &str,
    configs: Result<&[StorageConfig], &PortError>,
) -> Finding {
    let check = format!("Connect {resource_type} storage");
    match configs {
        Err(e) => Finding::problem(
            check,
            format!("cannot read the storage configs of {instance_arn}: {e}"),
            "allow connect:ListInstanceStorageConfigs, or check the instance's Data streaming settings by hand",
        ),
        Ok(configs) if configs.iter().any(|c| c.stream_arn.as_deref() == Some(stream_arn)) => {
            Finding::ok(check, format!("{instance_arn} streams to {stream_arn}"))
        }
        Ok(configs) => {
            let found = match configs.iter().filter_map(|c| c.stream_arn.as_deref()).next() {
                Some(other) => format!("{instance_arn} streams to {other}, not {stream_arn}"),
                None => format!("{instance_arn} streams {resource_type} nowhere"),
            };
            Finding::problem(
                check,
                found,
                format!(
                    "in the Connect console, Data streaming: choose {stream_arn} (or deploy with ConnectInstanceArn)"
                ),
            )
        }
    }
}

/// Runs the storage-config check through the port.
pub async fn check_storage_config<P: InstanceStorageConfigs>(
    port: &P,
    instance_arn: &str,
    resource_type: &str,
    stream_arn: &str,
) -> Finding {
    let configs = port.list(instance_arn, resource_type).await;
    judge_storage_config(instance_arn, resource_type, stream_arn, configs.as_deref())
}

/// The instances of the agent-state table's progress item: one with a recorded silence (the
/// sweep's `feed_health` `silent`) is a problem naming since when; none at all means no agent
/// event was ever processed.
pub fn judge_progress(instances: &[InstanceProgress], now: DateTime<Utc>) -> Vec<Finding> {
    if instances.is_empty() {
        return vec![Finding::problem(
            "agent events",
            "no instance has had an agent event processed",
            "check the Connect AGENT_EVENTS storage and the mapping above, then log an agent in",
        )];
    }
    (instances.iter())
        .map(|p| {
            let check = format!("instance {}", p.instance_id);
            let newest = format!(
                "newest agent event {} ({} ago)",
                crate::timefmt::feed_timestamp(&p.newest_event),
                age_text(now - p.newest_event)
            );
            match &p.silence {
                None => Finding::ok(check, newest),
                Some(s) => Finding::problem(
                    check,
                    format!(
                        "silent since {} ({} agent(s) not logged out); {newest}",
                        crate::timefmt::feed_timestamp(&s.since),
                        s.agents
                    ),
                    "check the Connect AGENT_EVENTS storage, the stream and the agent-events mapping above, then the function's log",
                ),
            }
        })
        .collect()
}

/// True when any finding is a problem: the doctor then exits non-zero.
pub fn any_problem(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::InstanceSilence;
    use crate::memory::MemoryStorageConfigs;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn lines_read_ok_or_problem_with_the_fix() {
        assert_eq!(Finding::ok("a", "b").to_string(), "ok   a: b");
        assert_eq!(Finding::problem("a", "b", "c").to_string(), "PROBLEM a: b — fix: c");
        assert!(any_problem(&[Finding::ok("a", "b"), Finding::problem("a", "b", "c")]));
        assert!(!any_problem(&[Finding::ok("a", "b")]));
    }

    #[test]
    fn ages_are_judged_against_the_limit() {
        let now = at("2026-11-20T12:00:00Z");
        let fresh = judge_newest(
            "newest QR report",
            Some(("k.csv", at("2026-11-20T11:40:00Z"))),
            now,
            Duration::minutes(45),
            "f",
        );
        assert_eq!(fresh.to_string(), "ok   newest QR report: k.csv, 20 min old");
        let stale = judge_newest(
            "newest QR report",
            Some(("k.csv", at("2026-11-19T09:00:00Z"))),
            now,
            Duration::minutes(45),
            "f",
        );
        assert_eq!(
            stale.to_string(),
            "PROBLEM newest QR report: k.csv, 1 d 3 h old (older than 45 min) — fix: f"
        );
        assert!(judge_newest("x", None, now, Duration::minutes(45), "f").is_problem());
        assert_eq!(age_text(Duration::minutes(125)), "2 h 5 min");
    }

    #[test]
    fn a_header_lists_its_thresholds_or_the_column_it_lacks() {
        let mapping = ReportMapping::default();
        let good = b"StartInterval,EndInterval,Queue,Contacts queued,Contacts answered in 20 seconds,Service level 20 seconds,Contacts answered in 60 seconds\n";
        let f = judge_report_header(
            ReportKind::Queue,
            "b",
            "connect/a/Reports/QR-2026-11-20T10:15:00Z.csv",
            good,
            &mapping,
        );
        assert_eq!(f.verdict, Verdict::Ok, "{f}");
        assert!(f.found.contains("20 s, 60 s"), "{f}");
        let missing = b"StartInterval,Queue,Contacts queued\n";
        let f = judge_report_header(ReportKind::Queue, "b", "connect/a/Reports/QR-1.csv", missing, &mapping);
        assert!(f.is_problem());
        assert!(f.found.contains("missing required column `EndInterval`"), "{f}");
        assert!(f.fix.as_deref().unwrap().contains("EndInterval"), "{f}");
        let no_sl = b"StartInterval,EndInterval,Queue,Contacts queued\n";
        assert!(judge_report_header(ReportKind::Queue, "b", "QR-1.csv", no_sl, &mapping).is_problem());
        let aspr = b"StartInterval,EndInterval,Agent,Online time\n";
        assert_eq!(
            judge_report_header(ReportKind::AgentSystem, "b", "ASPR-1.csv", aspr, &mapping).verdict,
            Verdict::Ok
        );
    }

    #[test]
    fn an_iterator_age_past_a_minute_is_a_problem_and_no_data_is_not() {
        assert!(!judge_iterator_age("it", "f", None).is_problem());
        let ok = judge_iterator_age("it", "f", Some(1_500.0));
        assert!(!ok.is_problem());
        assert!(ok.to_string().contains("1.5 s behind"), "{ok}");
        let late = judge_iterator_age("it", "f", Some(754_000.0));
        assert!(late.is_problem());
        assert!(late.to_string().contains("754 s behind"), "{late}");
    }

    #[test]
    fn depths_streams_and_mappings() {
        assert_eq!(judge_depth("reports DLQ", Some(0), "f").verdict, Verdict::Ok);
        assert_eq!(
            judge_depth("reports DLQ", Some(3), "redrive").to_string(),
            "PROBLEM reports DLQ: 3 message(s) waiting — fix: redrive"
        );
        assert!(judge_depth("x", None, "f").is_problem());
        assert_eq!(judge_stream("s", "arn", Some("ACTIVE")).verdict, Verdict::Ok);
        assert!(judge_stream("s", "arn", Some("DELETING")).is_problem());
        assert!(judge_stream("s", "arn", None).is_problem());
        let mapping = |state, last_result| {
            Some(MappingState {
                uuid: "u-1",
                state,
                last_result,
            })
        };
        assert_eq!(judge_mapping("m", "arn", mapping("Enabled", None)).verdict, Verdict::Ok);
        assert_eq!(
            judge_mapping("m", "arn", mapping("Enabled", Some("OK"))).to_string(),
            "ok   m: from arn: Enabled, last processing result `OK`"
        );
        assert_eq!(
            judge_mapping("m", "arn", mapping("Disabled", None)).to_string(),
            "PROBLEM m: from arn: Disabled — fix: enable it: aws lambda update-event-source-mapping --uuid u-1 --enabled"
        );
        assert!(judge_mapping("m", "arn", mapping("Enabled", Some("PROBLEM: Function call failed"))).is_problem());
        assert!(judge_mapping("m", "arn", None).is_problem());
    }

    fn entry(id: &str, destination: &str, prefix: &str) -> NotificationEntry {
        NotificationEntry {
            id: Some(id.into()),
            destination: destination.into(),
            events: vec![OBJECT_CREATED.into()],
            prefix: prefix.into(),
            suffix: ".csv".into(),
        }
    }

    #[test]
    fn the_notification_is_ours_missing_or_overlapped_by_someone_named() {
        let wanted = entry("connect-wfm-x", "arn:q", "connect/a/Reports/");
        let ours = [entry("connect-wfm-x", "arn:q", "connect/a/Reports/")];
        assert_eq!(
            judge_reports_notification("b", &ours, false, &wanted, false).verdict,
            Verdict::Ok
        );
        let f = judge_reports_notification("b", &[], false, &wanted, false);
        assert!(f.is_problem() && f.found.contains("no entry"), "{f}");
        let vendor = [entry("vendor", "arn:vendor", "connect/")];
        let f = judge_reports_notification("b", &vendor, false, &wanted, false);
        assert!(
            f.is_problem() && f.found.contains("`vendor`") && f.found.contains("arn:vendor"),
            "{f}"
        );
        assert!(f.fix.unwrap().contains("eventbridge"));
        assert_eq!(
            judge_reports_notification("b", &vendor, true, &wanted, true).verdict,
            Verdict::Ok
        );
        assert!(judge_reports_notification("b", &vendor, false, &wanted, true).is_problem());
    }

    #[test]
    fn key_policies_that_let_connect_generate_data_keys() {
        let service = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"connect.amazonaws.com"},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}]}"#;
        assert!(key_policy_lets_connect(service));
        let role = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:role/aws-service-role/connect.amazonaws.com/AWSServiceRoleForAmazonConnect_abc"},"Action":"kms:GenerateDataKey*"}}"#;
        assert!(key_policy_lets_connect(role));
        let account_only =
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"kms:*"}]}"#;
        assert!(!key_policy_lets_connect(account_only));
        let denied =
            r#"{"Statement":[{"Effect":"Deny","Principal":{"Service":"connect.amazonaws.com"},"Action":"kms:*"}]}"#;
        assert!(!key_policy_lets_connect(denied));
        assert!(!key_policy_lets_connect("not json"));
        assert_eq!(judge_stream_key("k", None, None).verdict, Verdict::Ok);
        assert!(judge_stream_key("k", Some("arn:key"), Some(account_only)).is_problem());
        assert_eq!(
            judge_stream_key("k", Some("arn:key"), Some(service)).verdict,
            Verdict::Ok
        );
    }

    #[test]
    fn storage_configs_through_the_port() {
        let port = MemoryStorageConfigs::default();
        port.insert("arn:i", "AGENT_EVENTS", "arn:stream/agents");
        let run = |instance: &'static str, kind: &'static str, stream: &'static str| {
            let port = &port;
            futures_lite(async move { check_storage_config(port, instance, kind, stream).await })
        };
        assert_eq!(run("arn:i", "AGENT_EVENTS", "arn:stream/agents").verdict, Verdict::Ok);
        let other = run("arn:i", "AGENT_EVENTS", "arn:stream/ours");
        assert!(
            other.is_problem() && other.found.contains("arn:stream/agents"),
            "{other}"
        );
        let none = run("arn:i", "CONTACT_TRACE_RECORDS", "arn:stream/ctr");
        assert!(none.is_problem() && none.found.contains("nowhere"), "{none}");
        let unreadable = run("arn:missing", "AGENT_EVENTS", "arn:stream/agents");
        assert!(
            unreadable.is_problem() && unreadable.found.contains("cannot read"),
            "{unreadable}"
        );
    }

    /// Polls a future that never waits (the in-memory port) to its end, without a runtime.
    fn futures_lite<T>(future: impl Future<Output = T>) -> T {
        let mut future = std::pin::pin!(future);
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        loop {
            if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut context) {
                return value;
            }
        }
    }

    /// The key policy the stack writes (template.yaml `StreamKey`), with its account and names.
    const STACK_KEY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"AccountAdministersTheKeyThroughIam","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"},
        {"Sid":"AmazonConnectWritesToTheStreams","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*",
         "Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/aws-service-role/connect.amazonaws.com/AWSServiceRoleForAmazonConnect*"},
                      "StringEquals":{"kms:CallerAccount":"123456789012"}}}]}"#;

    #[test]
    fn a_wildcard_narrowed_by_principal_arn_lets_in_only_those_it_names() {
        assert!(key_policy_lets_connect(STACK_KEY_POLICY));
        let others = STACK_KEY_POLICY.replace(
            "aws-service-role/connect.amazonaws.com/AWSServiceRoleForAmazonConnect*",
            "auditor",
        );
        assert!(!key_policy_lets_connect(&others));
        let role = "arn:aws:iam::123456789012:role/wfm-AgentEventsRole-1";
        // The stack's functions decrypt through IAM: the account statement delegates to it.
        assert_eq!(
            key_policy_lets_decrypt(STACK_KEY_POLICY, role),
            Some(DecryptBy::AccountIam)
        );
        assert_eq!(
            key_policy_lets_decrypt(STACK_KEY_POLICY, "arn:aws:iam::999999999999:role/x"),
            None
        );
        let named = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:role/wfm-AgentEventsRole-1"]},"Action":"kms:Decrypt","Resource":"*"}]}"#;
        assert_eq!(key_policy_lets_decrypt(named, role), Some(DecryptBy::KeyPolicy));
        let connect_only =
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"connect.amazonaws.com"},"Action":"kms:*"}]}"#;
        assert_eq!(key_policy_lets_decrypt(connect_only, role), None);
        let f = judge_reader_key("k", "arn:key", role, Some(connect_only));
        assert!(
            f.is_problem() && f.fix.as_deref().unwrap().contains("--operations Decrypt"),
            "{f}"
        );
        assert_eq!(judge_reader_key("k", "arn:key", role, Some(named)).verdict, Verdict::Ok);
        assert!(judge_reader_key("k", "arn:key", role, None).is_problem());
        assert!(arn_like("arn:*:role/a?c*", "arn:aws:role/abc-1"));
        assert!(!arn_like("arn:*:role/a?c", "arn:aws:role/abcd"));
    }

    #[test]
    fn an_instance_with_a_recorded_silence_is_a_problem_naming_since_when() {
        let now = at("2026-11-20T12:00:00Z");
        let progress = |id: &str, silence: Option<InstanceSilence>| InstanceProgress {
            instance_id: id.into(),
            newest_event: at("2026-11-20T11:50:00Z"),
            silence,
            snapshot_slot: None,
            owed_since: None,
            agent_intervals_done: None,
            changed_intervals: Vec::new(),
        };
        let findings = judge_progress(
            &[
                progress("live", None),
                progress(
                    "quiet",
                    Some(InstanceSilence {
                        since: at("2026-11-20T11:55:00Z"),
                        last_event_time: at("2026-11-20T11:50:00Z"),
                        agents: 3,
                    }),
                ),
            ],
            now,
        );
        assert_eq!(
            findings[0].to_string(),
            "ok   instance live: newest agent event 2026-11-20T11:50:00.000Z (10 min ago)"
        );
        assert!(findings[1].is_problem(), "{}", findings[1]);
        assert!(
            findings[1]
                .found
                .starts_with("silent since 2026-11-20T11:55:00.000Z (3 agent(s)"),
            "{}",
            findings[1]
        );
        assert!(judge_progress(&[], now)[0].is_problem());
    }

    #[test]
    fn stack_facts_from_describe_stacks() {
        let json = r#"{"Stacks":[{"StackName":"wfm","Parameters":[{"ParameterKey":"ReportsBucketName","ParameterValue":"b"},
            {"ParameterKey":"FeedPrefix","ParameterValue":""}],"Outputs":[{"OutputKey":"ReportsQueueUrl","OutputValue":"http://q"}]}]}"#;
        let facts = StackFacts::from_describe_stacks(json, "stack.json").unwrap();
        assert_eq!(facts.name, "wfm");
        assert_eq!(facts.parameter("ReportsBucketName"), Some("b"));
        assert_eq!(facts.parameter("FeedPrefix"), None);
        assert_eq!(facts.output("ReportsQueueUrl"), Some("http://q"));
        let err = StackFacts::from_describe_stacks(r#"{"Stacks":[]}"#, "stack.json").unwrap_err();
        assert!(err.contains("stack.json") && err.contains("no stack"), "{err}");
    }
}
