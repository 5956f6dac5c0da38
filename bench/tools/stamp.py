#!/usr/bin/env python3
"""Reads the notifier's standard output and writes each notification line with the time it
arrived, so webhook-to-notification latency can be measured outside the service.

Input: CONTRACT.md section 8's stdout sink, one JSON object per line,
`{"channel":"stdout","group":...,"diagnoses":[...]}`. Lines that are not such objects (a
log line on stdout) are passed to `--other`. Output lines:
`{"at": <unix secs>, "eventIds": [...], "conversationIds": [...], "verdicts": [...]}`.
"""

import argparse
import json
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--other", required=True)
    a = p.parse_args()
    with open(a.out, "a") as out, open(a.other, "a") as other:
        for line in sys.stdin:
            at = time.time()
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if not isinstance(obj, dict) or not isinstance(obj.get("diagnoses"), list):
                other.write(line)
                other.flush()
                continue
            diags = [d for d in obj["diagnoses"] if isinstance(d, dict)]
            rec = {
                "at": at,
                "eventIds": [d.get("eventId") for d in diags],
                "conversationIds": [d.get("conversationId") for d in diags],
                "verdicts": [(d.get("verdict") or {}).get("code") for d in diags],
            }
            out.write(json.dumps(rec) + "\n")
            out.flush()


if __name__ == "__main__":
    sys.exit(main())
