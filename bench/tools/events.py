#!/usr/bin/env python3
"""Handover-failure events for the benchmarks and drills: make them, sign them, send them.

Stdlib only, so the scripts run from a fresh clone. Subcommands:

  wrk-lua  write a Lua file of pre-signed requests that bench/ingest.lua cycles through
  send     POST events to a receiver at a given rate and record every answer (JSON lines)
  sign     print the Cognigy signature headers for a file (like `handover-doctor sign`)

Signatures follow CONTRACT.md section 6.1:
  X-Cognigy-Timestamp: <unix seconds>
  X-Cognigy-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>
"""

import argparse
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import urllib.parse

PATH = "/webhooks/cognigy/handover"

SKILLS = ["Support_Voice_EN", "Billing_Voice_EN", "Sales_Voice_DE"]

# Five failure stories a bot can report on its own (the verdict does not hinge on CXone
# answering); each sets the fields the diagnosis rules read.
CAUSES = {
    "signal-forbidden": {
        "handover": {
            "mechanism": "cxone_signal",
            "signalResult": '{"status":403,"message":"Forbidden"}',
            "extensionError": "Request failed with status code 403",
        }
    },
    "provider-error": {
        "handover": {
            "mechanism": "handover_provider",
            "providerStatus": "error",
            "providerErrorReason": "error",
            "providerErrorMessage": "Handover provider returned an error",
        }
    },
    "transfer-488": {
        "handover": {"mechanism": "vg_transfer"},
        "voice": {
            "event": "TRANSFER_DIAL_ERROR",
            "callStatus": "failed",
            "sipStatus": "488",
            "sipReason": "Not Acceptable Here",
        },
    },
    "extension-timeout": {
        "handover": {
            "mechanism": "cxone_signal",
            "extensionError": "Extension execution timed out after 20000ms",
        }
    },
    "accepted-not-routed": {
        "handover": {
            "mechanism": "cxone_signal",
            "signalResult": '{"status":202,"statusText":"Accepted"}',
        }
    },
}


def make_event(i, run_id, skill=None, cause=None, size=1500):
    """One event of about `size` bytes, unique per (run_id, i)."""
    skill = skill or SKILLS[i % len(SKILLS)]
    cause = cause or list(CAUSES)[i % len(CAUSES)]
    contact = 745512890000 + (i % 1_000_000)
    ev = {
        "eventId": f"bench-{run_id}-{i}",
        "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "conversationId": f"conv-{run_id}-{i}",
        "userId": "+4915112345678",
        "traceId": f"trace-{run_id}-{i}",
        "flow": {
            "projectId": "6470b3b5c2b7f1a9e0d4c123",
            "flowName": "Voice Main Flow",
            "endpointType": "voiceGateway2",
            "channel": "voice",
            "environment": "prod-eu",
        },
        "cxone": {
            "businessUnit": "4601234",
            "masterContactId": str(contact - 12),
            "contactId": str(contact),
        },
        "handover": {"requestedAction": "Escalate", "targetSkill": skill},
        "voice": {"callSid": f"call-{run_id}-{i}", "sipCallId": f"{i}@10.0.0.1"},
        "context": {
            "routingData": {"language": "en-US", "intent": "billing_question", "priority": 3},
            "customerInfo": {"tier": "gold", "accountId": f"A-{i:08d}"},
        },
    }
    for key, fields in CAUSES[cause].items():
        ev.setdefault(key, {}).update(fields)
    body = json.dumps(ev, separators=(",", ":"))
    pad = size - len(body) - len(',"notes":""')
    if pad > 0:
        # Free text a flow often carries along (a transcript excerpt); ignored by the parser.
        ev["context"]["notes"] = ("caller asked for an agent twice; " * (pad // 33 + 1))[:pad]
        body = json.dumps(ev, separators=(",", ":"))
    return ev["eventId"], skill, cause, body.encode()


def sign(secret, body, ts=None):
    ts = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return ts, f"sha256={mac}"


def lua_long_string(s):
    level = 0
    while ("]" + "=" * level + "]") in s:
        level += 1
    eq = "=" * level
    return f"[{eq}[{s}]{eq}]"


def cmd_wrk_lua(a):
    lines = ["return {"]
    for i in range(a.count):
        _, _, _, body = make_event(i, a.run_id, size=a.size)
        ts, sig = sign(a.secret, body)
        lines.append(
            "{ts=%s,sig=%s,body=%s},"
            % (lua_long_string(ts), lua_long_string(sig), lua_long_string(body.decode()))
        )
    lines.append("}")
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")


def cmd_sign(a):
    body = open(a.file, "rb").read()
    ts, sig = sign(a.secret, body)
    print(f"X-Cognigy-Timestamp: {ts}")
    print(f"X-Cognigy-Signature: {sig}")


class Sender:
    """POSTs events from a shared counter on `concurrency` keep-alive connections, paced to
    `rate` events/s overall, and records one JSON line per attempt."""

    def __init__(self, a):
        self.a = a
        u = urllib.parse.urlparse(a.url)
        self.host, self.port, self.path = u.hostname, u.port or 80, u.path or PATH
        self.lock = threading.Lock()
        self.next = 0
        self.start = time.monotonic()
        self.out = open(a.out, "w")
        self.counts = {}

    def take(self):
        with self.lock:
            if self.next >= self.a.count:
                return None
            i = self.next
            self.next += 1
        if self.a.rate > 0:
            due = self.start + i / self.a.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return i

    def worker(self):
        conn = None
        while (i := self.take()) is not None:
            skill = SKILLS[i % self.a.skills]
            cause = list(CAUSES)[(i // self.a.skills) % self.a.causes]
            event_id, skill, cause, body = make_event(i, self.a.run_id, skill, cause, self.a.size)
            ts, sig = sign(self.a.secret, body)
            headers = {
                "Content-Type": "application/json",
                "X-Cognigy-Timestamp": ts,
                "X-Cognigy-Signature": sig,
            }
            sent = time.time()
            status, err = 0, None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=self.a.timeout)
                conn.request("POST", self.path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except Exception as e:  # connection refused/reset during drills: recorded, not fatal
                err = type(e).__name__
                if conn is not None:
                    conn.close()
                conn = None
            rec = {
                "i": i,
                "eventId": event_id,
                "skill": skill,
                "cause": cause,
                "status": status,
                "sentAt": sent,
                "answeredAt": time.time(),
            }
            if err:
                rec["error"] = err
            with self.lock:
                self.out.write(json.dumps(rec) + "\n")
                self.counts[status] = self.counts.get(status, 0) + 1

    def run(self):
        threads = [threading.Thread(target=self.worker) for _ in range(self.a.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.out.close()
        elapsed = time.monotonic() - self.start
        summary = {
            "sent": sum(self.counts.values()),
            "elapsedSecs": round(elapsed, 2),
            "byStatus": {str(k): v for k, v in sorted(self.counts.items())},
        }
        print(json.dumps(summary))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    w = sub.add_parser("wrk-lua")
    w.add_argument("--count", type=int, default=256)
    w.add_argument("--size", type=int, default=1500)
    w.add_argument("--secret", required=True)
    w.add_argument("--run-id", default="wrk")
    w.add_argument("--out", required=True)

    s = sub.add_parser("send")
    s.add_argument("--url", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--rate", type=float, default=0, help="events/s overall; 0 = as fast as possible")
    s.add_argument("--concurrency", type=int, default=16)
    s.add_argument("--skills", type=int, default=3, choices=range(1, len(SKILLS) + 1))
    s.add_argument("--causes", type=int, default=5, choices=range(1, len(CAUSES) + 1))
    s.add_argument("--size", type=int, default=1500)
    s.add_argument("--secret", required=True)
    s.add_argument("--run-id", required=True)
    s.add_argument("--timeout", type=float, default=10)
    s.add_argument("--out", required=True, help="JSON lines, one per attempt")

    g = sub.add_parser("sign")
    g.add_argument("--secret", required=True)
    g.add_argument("file")

    a = p.parse_args()
    if a.cmd == "wrk-lua":
        cmd_wrk_lua(a)
    elif a.cmd == "send":
        Sender(a).run()
    else:
        cmd_sign(a)


if __name__ == "__main__":
    sys.exit(main())
