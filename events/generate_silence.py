#!/usr/bin/env python3
"""Builds the Kinesis Lambda events of the silence scenarios (the sweep's cases):

    python3 events/generate_silence.py     # (re)write events/kinesis-silent-*.json

- kinesis-silent-agent.json       instance 8f2c3e41-...: jdoe logs in and is Available at
                                  09:00:02.500, then sends nothing; kchen's heartbeats keep the
                                  instance's stream going until 09:08:30.
- kinesis-silent-instance.json    instance 3b9d7e52-...: pwong Available at 09:00:00, rkim on
                                  Break at 09:01:00, then the whole instance stops sending.
- kinesis-silent-instance-back.json  instance 3b9d7e52-...: pwong's heartbeat at 09:20:00.

Python 3.11 standard library only; deterministic. Record building is shared with generate.py.
"""

from __future__ import annotations

import json
import uuid

from generate import HERE, REGION, ACCOUNT, compact, epoch, kinesis_event

import generate

# Sequence numbers after every number generate.py hands out (it uses fewer than 1000).
generate.SEQ_BASE += 1000 * generate.SEQ_STEP

INSTANCE_1 = "8f2c3e41-6a7b-4c1d-9e0f-2a3b4c5d6e7f"
INSTANCE_2 = "3b9d7e52-1c4a-4e8f-b7d6-5a2c9e0f1b3d"
AGENTS = {
    "jdoe": (INSTANCE_1, "62f746b4-84e6-4ceb-95bd-447e7184d454"),
    "kchen": (INSTANCE_1, "dc36fc90-2248-4d70-aca4-a1a9f5b19f71"),
    "pwong": (INSTANCE_2, "0a6e2f1c-7b3d-4c59-8e21-9d4f6a7b8c01"),
    "rkim": (INSTANCE_2, "5c8d1e2f-3a4b-4c6d-9e7f-0a1b2c3d4e02"),
}
STATUS_TYPE = {"Available": "ROUTABLE", "Offline": "OFFLINE"}


def event(user: str, at: str, event_type: str, status: str, status_since: str) -> dict:
    instance, agent_id = AGENTS[user]
    instance_arn = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/{instance}"
    return {
        "AWSAccountId": ACCOUNT,
        "AgentARN": f"{instance_arn}/agent/{agent_id}",
        "CurrentAgentSnapshot": {
            "AgentStatus": {
                "ARN": f"{instance_arn}/agent-state/{uuid.uuid5(uuid.NAMESPACE_URL, status)}",
                "Name": status,
                "StartTimestamp": status_since,
                "Type": STATUS_TYPE.get(status, "CUSTOM"),
            },
            "Configuration": {"Username": user},
            "Contacts": [],
        },
        "EventId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{user}-{at}-{event_type}")),
        "EventTimestamp": at,
        "EventType": event_type,
        "InstanceARN": instance_arn,
        "Version": "2019-05-25",
    }


def record(ev: dict) -> tuple[bytes, str, float]:
    return compact(ev), ev["AgentARN"], round(epoch(ev["EventTimestamp"]) + 0.35, 3)


def day(clock: str) -> str:
    return f"2026-11-20T{clock}Z"


FILES = {
    "kinesis-silent-agent.json": [
        event("jdoe", day("09:00:00.000"), "LOGIN", "Offline", day("08:00:00.000")),
        event("jdoe", day("09:00:02.500"), "STATE_CHANGE", "Available", day("09:00:02.500")),
    ]
    + [
        event("kchen", day(f"09:0{m}:30.000"), "HEART_BEAT", "Available", day("08:15:03.777"))
        for m in (0, 2, 4, 6, 8)
    ],
    "kinesis-silent-instance.json": [
        event("pwong", day("09:00:00.000"), "STATE_CHANGE", "Available", day("09:00:00.000")),
        event("rkim", day("09:01:00.000"), "STATE_CHANGE", "Break", day("09:01:00.000")),
    ],
    "kinesis-silent-instance-back.json": [
        event("pwong", day("09:20:00.000"), "HEART_BEAT", "Available", day("09:00:00.000")),
    ],
}


def main() -> None:
    seq = generate.Sequencer()
    for name, events in FILES.items():
        events = sorted(events, key=lambda ev: ev["EventTimestamp"])
        with (HERE / name).open("w", encoding="utf-8", newline="\n") as f:
            json.dump(kinesis_event([record(ev) for ev in events], seq), f, indent=2)
            f.write("\n")
        print(f"wrote {name} ({len(events)} records)")


if __name__ == "__main__":
    main()
