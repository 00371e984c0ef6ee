#!/usr/bin/env python3
"""Builds the Kinesis Lambda events in events/ from the agent events in events/agent-events/.

    python3 events/generate.py            # (re)write every events/kinesis-*.json
    python3 events/generate.py --check    # also replay each file through a small reference of
                                          # feed.md's agent_state rules and compare with
                                          # events/expected/*.states.txt (hand-written)

Python 3.11 standard library only. The output is deterministic: sequence numbers and arrival
timestamps are fixed (sequence numbers increase strictly across the whole set, in the order of
FILES below; arrival timestamps follow the events' EventTimestamp). Sources:

- events/agent-events/*.json            one agent event per file, `<story>-<nn>-<user>-<what>.json`
- events/contact-records/*.json         contact records (CTRs) that share the stream
- ../shared/samples/connect-docs/*.json the published Amazon Connect samples (relative to the
                                        repository root; override with --samples DIR)
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_SAMPLES = REPO / ".." / "shared" / "samples" / "connect-docs"

REGION = "us-east-1"
ACCOUNT = "123456789012"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/connect-agent-events"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/connect-wfm-agent-events"
SHARD = "shardId-000000000000"

# 56-digit sequence numbers like the ones Kinesis hands out; record n of the whole set gets
# SEQ_BASE + n * SEQ_STEP.
SEQ_BASE = 49657431098765432101234567890123456789012345678900000000
SEQ_STEP = 1_000_000_000_007

STORIES = [
    "login",
    "break",
    "voice-inbound-hold-acw",
    "chat-two-contacts",
    "transfer",
    "heartbeats",
    "logout",
]

SAMPLE_FILES = [
    "agent-event-01-heartbeat.json",
    "agent-event-02-state-change-enter-acw.json",
    "agent-event-03-state-change-leave-acw.json",
]

# Bytes that are not UTF-8: a gzip header (0x8b is a lone continuation byte) and high bytes,
# as when a producer compresses its records.
BINARY_GARBAGE = bytes.fromhex("1f8b08000000000000ff") + bytes(range(0xF8, 0x100)) + bytes(range(0x80, 0x90))


# ----------------------------------------------------------------------------- sources


def load_json(path: Path):
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def compact(obj) -> bytes:
    """The agent event as Connect puts it on the stream: compact JSON, key order kept."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def story_events(story: str) -> list[dict]:
    paths = sorted((HERE / "agent-events").glob(f"{story}-[0-9][0-9]-*.json"))
    if not paths:
        sys.exit(f"no agent events for story {story!r} in {HERE / 'agent-events'}")
    return [load_json(p) for p in paths]


def agent_event(story: str, step: int) -> dict:
    """Event number `step` (1-based) of a story."""
    return story_events(story)[step - 1]


def parse_ts(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def epoch(ts: str) -> float:
    return parse_ts(ts).timestamp()


# ----------------------------------------------------------------------------- records
# A planned record: (data bytes, partition key, arrival seconds). Arrival of records that carry
# no timestamp of their own (garbage, duplicates) is derived from the record before them.


def ev_record(ev: dict, delay: float = 0.35) -> tuple[bytes, str, float]:
    return compact(ev), ev["AgentARN"], round(epoch(ev["EventTimestamp"]) + delay, 3)


def after(records: list, data: bytes, key: str, gap: float) -> tuple[bytes, str, float]:
    return data, key, round(records[-1][2] + gap, 3)


class Sequencer:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return str(SEQ_BASE + self.n * SEQ_STEP)


def kinesis_event(records, seq: Sequencer) -> dict:
    out = []
    last_arrival = None
    for data, key, arrival in records:
        if last_arrival is not None and arrival < last_arrival:
            sys.exit(f"arrival timestamps must not go back ({arrival} < {last_arrival})")
        last_arrival = arrival
        sn = seq.next()
        out.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": key,
                    "sequenceNumber": sn,
                    "data": base64.b64encode(data).decode("ascii"),
                    "approximateArrivalTimestamp": arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{SHARD}:{sn}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": ROLE_ARN,
                "awsRegion": REGION,
                "eventSourceARN": STREAM_ARN,
            }
        )
    return {"Records": out}


# ----------------------------------------------------------------------------- the files


def build_files(samples_dir: Path) -> list[tuple[str, list]]:
    files: list[tuple[str, list]] = []

    samples = [load_json(samples_dir / name) for name in SAMPLE_FILES]
    # The samples are years apart; they arrive one second after another.
    recs = []
    for ev in samples:
        data, key, _ = ev_record(ev)
        recs.append((data, key, round(epoch(samples[0]["EventTimestamp"]) + 0.35 + len(recs), 3)))
    files.append(("kinesis-connect-docs-samples.json", recs))

    for story in STORIES:
        files.append((f"kinesis-{story}.json", [ev_record(ev) for ev in story_events(story)]))

    # Duplicate: the producer retried a PutRecord, so the CONNECTED event is on the stream twice
    # (same bytes, a later sequence number).
    t1, t2, t3 = story_events("transfer")
    recs = [ev_record(t1), ev_record(t2)]
    recs.append(after(recs, compact(t2), t2["AgentARN"], 0.912))
    recs.append(ev_record(t3))
    files.append(("kinesis-duplicate-record.json", recs))

    # A contact record (CTR) on the agent event stream, between valid agent events.
    ctr = load_json(HERE / "contact-records" / "ctr-jdoe-inbound-call.json")
    recs = [ev_record(agent_event("voice-inbound-hold-acw", 5)), ev_record(agent_event("voice-inbound-hold-acw", 6))]
    recs.append((compact(ctr), ctr["ContactId"], round(epoch(ctr["LastUpdateTimestamp"]) + 0.81, 3)))
    recs.append(ev_record(agent_event("heartbeats", 1)))
    files.append(("kinesis-contact-record-on-stream.json", recs))

    # Malformed records between two valid events of one agent.
    brk, back = agent_event("break", 2), agent_event("break", 3)
    xfer = compact(agent_event("transfer", 1))
    truncated = xfer[: len(xfer) // 2]
    try:
        BINARY_GARBAGE.decode("utf-8")
        sys.exit("BINARY_GARBAGE must not be valid UTF-8")
    except UnicodeDecodeError:
        pass
    recs = [ev_record(brk)]
    recs.append(after(recs, truncated, agent_event("transfer", 1)["AgentARN"], 0.204))
    recs.append(after(recs, BINARY_GARBAGE, agent_event("heartbeats", 1)["AgentARN"], 0.517))
    recs.append(ev_record(back))
    files.append(("kinesis-malformed-record.json", recs))

    # Every story in one batch, as one shard delivers it: ordered by EventTimestamp, which keeps
    # each agent's own order.
    every = [ev for story in STORIES for ev in story_events(story)]
    every.sort(key=lambda ev: parse_ts(ev["EventTimestamp"]))
    files.append(("kinesis-all-stories.json", [ev_record(ev) for ev in every]))
    return files


def check_sources() -> None:
    """Per agent, across all stories: timestamps strictly increase and each event's
    PreviousAgentSnapshot is the CurrentAgentSnapshot of the agent's event before it."""
    every = [ev for story in STORIES for ev in story_events(story)]
    every.sort(key=lambda ev: parse_ts(ev["EventTimestamp"]))
    last: dict[str, dict] = {}
    ids = set()
    for ev in every:
        if ev["EventId"] in ids:
            sys.exit(f"EventId {ev['EventId']} used twice")
        ids.add(ev["EventId"])
        before = last.get(ev["AgentARN"])
        if before is not None:
            if parse_ts(ev["EventTimestamp"]) <= parse_ts(before["EventTimestamp"]):
                sys.exit(f"{ev['EventId']}: EventTimestamp not after the agent's previous event")
            if ev["PreviousAgentSnapshot"] != before["CurrentAgentSnapshot"]:
                sys.exit(f"{ev['EventId']}: PreviousAgentSnapshot differs from the previous CurrentAgentSnapshot")
        last[ev["AgentARN"]] = ev


# ----------------------------------------------------------------------------- --check
# A deliberately small reading of feed.md (agent_state), used only to cross-check the
# hand-written expected/*.states.txt files. Agents are keyed by AgentARN (the state-store key).

RANK = {"CONNECTED": 5, "CONNECTED_ONHOLD": 4, "CONNECTING": 3, "INCOMING": 3, "PENDING": 3,
        "ENDED": 2, "MISSED": 1, "ERROR": 1, "REJECTED": 1}
CHANNEL = {"VOICE": 3, "CHAT": 2, "TASK": 1}


def derive(ev: dict) -> str:
    if ev["EventType"] in ("LOGIN", "LOGOUT"):
        return ev["EventType"]
    snap = ev["CurrentAgentSnapshot"]
    contacts = snap.get("Contacts") or []
    if contacts:
        p = max(contacts, key=lambda c: (RANK.get(c["State"], 0), CHANNEL.get(c["Channel"], 0),
                                         parse_ts(c["StateStartTimestamp"]), c["ContactId"]))
        return f"{p['Channel']}-{p['InitiationMethod']}-{p['State']}"
    status = snap["AgentStatus"]
    if status.get("Type") == "OFFLINE":
        return "Offline"
    return status["Name"]


def replay(doc: dict) -> list[str]:
    state: dict[str, str] = {}
    seen: dict[str, set] = {}
    mark: dict[str, datetime] = {}
    lines = []
    for rec in doc["Records"]:
        try:
            ev = json.loads(base64.b64decode(rec["kinesis"]["data"]).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue  # rejected: not JSON
        if not isinstance(ev, dict) or ev.get("EventType") not in ("STATE_CHANGE", "HEART_BEAT", "LOGIN", "LOGOUT"):
            continue  # rejected: not an agent event (e.g. a contact record)
        arn, ts = ev["AgentARN"], parse_ts(ev["EventTimestamp"])
        if ev["EventId"] in seen.get(arn, set()) or (arn in mark and ts < mark[arn]):
            continue  # duplicate or late
        seen.setdefault(arn, set()).add(ev["EventId"])
        mark[arn] = max(ts, mark.get(arn, ts))
        new = derive(ev)
        if ev["EventType"] == "HEART_BEAT" and arn in state:
            continue
        if state.get(arn) != new:
            state[arn] = new
            lines.append((ts.date(), f"{arn.rsplit('/', 1)[-1]} {new}"))
    # The feed is laid out by UTC date of the event: within a batch, a date's transitions come
    # together, in stream order (a stable sort keeps that order).
    return [line for _, line in sorted(lines, key=lambda dated: dated[0])]


def check(files: list[tuple[str, list]]) -> bool:
    ok = True
    for name, _ in files:
        doc = load_json(HERE / name)
        exp_path = HERE / "expected" / name.replace(".json", ".states.txt")
        expected = [line for line in exp_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        got = replay(doc)
        if got != expected:
            ok = False
            print(f"MISMATCH {exp_path.name}\n  expected: {expected}\n  replayed: {got}")
        else:
            print(f"ok       {exp_path.name} ({len(got)} transitions)")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES, help="folder of the Connect doc samples")
    ap.add_argument("--check", action="store_true", help="also cross-check expected/*.states.txt")
    args = ap.parse_args()

    check_sources()
    files = build_files(args.samples)
    seq = Sequencer()
    for name, recs in files:
        with (HERE / name).open("w", encoding="utf-8", newline="\n") as f:
            json.dump(kinesis_event(recs, seq), f, indent=2)
            f.write("\n")
        print(f"wrote {name} ({len(recs)} records)")
    if args.check and not check(files):
        sys.exit(1)


if __name__ == "__main__":
    main()
