#!/usr/bin/env python3
"""Builds the SQS Lambda events for the historical-reports function from the report objects in
events/reports/.

    python3 events/generate_reports.py            # (re)write every events/sqs-*.json
    python3 events/generate_reports.py --check    # also read each CSV with a small reference of
                                                  # feed.md's report rules and compare with
                                                  # events/expected/reports/**.records.txt

Python 3.11 standard library only. The output is deterministic: message ids, receipt handles,
request ids, sequencers and timestamps are derived from fixed inputs below.

- events/reports/<bucket>/<key>  the object s3://<bucket>/<key>, byte for byte (a replay tool
                                 reads the object from this file). Each message's `size` and
                                 `eTag` (MD5 hex: a single-part PUT) are computed from it.

What Lambda receives (S3 -> SQS -> Lambda): an SQS event whose `body` is the S3 event
notification, compact JSON, as S3 wrote it to the queue. The object key in the notification is
URL-encoded like S3 does it (space -> `+`, `:` -> `%3A`, `/` kept).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import re
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote_plus

HERE = Path(__file__).resolve().parent
REPORTS = HERE / "reports"
EXPECTED = HERE / "expected" / "reports"

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "amazon-connect-reports-123456789012"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:connect-wfm-reports"
CONFIGURATION_ID = "connect-wfm-reports"
PREFIX = "connect/acme-support/Reports/"

# Who writes the objects: Amazon Connect's role for the reports and recordings, an operator for
# the folder placeholder. Sample identifiers, not real ones.
CONNECT_PRINCIPAL = "AWS:AROA3XFRBF23EXAMPLE7:AmazonConnect"
OPERATOR_PRINCIPAL = "AWS:AIDA3XFRBF23OPERATOR1"
BUCKET_OWNER = "A1R2EXAMPLE3OWNER4"
SOURCE_IP = "52.46.141.23"
# SenderId of the messages S3 puts on the queue.
S3_SENDER_ID = "AIDAJHIPRHEMV73VRJEBU"

MESSAGE_ID_NAMESPACE = uuid.UUID("6f1d2c9a-3b7e-4f55-9a61-0c8e4d2b7a13")

# Objects that the events point to. `time` is when S3 finished the PUT: Connect writes a
# scheduled report about 15 minutes after the end of its interval. Keys are as stored (decoded).
OBJECTS = {
    "qr": {
        "key": PREFIX + "wfm/QR-2026-11-20T10:15:00Z.csv",
        "time": "2026-11-20T10:30:07.412Z",
    },
    "aqr": {
        "key": PREFIX + "wfm/AQR-2026-11-20T10:15:00Z.csv",
        "time": "2026-11-20T10:30:07.958Z",
    },
    "aspr": {
        "key": PREFIX + "wfm/ASPR-2026-11-20T10:15:00Z.csv",
        "time": "2026-11-20T10:30:08.301Z",
    },
    "qr-paris": {
        "key": PREFIX + "wfm-paris/QR-2026-11-20T10:15:00Z.csv",
        "time": "2026-11-20T10:30:09.127Z",
    },
    "key-with-spaces": {
        "key": PREFIX + "wfm/Queue report QR-2026-11-20T10:30:00Z.csv",
        "time": "2026-11-20T10:45:06.583Z",
    },
    "broken": {
        "key": PREFIX + "wfm/QR-broken-2026-11-20T10:15:00Z.csv",
        "time": "2026-11-20T10:30:08.744Z",
    },
    # Not in events/reports: the function must not read them.
    "recording": {
        "key": "connect/acme-support/CallRecordings/2026/11/20/"
        "3f1b8e52-7d4c-4a0e-9b6f-2c8d1e5a7f90_20261120T10:12_UTC.wav",
        "time": "2026-11-20T10:14:51.230Z",
        "size": 1843244,
        "eTag": "9c1e4a77d03b5f28e6a0b41c7d95e2f3",
    },
    "folder": {
        "key": PREFIX + "wfm-archive/",
        "time": "2026-11-20T10:20:33.018Z",
        "size": 0,
        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
        "principal": OPERATOR_PRINCIPAL,
    },
    "csv-outside-prefix": {
        "key": "exports/adhoc/QR-2026-11-20T10:15:00Z.csv",
        "time": "2026-11-20T10:31:12.660Z",
        "size": 811,
        "eTag": "4b0f6e1a2c93d57e8a16f0b2c4d7e9a1",
        "principal": OPERATOR_PRINCIPAL,
    },
}

# The s3:TestEvent S3 sends when the notification is configured.
TEST_EVENT_TIME = "2026-11-20T07:58:31.402Z"

# file -> the messages of its batch, in order (an object name, or "test-event").
FILES = {
    "sqs-report-qr.json": ["qr"],
    "sqs-report-aqr.json": ["aqr"],
    "sqs-report-aspr.json": ["aspr"],
    "sqs-report-qr-paris.json": ["qr-paris"],
    "sqs-s3-test-event.json": ["test-event"],
    "sqs-report-key-with-spaces.json": ["key-with-spaces"],
    "sqs-duplicate-delivery.json": ["qr", "qr"],
    "sqs-broken-report.json": ["broken"],
    "sqs-outside-prefix.json": ["recording", "folder", "csv-outside-prefix"],
    "sqs-mixed-batch.json": ["qr", "aqr", "aspr", "test-event", "broken"],
}


def s3_key_encode(key: str) -> str:
    """The key as S3 writes it into an event notification: form-URL-encoded, `/` kept."""
    return quote_plus(key, safe="/")


def digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def epoch_ms(t: datetime) -> int:
    return int(round(t.timestamp() * 1000))


def request_ids(seed: str) -> tuple[str, str]:
    d = digest("request", seed)
    request_id = d[:8].hex().upper()
    host_id = base64.b64encode(digest("host", seed) + digest("host2", seed)[:25]).decode()
    return request_id, host_id


def object_facts(name: str) -> dict:
    obj = OBJECTS[name]
    if "size" in obj:
        return {"size": obj["size"], "eTag": obj["eTag"]}
    path = REPORTS / BUCKET / obj["key"]
    data = path.read_bytes()
    return {"size": len(data), "eTag": hashlib.md5(data).hexdigest()}


def s3_notification(name: str) -> dict:
    obj = OBJECTS[name]
    t = parse_time(obj["time"])
    request_id, host_id = request_ids(obj["key"])
    facts = object_facts(name)
    sequencer = f"00{epoch_ms(t):011X}{digest('seq', obj['key'])[0]:02X}{3:03X}"
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": obj["time"],
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": obj.get("principal", CONNECT_PRINCIPAL)},
                "requestParameters": {"sourceIPAddress": SOURCE_IP},
                "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": host_id},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": CONFIGURATION_ID,
                    "bucket": {
                        "name": BUCKET,
                        "ownerIdentity": {"principalId": BUCKET_OWNER},
                        "arn": f"arn:aws:s3:::{BUCKET}",
                    },
                    "object": {
                        "key": s3_key_encode(obj["key"]),
                        "size": facts["size"],
                        "eTag": facts["eTag"],
                        "sequencer": sequencer,
                    },
                },
            }
        ]
    }


def test_event() -> dict:
    request_id, host_id = request_ids("test-event")
    return {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": TEST_EVENT_TIME,
        "Bucket": BUCKET,
        "RequestId": request_id,
        "HostId": host_id,
    }


def message_time(name: str) -> datetime:
    if name == "test-event":
        return parse_time(TEST_EVENT_TIME)
    return parse_time(OBJECTS[name]["time"])


def sqs_record(file: str, index: int, name: str) -> dict:
    body_obj = test_event() if name == "test-event" else s3_notification(name)
    # Compact JSON, as S3 sends it.
    body = json.dumps(body_obj, separators=(",", ":"))
    message_id = str(uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{file}#{index}"))
    receipt = "AQEB" + base64.b64encode(
        digest("receipt", message_id) + digest("receipt2", message_id) + digest("receipt3", message_id)
    ).decode()
    # S3 queues the message a few tens of ms after the PUT; a repeated delivery (same body) is
    # a second message queued a little later.
    sent = message_time(name) + timedelta(milliseconds=37 + 1200 * index)
    first_receive = sent + timedelta(milliseconds=21)
    return {
        "messageId": message_id,
        "receiptHandle": receipt,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(epoch_ms(sent)),
            "SenderId": S3_SENDER_ID,
            "ApproximateFirstReceiveTimestamp": str(epoch_ms(first_receive)),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode("utf-8")).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION,
    }


def write_events() -> None:
    for file, names in FILES.items():
        event = {"Records": [sqs_record(file, i, name) for i, name in enumerate(names)]}
        text = json.dumps(event, indent=2, ensure_ascii=False) + "\n"
        (HERE / file).write_text(text, encoding="utf-8")
        print(f"wrote events/{file} ({len(names)} message{'s' if len(names) > 1 else ''})")


# ----------------------------------------------------------------------------- --check

COLUMNS = {
    "start": "StartInterval",
    "end": "EndInterval",
    "queue": "Queue",
    "agent": "Agent",
    "queued": "Contacts queued",
    "handled": "Contacts handled",
    "abandoned": "Contacts abandoned",
    "talk": "Agent interaction time",
    "hold": "Customer hold time",
    "acw": "After contact work time",
    "avg_answer": "Average queue answer time",
    "online": "Online time",
    # The console's name, then the one of older exports.
    "npt": ("Non-Productive Time", "Nonproductive time"),
    "idle": "Agent idle time",
    "on_contact": "Agent on contact time",
}
TEMPLATES = {
    "answered": r"contacts answered in (\d+) seconds",
    "abandoned": r"contacts abandoned in (\d+) seconds",
    "pct": r"service level (\d+) seconds",
}
GROUPING = {"QR": ["queue"], "AQR": ["agent", "queue"], "ASPR": ["agent"]}


def norm(name: str) -> str:
    return " ".join(name.replace("\ufeff", " ").split()).lower()


def number(cell: str | None) -> float | None:
    """An average or a percentage: None for a column the report lacks and for an empty cell."""
    if cell is None:
        return None
    cell = cell.strip()
    if cell in ("", "-"):
        return None
    return float(cell.rstrip("%").replace(",", ""))


def whole(cell: str | None) -> int | None:
    """A count or a duration, rounded: None for a column the report lacks, 0 for an empty cell
    (Connect's exports leave zeros empty)."""
    if cell is None:
        return None
    v = number(cell)
    return 0 if v is None else int(v + 0.5) if v >= 0 else -int(-v + 0.5)


def utc(cell: str) -> datetime:
    return datetime.fromisoformat(cell.strip().replace("Z", "+00:00")).astimezone(timezone.utc)


def kind_of(key: str) -> str:
    name = key.rsplit("/", 1)[-1].lower()
    for tag in ("aspr", "aqr", "qr"):
        if re.search(rf"(?<![a-z0-9]){tag}(?![a-z0-9])", name):
            return tag.upper()
    raise ValueError(f"no report tag in {key}")


def reference_records(key: str) -> tuple[list[dict], str | None]:
    """A small reading of feed.md's report rules (default mapping, no configured SLA)."""
    data = (REPORTS / BUCKET / key).read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data, newline="")))
    header = [norm(h) for h in rows[0]]
    kind = kind_of(key)
    col = {}
    for k, names in COLUMNS.items():
        found = [header.index(norm(n)) for n in ((names,) if isinstance(names, str) else names) if norm(n) in header]
        if found:
            col[k] = found[0]
    for needed in ["start", "end", *GROUPING[kind]]:
        if needed not in col:
            return [], COLUMNS[needed]
    thresholds: dict[int, dict[str, int]] = {}
    for i, h in enumerate(header):
        for slot, pattern in TEMPLATES.items():
            m = re.fullmatch(pattern, h)
            if m:
                thresholds.setdefault(int(m.group(1)), {})[slot] = i
    x = min(thresholds) if thresholds else None
    records = []
    for row in rows[1:]:
        if not row:
            continue
        get = lambda k: row[col[k]] if k in col else None  # noqa: E731
        start, end = utc(get("start")), utc(get("end"))
        rec: dict = {"interval_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "interval_minutes": int((end - start).total_seconds() // 60)}
        if "agent" in GROUPING[kind]:
            rec["agent_login"] = get("agent")
        if "queue" in GROUPING[kind]:
            rec["queue"] = get("queue")
        talk, hold, acw = whole(get("talk")), whole(get("hold")), whole(get("acw"))
        handle = talk + hold + acw if None not in (talk, hold, acw) else None
        if kind == "QR":
            handled, abandoned = whole(get("handled")), whole(get("abandoned"))
            t = thresholds.get(x, {})
            cell = lambda slot: row[t[slot]] if slot in t else None  # noqa: E731
            hs, ab_s = whole(cell("answered")), whole(cell("abandoned"))
            avg = number(get("avg_answer"))
            rec.update(
                contacts_received=whole(get("queued")), handled=handled, handled_short=hs,
                handled_long=None if None in (handled, hs) else max(handled - hs, 0),
                abandoned=abandoned, abandoned_short=ab_s,
                abandoned_long=None if None in (abandoned, ab_s) else max(abandoned - ab_s, 0),
                talk_time_s=talk, hold_time_s=hold, acw_time_s=acw, handle_time_s=handle,
                queue_delay_s=None if None in (avg, handled) else whole(str(avg * handled)),
                service_level_seconds=x, service_level_pct=number(cell("pct")),
                service_levels=[
                    {"seconds": s,
                     "answered": whole(row[c["answered"]]) if "answered" in c else None,
                     "abandoned": whole(row[c["abandoned"]]) if "abandoned" in c else None,
                     "pct": number(row[c["pct"]]) if "pct" in c else None}
                    for s, c in sorted(thresholds.items())
                ],
            )
            rec["active"] = any((rec[k] or 0) > 0 for k in ("contacts_received", "handled", "abandoned"))
        elif kind == "AQR":
            handled = whole(get("handled"))
            rec.update(handled=handled, talk_time_s=talk, hold_time_s=hold, acw_time_s=acw,
                       handle_time_s=handle)
            rec["active"] = (handled or 0) > 0 or (handle or 0) > 0
        else:
            login, npt = whole(get("online")), whole(get("npt"))
            rec.update(login_time_s=login, not_ready_time_s=npt,
                       ready_time_s=None if None in (login, npt) else max(login - npt, 0),
                       idle_time_s=whole(get("idle")), on_contact_time_s=whole(get("on_contact")))
            rec["active"] = (login or 0) > 0
        records.append(rec)
    return records, None


def read_expected(path: Path) -> tuple[int, list[dict], str | None]:
    count, records, error = None, [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("records "):
            count = int(line.split()[1])
        elif line.startswith("error "):
            error = line[len("error "):].strip()
        else:
            records.append(json.loads(line))
    if count is None:
        sys.exit(f"{path}: no `records N` line")
    return count, records, error


def same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) < 1e-9
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in b and same(v, b[k]) for k, v in a.items())
    return a == b


def check() -> bool:
    ok = True
    keys = sorted(str(p.relative_to(REPORTS / BUCKET)) for p in (REPORTS / BUCKET).rglob("*.csv"))
    for key in keys:
        exp_path = EXPECTED / BUCKET / (key + ".records.txt")
        if not exp_path.exists():
            print(f"MISSING {exp_path.relative_to(HERE)}")
            ok = False
            continue
        count, expected, error = read_expected(exp_path)
        got, got_error = reference_records(key)
        problems = []
        if (error or None) != (got_error or None):
            problems.append(f"error: expected {error!r}, reference {got_error!r}")
        if count != len(got) or count != len(expected) and not error:
            problems.append(f"count: expected {count}, listed {len(expected)}, reference {len(got)}")
        for i, (e, g) in enumerate(zip(expected, got)):
            if not same(e, g):
                diff = {k: (v, g.get(k)) for k, v in e.items() if not same(v, g.get(k))}
                problems.append(f"record {i + 1}: (expected, reference) {diff}")
        print(("ok      " if not problems else "DIFFERS ") + key)
        for p in problems:
            print("        " + p)
        ok = ok and not problems
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="also check events/expected/reports")
    args = parser.parse_args()
    write_events()
    if args.check and not check():
        sys.exit(1)


if __name__ == "__main__":
    main()
