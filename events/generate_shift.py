#!/usr/bin/env python3
"""Writes events/agent-shift.jsonl: one agent's shift as Connect sends it on the agent event
stream (bare agent events, one per line), from login to logout across several 15-minute
intervals: idle, an inbound call with hold and after-contact work, a break, a chat, lunch.
Heartbeats every 120 s while nothing else happens, as Connect sends them. Run it again to
regenerate; the output is deterministic."""

import json
from datetime import datetime, timedelta, timezone

INSTANCE = "arn:aws:connect:us-east-1:123456789012:instance/8f2c3e41-6a7b-4c1d-9e0f-2a3b4c5d6e7f"
AGENT = INSTANCE + "/agent/4b1e2d3c-5a6f-4e7d-8c9b-0a1b2c3d4e5f"
QUEUE = {"ARN": INSTANCE + "/queue/0db317d9-4c8e-4fa3-969a-73bf4c83cf3b", "Name": "Support"}
DAY = datetime(2026, 11, 20, tzinfo=timezone.utc)


def at(clock):
    h, m, s = clock.split(":")
    return DAY + timedelta(hours=int(h), minutes=int(m), seconds=float(s))


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def status(name, since):
    kind = {"Available": "ROUTABLE", "Offline": "OFFLINE"}.get(name, "CUSTOM")
    return {"ARN": INSTANCE + "/agent-state/" + name.lower(), "Name": name, "StartTimestamp": stamp(since), "Type": kind}


def contact(contact_id, channel, method, state, since, connected=None):
    c = {
        "ContactId": contact_id,
        "InitialContactId": None,
        "Channel": channel,
        "InitiationMethod": method,
        "State": state,
        "StateStartTimestamp": stamp(since),
        "ConnectedToAgentTimestamp": stamp(connected) if connected else None,
        "QueueTimestamp": stamp(since - timedelta(seconds=23)),
        "Queue": QUEUE,
    }
    return c


# (clock, event type, status, status since, contacts)
STEPS = [
    ("08:58:40.120", "LOGIN", "Offline", "08:58:40.120", []),
    ("08:58:41.502", "STATE_CHANGE", "Available", "08:58:41.502", []),
    ("09:07:12.250", "STATE_CHANGE", "Available", "08:58:41.502", [("call-1", "VOICE", "INBOUND", "CONNECTING", "09:07:12.250", None)]),
    ("09:07:19.900", "STATE_CHANGE", "Available", "08:58:41.502", [("call-1", "VOICE", "INBOUND", "CONNECTED", "09:07:19.900", "09:07:19.900")]),
    ("09:11:02.000", "STATE_CHANGE", "Available", "08:58:41.502", [("call-1", "VOICE", "INBOUND", "CONNECTED_ONHOLD", "09:11:02.000", "09:07:19.900")]),
    ("09:12:30.400", "STATE_CHANGE", "Available", "08:58:41.502", [("call-1", "VOICE", "INBOUND", "CONNECTED", "09:12:30.400", "09:07:19.900")]),
    ("09:16:05.700", "STATE_CHANGE", "Available", "08:58:41.502", [("call-1", "VOICE", "INBOUND", "ENDED", "09:16:05.700", "09:07:19.900")]),
    ("09:17:31.000", "STATE_CHANGE", "Available", "09:17:31.000", []),
    ("09:31:00.000", "STATE_CHANGE", "Break", "09:31:00.000", []),
    ("09:46:12.300", "STATE_CHANGE", "Available", "09:46:12.300", []),
    ("09:52:40.000", "STATE_CHANGE", "Available", "09:46:12.300", [("chat-1", "CHAT", "API", "CONNECTED", "09:52:40.000", "09:52:40.000")]),
    ("10:04:05.000", "STATE_CHANGE", "Available", "09:46:12.300", [("chat-1", "CHAT", "API", "ENDED", "10:04:05.000", "09:52:40.000")]),
    ("10:05:10.000", "STATE_CHANGE", "Lunch", "10:05:10.000", []),
    ("10:35:20.000", "STATE_CHANGE", "Available", "10:35:20.000", []),
    ("10:44:00.000", "STATE_CHANGE", "Offline", "10:44:00.000", []),
    ("10:44:02.600", "LOGOUT", "Offline", "10:44:00.000", []),
]


def event(n, clock, event_type, name, since, contacts):
    snapshot = {
        "AgentStatus": status(name, at(since)),
        "Configuration": {
            "AgentHierarchyGroups": None,
            "FirstName": "Jordan",
            "LastName": "Lee",
            "RoutingProfile": {
                "ARN": INSTANCE + "/routing-profile/8c3f846c-c6a9-42d3-83f8-4c485e5c4176",
                "Name": "Support",
                "DefaultOutboundQueue": QUEUE,
                "InboundQueues": [dict(QUEUE, Channels=["VOICE", "CHAT"])],
            },
            "Username": "jlee",
        },
        "Contacts": [contact(c, ch, m, s, at(t), at(conn) if conn else None) for (c, ch, m, s, t, conn) in contacts],
    }
    return {
        "AWSAccountId": "123456789012",
        "AgentARN": AGENT,
        "CurrentAgentSnapshot": snapshot,
        "EventId": f"shift-{n:03d}",
        "EventTimestamp": stamp(at(clock)),
        "EventType": event_type,
        "InstanceARN": INSTANCE,
        "PreviousAgentSnapshot": None,
        "Version": "2019-05-25",
    }


def main():
    events = []
    for i, step in enumerate(STEPS):
        events.append(event(len(events), *step))
        if i + 1 < len(STEPS) and step[1] != "LOGOUT":
            # Heartbeats every 120 s until the next change, showing what the agent is doing.
            t, until = at(step[0]) + timedelta(seconds=120), at(STEPS[i + 1][0])
            while t < until:
                clock = t.strftime("%H:%M:%S.") + f"{t.microsecond // 1000:03d}"
                events.append(event(len(events), clock, "HEART_BEAT", step[2], step[3], step[4]))
                t += timedelta(seconds=120)
    with open("events/agent-shift.jsonl", "w") as out:
        for e in events:
            out.write(json.dumps(e, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
