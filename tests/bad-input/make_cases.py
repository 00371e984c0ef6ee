#!/usr/bin/env python3
"""Writes the bad-input corpus: one file per case and cases.json, the manifest that
tests/bad_input.rs reads. Re-run after editing; the output is deterministic.

Entry points (the `entry` of a case):
- kinesis-data: the bytes of one Kinesis record's data (the test base64-encodes them)
- kinesis-record: one whole Kinesis record of the Lambda event (JSON)
- sqs-body: the body of one SQS message of the reports queue
- report: a report object; `key` is its S3 key (the test notifies it through SQS)
- cfn: a CloudFormation custom-resource request

Outcomes (`expect`):
- rejected: kept under rejects/ with its raw bytes; `reason` substrings appear in the reason
- failed: the SQS message is a batch item failure (it rests in the DLQ after the receive
  limit); `reason` substrings appear in the reason
- acknowledged: no failure; `records` feed records (default 0)
- answered: one CloudFormation answer with `status`; `reason` substrings in its Reason
- unanswerable: no answer can be sent (no ResponseURL); the handler says so
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
cases = []


def write(name, body):
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(body if isinstance(body, bytes) else body.encode())
    return name


def case(name, entry, file, expect, **more):
    cases.append(dict(case=name, entry=entry, file=file, expect=expect, **more))


# ---- agent events ---------------------------------------------------------------------------

EVENT = {
    "AWSAccountId": "123456789012",
    "AgentARN": "arn:aws:connect:us-east-1:123456789012:instance/bad-input/agent/b0",
    "CurrentAgentSnapshot": {
        "AgentStatus": {"ARN": "arn:status", "Name": "Available", "StartTimestamp": "2026-11-20T08:00:00.000Z", "Type": "ROUTABLE"},
        "Configuration": {"Username": "bad0"},
        "Contacts": [],
    },
    "EventId": "bad-input-event",
    "EventTimestamp": "2026-11-20T08:00:01.000Z",
    "EventType": "STATE_CHANGE",
    "InstanceARN": "arn:aws:connect:us-east-1:123456789012:instance/bad-input",
    "PreviousAgentSnapshot": None,
    "Version": "2019-05-25",
}


def event(**changes):
    e = json.loads(json.dumps(EVENT))
    for k, v in changes.items():
        if v is ...:
            del e[k]
        else:
            e[k] = v
    return json.dumps(e)


def data(name, body, *reason):
    case(name, "kinesis-data", write(f"kinesis/{name}.bin", body), "rejected", reason=list(reason))


data("empty-data", b"", "not JSON")
data("plain-text", b"hello, agent stream", "not JSON")
data("truncated-json", event()[:150].encode(), "not JSON")
data("json-array", b"[1, 2, 3]", "a JSON array, expected an object")
data("json-string", b'"STATE_CHANGE"', "a JSON string, expected an object")
data("json-null", b"null", "a JSON null, expected an object")
data("json-number", b"42", "a JSON number, expected an object")
data("binary-garbage", bytes(range(256)) * 4, "not JSON")
data("utf16-json", event().encode("utf-16"), "not JSON")
data("contact-trace-record", open(os.path.join(HERE, "../../events/contact-records/ctr-jdoe-inbound-call.json"), "rb").read(),
     "contact trace record")
data("other-json-on-the-stream", b'{"source":"aws.s3","detail-type":"Object Created","detail":{}}', "missing field `EventType`")
data("unknown-event-type", event(EventType="AGENT_SNAPSHOT"), "unknown EventType `AGENT_SNAPSHOT`")
data("lower-case-event-type", event(EventType="state_change"), "unknown EventType `state_change`")
data("unknown-version", event(Version="2099-01-01"), "unknown Version `2099-01-01`")
data("missing-version", event(Version=...), "missing field `Version`")
data("missing-event-type", event(EventType=...), "missing field `EventType`")
data("missing-event-id", event(EventId=...), "missing field `EventId`")
data("empty-event-id", event(EventId=""), "field `EventId` is empty")
data("missing-agent-arn", event(AgentARN=...), "missing field `AgentARN`")
data("missing-instance-arn", event(InstanceARN=...), "missing field `InstanceARN`")
data("missing-event-timestamp", event(EventTimestamp=...), "missing field `EventTimestamp`")
data("bad-event-timestamp", event(EventTimestamp="yesterday at noon"), "EventTimestamp `yesterday at noon` is not an ISO 8601 timestamp")
data("event-type-is-a-number", event(EventType=42), "field `EventType` is a JSON number, expected a string")
data("agent-arn-is-an-object", event(AgentARN={"arn": "x"}), "field `AgentARN` is a JSON object, expected a string")
data("snapshot-is-a-string", event(CurrentAgentSnapshot="Available"), "CurrentAgentSnapshot")
data("contacts-is-a-string", event(CurrentAgentSnapshot={**EVENT["CurrentAgentSnapshot"], "Contacts": "none"}),
     "CurrentAgentSnapshot")
data("oversized-record", event(Padding="x" * (1 << 20)), "larger than a Kinesis record can be")
data("event-timestamp-is-a-number", event(EventTimestamp=1795161600), "field `EventTimestamp` is a JSON number, expected a string")
data("nul-bytes-after-event", json.dumps(event()).encode() + b"\x00\x00\x00", "not JSON", "trailing characters")
data("two-events-in-one-record", (json.dumps(event()) + "\n" + json.dumps(event(EventId="second"))).encode(), "not JSON", "trailing characters")


def record(name, body, *reason):
    case(name, "kinesis-record", write(f"kinesis/{name}.json", json.dumps(body)), "rejected", reason=list(reason))


SEQ = "49590338271490256608559692538361571095921575989136588802"
record("broken-base64", {"eventID": f"shardId-000000000000:{SEQ}", "kinesis": {"sequenceNumber": SEQ, "data": "!!not base64!!"}},
       "base64")
record("data-missing", {"eventID": f"shardId-000000000000:{SEQ}", "kinesis": {"sequenceNumber": SEQ}}, "data")
record("data-is-a-number", {"eventID": f"shardId-000000000000:{SEQ}", "kinesis": {"sequenceNumber": SEQ, "data": 12}},
       "not a Kinesis record")
record("kinesis-missing", {"eventID": f"shardId-000000000000:{SEQ}", "eventSource": "aws:kinesis"}, "kinesis")

# ---- reports: SQS message bodies -------------------------------------------------------------

BUCKET = "amazon-connect-reports-123456789012"
PREFIX = "connect/acme/Reports/wfm/"


def notification(key, event_name="ObjectCreated:Put", size=120):
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-20T10:31:02.000Z", "eventName": event_name,
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "connect-wfm",
               "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
               "object": {"key": key, "size": size, "eTag": "0123456789abcdef0123456789abcdef", "sequencer": "0055AED6DCD90281E5"}},
    }]}


def body(name, text, expect, *reason, **more):
    case(name, "sqs-body", write(f"sqs/{name}.json", text if isinstance(text, (bytes, str)) else json.dumps(text)), expect,
         reason=list(reason), **more)


body("not-json", "this is not an S3 event", "failed", "SQS message m-bad", "message body is not JSON")
body("empty-body", "", "failed", "SQS message m-bad", "message body is not JSON")
body("json-array", "[]", "failed", "SQS message m-bad", "not an S3 event notification")
body("no-records", {"Service": "Amazon S3", "Bucket": BUCKET}, "failed", "SQS message m-bad", "no `Records`")
body("s3-test-event", {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-20T10:00:00.000Z",
                       "Bucket": BUCKET, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"},
     "acknowledged", "s3:TestEvent")
body("records-empty", {"Records": []}, "acknowledged")
body("object-removed-event", notification(PREFIX + "QR-2026-11-20T10%3A15%3A00Z.csv", "ObjectRemoved:Delete"), "acknowledged")
body("key-missing", {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                  "s3": {"bucket": {"name": BUCKET}, "object": {"size": 5}}}]}, "failed", "SQS message m-bad", "no s3.object.key")
body("bucket-missing", {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                     "s3": {"object": {"key": PREFIX + "QR.csv"}}}]}, "failed", "SQS message m-bad", "no s3.bucket.name")
body("key-bad-percent-escape", notification(PREFIX + "QR-2026-11-20T10%ZZ15.csv"), "failed", "QR-2026-11-20T10%ZZ15.csv")
body("key-not-utf8-after-decoding", notification(PREFIX + "QR-%FF%FE.csv"), "failed", "QR-%FF%FE.csv", "not UTF-8")
body("key-outside-prefix", notification("exports/QR-2026-11-20T10%3A15%3A00Z.csv"), "acknowledged", "outside the reports prefix")
body("key-not-csv", notification(PREFIX + "QR-2026-11-20T10%3A15%3A00Z.csv.gz"), "acknowledged", "not a .csv file")
body("folder-placeholder", notification(PREFIX + "archive/", size=0), "acknowledged", "not a .csv file")
body("object-gone", notification(PREFIX + "QR-2026-11-20T09%3A00%3A00Z.csv"), "failed",
     f"s3://{BUCKET}/{PREFIX}QR-2026-11-20T09:00:00Z.csv")
# An S3 event delivered through SNS is unwrapped; this one names an object that does not exist.
body("sns-wrapped-s3-event", {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                              "Message": json.dumps(notification(PREFIX + "QR.csv"))}, "failed", f"s3://{BUCKET}/{PREFIX}QR.csv")
# An EventBridge event of S3 (a bucket's notifications sent to EventBridge, a rule to the queue)
# is read like a notification; this one names an object that does not exist.
body("eventbridge-event", {"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                           "detail": {"bucket": {"name": BUCKET}, "object": {"key": PREFIX + "QR.csv"}}}, "failed",
     f"s3://{BUCKET}/{PREFIX}QR.csv")
body("eventbridge-event-no-bucket", {"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                                     "detail": {"object": {"key": PREFIX + "QR.csv"}}}, "failed", "SQS message m-bad",
     "detail: missing field `bucket`")

# Odd but valid key encodings: the object is stored under `object` (the decoded key) and must
# be found and converted (one record), like its neighbours.
body("key-plus-is-a-space", notification(PREFIX + "QR+daily+2026-11-20T10%3A15%3A00Z.csv"), "acknowledged",
     object=PREFIX + "QR daily 2026-11-20T10:15:00Z.csv", records=1)
body("key-encoded-plus", notification(PREFIX + "QR%2Bdaily-2026-11-20T10%3A15%3A00Z.csv"), "acknowledged",
     object=PREFIX + "QR+daily-2026-11-20T10:15:00Z.csv", records=1)
body("key-encoded-slash", notification(PREFIX + "QR%2F2026-11-20T10%3A15%3A00Z.csv"), "acknowledged",
     object=PREFIX + "QR/2026-11-20T10:15:00Z.csv", records=1)
body("key-utf8-escapes", notification(PREFIX + "QR-r%C3%A9sum%C3%A9-2026-11-20T10%3A15%3A00Z.csv"), "acknowledged",
     object=PREFIX + "QR-r\u00e9sum\u00e9-2026-11-20T10:15:00Z.csv", records=1)
body("key-lower-case-escapes", notification(PREFIX + "QR-2026-11-20T10%3a15%3a00Z.csv"), "acknowledged",
     object=PREFIX + "QR-2026-11-20T10:15:00Z.csv", records=1)

body("records-is-a-string", {"Records": "none"}, "failed", "SQS message m-bad", "no `Records`")
body("record-is-a-number", {"Records": [42]}, "failed", "SQS message m-bad", "record 0", "not an S3 event record")
body("record-without-event-name", {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": BUCKET}, "object": {"key": PREFIX + "QR.csv"}}}]},
     "failed", "SQS message m-bad", "record 0", "no eventName")

# ---- reports: CSV objects -----------------------------------------------------------------------

QR_HEADER = ("StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,"
             "Contacts answered in 20 seconds,Contacts abandoned in 20 seconds,Service level 20 seconds,"
             "Agent interaction time,Customer hold time,After contact work time,Average queue answer time")
QR_ROW = "2026-11-20T10:00:00Z,2026-11-20T10:15:00Z,Support,8,6,2,4,1,50.00%,1234,45,208,23.6"


def report(name, text, expect, *reason, kind="QR", records=0):
    key = f"{PREFIX}{kind}-{name}-2026-11-20T10:15:00Z.csv"
    extra = {"key": key}
    if expect == "acknowledged":
        extra["records"] = records
    case(name, "report", write(f"reports/{name}.csv", text), expect, reason=list(reason), **extra)


def file_of(name, kind="QR"):
    return f"s3://{BUCKET}/{PREFIX}{kind}-{name}-2026-11-20T10:15:00Z.csv"


report("empty-file", "", "failed", file_of("empty-file"), "empty")
report("whitespace-only", "\n  \n\t\n", "failed", file_of("whitespace-only"))
report("header-only", QR_HEADER + "\n", "acknowledged")
report("binary-png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(200)), "failed", file_of("binary-png"))
report("utf16-encoded", (QR_HEADER + "\n" + QR_ROW + "\n").encode("utf-16"), "failed", file_of("utf16-encoded"))
report("semicolon-delimited", QR_HEADER.replace(",", ";") + "\n" + QR_ROW.replace(",", ";") + "\n", "failed",
       file_of("semicolon-delimited"), "line 1", "not comma-separated")
report("tab-delimited", QR_HEADER.replace(",", "\t") + "\n" + QR_ROW.replace(",", "\t") + "\n", "failed",
       file_of("tab-delimited"), "line 1", "not comma-separated")
report("missing-start-interval", QR_HEADER.replace("StartInterval,", "") + "\n" + QR_ROW.split(",", 1)[1] + "\n", "failed",
       file_of("missing-start-interval"), "StartInterval")
report("missing-queue-column", QR_HEADER.replace("Queue,", "", 1) + "\n" + QR_ROW.replace("Support,", "") + "\n", "failed",
       file_of("missing-queue-column"), "Queue")
report("agent-queue-report-without-agent", QR_HEADER + "\n" + QR_ROW + "\n", "failed",
       file_of("agent-queue-report-without-agent", "AQR"), "Agent", kind="AQR")
report("duplicate-column", QR_HEADER + ",Contacts handled\n" + QR_ROW + ",7\n", "failed",
       file_of("duplicate-column"), "column `Contacts handled` appears more than once (columns 5 and 14)")
report("non-numeric-metric", QR_HEADER + "\n" + QR_ROW.replace(",6,2,", ",six,2,") + "\n", "failed",
       file_of("non-numeric-metric"), "line 2", "six")
# Over the reader's record limit (1 MiB, checked per 64 KiB buffer).
report("oversized-row", QR_HEADER + "\n" + QR_ROW.replace("Support", "S" * ((1 << 20) + (128 << 10))) + "\n", "failed",
       file_of("oversized-row"), "a record longer than 1048576 bytes")
report("unterminated-quote", QR_HEADER + "\n" + QR_ROW.replace("Support", '"Support') + "\n" + QR_ROW + "\n", "failed",
       file_of("unterminated-quote"), "line 2", "the row has 3 fields, the header has 13")
report("truncated-mid-row", QR_HEADER + "\n" + QR_ROW + "\n" + QR_ROW[:40], "failed", file_of("truncated-mid-row"), "line 3",
       "the row has 2 fields, the header has 13")
report("bom-and-crlf", "\ufeff" + QR_HEADER + "\r\n" + QR_ROW + "\r\n", "acknowledged", records=1)
report("bad-start-timestamp", QR_HEADER + "\n" + QR_ROW.replace("2026-11-20T10:00:00Z", "yesterday", 1) + "\n", "failed",
       file_of("bad-start-timestamp"), "line 2", "yesterday")
report("end-before-start", QR_HEADER + "\n" + QR_ROW.replace("2026-11-20T10:15:00Z", "2026-11-20T09:45:00Z", 1) + "\n", "failed",
       file_of("end-before-start"), "line 2")
report("ragged-row", QR_HEADER + "\n" + QR_ROW.rsplit(",", 3)[0] + "\n", "failed", file_of("ragged-row"), "line 2")
report("number-too-large", QR_HEADER + "\n" + QR_ROW.replace(",8,", ",99999999999999999999999,", 1) + "\n", "failed",
       file_of("number-too-large"), "line 2")
report("percentage-not-a-number", QR_HEADER + "\n" + QR_ROW.replace("50.00%", "half%") + "\n", "failed",
       file_of("percentage-not-a-number"), "line 2", "half%")
report("bad-row-after-good-rows", QR_HEADER + "\n" + QR_ROW + "\n" + QR_ROW.replace(",6,2,", ",?,2,") + "\n", "failed",
       file_of("bad-row-after-good-rows"), "line 3")

# ---- CloudFormation custom-resource requests ------------------------------------------------------

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/connect-wfm/5b6f0e20-c7a1-11ef-9a3b-0a1b2c3d4e5f"
REQUEST = {
    "RequestType": "Create", "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:connect-wfm-BucketNotifications",
    "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/bad-input",
    "StackId": STACK, "RequestId": "bad-input-request", "LogicalResourceId": "ReportsBucketNotification",
    "ResourceType": "Custom::ReportsBucketNotification",
    "ResourceProperties": {"ServiceToken": "x", "BucketName": BUCKET, "Prefix": "connect/acme/Reports/",
                           "QueueArn": "arn:aws:sqs:us-east-1:123456789012:connect-wfm-reports"},
}


def cfn(name, expect, *reason, status=None, **changes):
    r = json.loads(json.dumps(REQUEST))
    for k, v in changes.items():
        if k.startswith("prop_"):
            k = k[5:]
            if v is ...:
                del r["ResourceProperties"][k]
            else:
                r["ResourceProperties"][k] = v
        elif v is ...:
            del r[k]
        else:
            r[k] = v
    extra = {"status": status} if status else {}
    case(name, "cfn", write(f"cfn/{name}.json", json.dumps(r, indent=1)), expect, reason=list(reason), **extra)


cfn("no-response-url", "unanswerable", "ResponseURL", ResponseURL=...)
cfn("unknown-request-type", "answered", "Upsert", status="FAILED", RequestType="Upsert")
cfn("missing-request-type", "answered", "RequestType", status="FAILED", RequestType=...)
cfn("missing-stack-id", "answered", "StackId", status="FAILED", StackId=...)
cfn("missing-request-id", "answered", "RequestId", status="FAILED", RequestId=...)
cfn("missing-bucket-name", "answered", "BucketName", status="FAILED", prop_BucketName=...)
cfn("missing-queue-arn", "answered", "QueueArn", status="FAILED", prop_QueueArn=...)
cfn("queue-arn-not-sqs", "answered", "QueueArn", "not an SQS queue ARN", status="FAILED",
    prop_QueueArn="arn:aws:sns:us-east-1:123456789012:topic")
cfn("bucket-name-with-slash", "answered", "BucketName", "not a bucket name", status="FAILED", prop_BucketName=f"{BUCKET}/reports")
cfn("prefix-is-a-number", "answered", "Prefix", "not a string", status="FAILED", prop_Prefix=7)
cfn("resource-properties-not-an-object", "answered", "ResourceProperties", status="FAILED", ResourceProperties="BucketName=x")
cfn("bucket-does-not-exist", "answered", "no-such-bucket", "does not exist", status="FAILED", prop_BucketName="no-such-bucket")
cfn("delete-without-bucket-name", "answered", "nothing to remove", status="SUCCESS", RequestType="Delete",
    PhysicalResourceId="connect-wfm-x", prop_BucketName=...)

with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")
print(f"{len(cases)} cases")
