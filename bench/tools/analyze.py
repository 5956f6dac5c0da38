#!/usr/bin/env python3
"""Checks and figures for the pipeline benchmark and the drills.

  delivery  joins what the sender recorded (events.py send) with what the notifier printed
            (stamp.py): every event answered 202 must be notified exactly once, nothing
            answered with an error may be notified; prints diagnoses/s and the
            webhook-to-notification latency (p50/p99). Exit 1 when a check fails.
            --in-doubt FROM TO: an event answered 503 between these unix times (the
            moment the broker connection dropped) may have been stored all the same -
            its confirm was lost with the connection - so being notified (once) is
            reported as "inDoubt", not a failure.
  metrics   scrapes Prometheus /metrics endpoints and prints the sums of the contract's
            counters (CONTRACT.md section 4) by label set, as JSON.
"""

import argparse
import json
import re
import sys
import urllib.request


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def load_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def cmd_delivery(a):
    sent = load_jsonl(a.sent)
    notified = load_jsonl(a.notified)
    accepted = {r["eventId"]: r for r in sent if r["status"] == 202}
    refused = {r["eventId"] for r in sent if r["status"] != 202}
    seen = {}
    first_at = {}
    verdicts = {}
    for n in notified:
        for eid, verdict in zip(n["eventIds"], n["verdicts"]):
            seen[eid] = seen.get(eid, 0) + 1
            first_at.setdefault(eid, n["at"])
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
    missing = [e for e in accepted if e not in seen]
    dups = {e: c for e, c in seen.items() if c > 1}
    unexpected = [e for e in seen if e not in accepted and e in refused]
    in_doubt = []
    if a.in_doubt:
        lo, hi = a.in_doubt
        answered = {r["eventId"]: r["answeredAt"] for r in sent}
        in_doubt = [e for e in unexpected if lo <= answered[e] <= hi]
        unexpected = [e for e in unexpected if e not in in_doubt]
    foreign = [e for e in seen if e not in accepted and e not in refused]
    lat = [(first_at[e] - accepted[e]["sentAt"]) * 1000 for e in accepted if e in first_at]
    by_status = {}
    for r in sent:
        by_status[str(r["status"])] = by_status.get(str(r["status"]), 0) + 1
    span = None
    if first_at and accepted:
        span = max(first_at.values()) - min(r["sentAt"] for r in accepted.values())
    res = {
        "sent": len(sent),
        "byStatus": by_status,
        "accepted202": len(accepted),
        "notified": len(seen),
        "missing": len(missing),
        "duplicates": len(dups),
        "notifiedButRefused": len(unexpected),
        "inDoubt": len(in_doubt),
        "notifiedUnknown": len(foreign),
        "diagnosesPerSec": round(len(seen) / span, 1) if span else None,
        "latencyMsP50": round(pct(lat, 50), 1) if lat else None,
        "latencyMsP99": round(pct(lat, 99), 1) if lat else None,
        "verdicts": dict(sorted(verdicts.items(), key=lambda kv: str(kv[0]))),
        "missingSample": missing[:5],
        "duplicateSample": list(dups)[:5],
        "refusedNotifiedSample": unexpected[:5],
    }
    print(json.dumps(res))
    ok = not missing and not unexpected and (a.allow_duplicates or not dups)
    return 0 if ok else 1


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


# Label values may hold braces (`endpoint="/contacts/{id}"`): the label set runs to the last `}`.
LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+([0-9.eE+-]+|NaN|\+Inf|-Inf)$")


def cmd_metrics(a):
    sums = {}
    errors = {}
    for url in a.urls:
        try:
            text = scrape(url)
        except Exception as e:  # a process without /metrics is reported, not hidden
            errors[url] = type(e).__name__
            continue
        for line in text.splitlines():
            m = LINE.match(line.strip())
            if not m:
                continue
            name, labels, value = m.group(1), m.group(2) or "", m.group(3)
            if not name.startswith("handover_"):
                continue
            key = name + labels
            sums[key] = sums.get(key, 0.0) + float(value)
    print(json.dumps({"sums": dict(sorted(sums.items())), "errors": errors}))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("delivery")
    d.add_argument("--sent", required=True)
    d.add_argument("--notified", required=True)
    d.add_argument("--allow-duplicates", action="store_true")
    d.add_argument("--in-doubt", nargs=2, type=float, metavar=("FROM", "TO"))
    m = sub.add_parser("metrics")
    m.add_argument("urls", nargs="+")
    a = p.parse_args()
    return cmd_delivery(a) if a.cmd == "delivery" else cmd_metrics(a)


if __name__ == "__main__":
    sys.exit(main())
