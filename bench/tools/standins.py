#!/usr/bin/env python3
"""Local stand-ins for NICE CXone and Slack, for the pipeline benchmark and the drills.

Stdlib only; loopback only. Each server writes the port it bound to `--port-file` (bind
port 0 to get a free one) and serves its own counters at `GET /_stats` (JSON).

  cxone   OpenID discovery, the password-grant token, cxone-configuration discovery and the
          diagnosis endpoints of shared/domain/cxone.md section 3 (any API version, path
          case-insensitive). Shapes follow the domain notes' examples. Every request is
          counted per endpoint template. `POST /_control {"mode":"500"|"429"|"ok",
          "seconds":N}` makes every API call fail that way for N seconds (fault drill).
  slack   an incoming-webhook stand-in: answers `ok`; with `--rate-limit-secs S` any
          message within S seconds of the last accepted one gets 429 + Retry-After. Every
          accepted message is appended to `--messages` (JSON lines with the receive time).
"""

import argparse
import base64
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

SKILLS = {  # id -> name; events.py targets these names
    4412877: "Support_Voice_EN",
    4412878: "Billing_Voice_EN",
    4412879: "Sales_Voice_DE",
}
SKILL_BY_NAME = {v: k for k, v in SKILLS.items()}
CONTACT_BASE = 745512890000
TENANT = "11ee0000-aaaa-bbbb-cccc-0242ac110002"


def b64url(obj):
    raw = json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fake_jwt(claims):
    return f"{b64url({'alg': 'RS256', 'typ': 'JWT'})}.{b64url(claims)}.c2lnbmF0dXJl"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.statuses = {}

    def add(self, key, status):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1

    def snapshot(self, extra=None):
        with self.lock:
            out = {
                "total": sum(self.counts.values()),
                "byEndpoint": dict(sorted(self.counts.items())),
                "byStatus": dict(sorted(self.statuses.items())),
            }
        out.update(extra or {})
        return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin"

    def log_message(self, fmt, *args):  # quiet: the counters are the record
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, obj=None, headers=None, raw=None):
        data = raw if raw is not None else (b"" if obj is None else json.dumps(obj).encode())
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# ---------------------------------------------------------------- CXone


class CxoneHandler(Handler):
    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        u = urlparse(self.path)
        path, q = u.path, parse_qs(u.query)
        srv = self.server
        if path == "/_stats":
            return self.send(200, srv.stats.snapshot())
        if path == "/_control" and method == "POST":
            ctl = json.loads(self.body() or b"{}")
            srv.fault = (ctl.get("mode", "ok"), time.monotonic() + float(ctl.get("seconds", 0)))
            return self.send(200, {"mode": srv.fault[0]})
        if method == "POST":
            self.body()

        if path == "/.well-known/openid-configuration":
            return self.answer("discovery", 200, {
                "issuer": self.base(),
                "authorization_endpoint": f"{self.base()}/auth/authorize",
                "token_endpoint": f"{self.base()}/auth/token",
                "userinfo_endpoint": f"{self.base()}/auth/userinfo",
                "jwks_uri": f"{self.base()}/auth/jwks",
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "scopes_supported": ["openid"],
                "response_types_supported": ["code"],
            })
        if path == "/.well-known/cxone-configuration":
            return self.answer("cxone-configuration", 200, {
                "private": False, "area": "na1", "cluster": "B32", "domain": "niceincontact.com",
                "api_endpoint": self.base(), "auth_endpoint": self.base(), "ui_endpoint": self.base(),
                "tenantId": q.get("tenantId", [TENANT])[0],
            })
        if path == "/auth/token" and method == "POST":
            now = int(time.time())
            claims = {"iss": self.base(), "tenantId": TENANT, "icBUId": 4601234,
                      "icClusterId": "B32", "iat": now, "exp": now + 3600, "sub": "user:bench"}
            return self.answer("token", 200, {
                "access_token": fake_jwt(claims), "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": fake_jwt(claims), "id_token": fake_jwt(claims),
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            })

        m = re.match(r"^/incontactapi/services/v[0-9.]+(/.*)$", path, re.IGNORECASE)
        if not m:
            return self.answer("unknown", 404, {"error": "NotFound", "errorDescription": path})
        rest = m.group(1)
        mode, until = srv.fault
        if mode != "ok" and time.monotonic() < until:
            if mode == "429":
                return self.answer(template(rest), 429, {"error": "TooManyRequests"},
                                   {"Retry-After": "1"})
            return self.answer(template(rest), 500, {"error": "InternalServerError"})
        return self.api(rest, q)

    def answer(self, key, status, obj, headers=None):
        self.server.stats.add(key, status)
        self.send(status, obj, headers)

    def api(self, rest, q):
        key = template(rest)
        parts = rest.strip("/").split("/")
        if parts[0] == "contacts" and len(parts) >= 2 and parts[1].isdigit():
            cid = int(parts[1])
            i = cid - CONTACT_BASE
            skill_id = list(SKILLS)[i % len(SKILLS)] if i >= 0 else list(SKILLS)[0]
            start = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 300))
            if len(parts) == 2:
                return self.answer(key, 200, {"businessUnitId": 4601234, "contactId": {
                    "contactId": cid, "masterContactId": cid - 12, "contactStartDate": start,
                    "mediaTypeId": 4, "mediaTypeName": "Phone Call", "isOutbound": False,
                    "skillId": skill_id, "skillName": SKILLS[skill_id], "agentId": 0,
                    "preQueueSeconds": 241, "inQueueSeconds": 0, "agentSeconds": 0,
                    "totalDurationSeconds": 241, "abandoned": False, "isRefused": False,
                    "endReason": "Contact Hung Up", "isWarehoused": True,
                    "transferIndicatorName": "None", "tags": []}})
            if parts[2] in ("statehistory", "state-history"):
                return self.answer(key, 200, {"contactStateHistory": [
                    {"stateIndex": 1, "contactId": str(cid), "contactStateId": 2,
                     "contactStateName": "PreQueue", "startDate": start, "agentId": 0,
                     "skillId": skill_id, "skillName": SKILLS[skill_id], "duration": "241"},
                    {"stateIndex": 2, "contactId": str(cid), "contactStateId": 11,
                     "contactStateName": "Released", "startDate": start, "agentId": 0,
                     "skillId": skill_id, "skillName": SKILLS[skill_id], "duration": "0"}]})
            if parts[2] == "hierarchy":
                return self.answer(key, 200, {"masterContactId": cid - 12, "childContacts": [
                    {"contactId": cid, "startTime": start, "endTime": None}]})
            if parts[2] == "custom-data":
                return self.answer(key, 200, {"contactCustomData": []})
            return self.answer(key, 404, {"error": "NotFound"})
        if parts[0] == "contacts" and len(parts) >= 2 and parts[1] in ("active", "states"):
            return self.answer(key, 204, None)
        if parts[0] == "contacts" and len(parts) >= 2 and parts[1] == "completed":
            return self.answer(key, 204, None)
        if parts[0] == "skills" and len(parts) == 1:
            return self.answer(key, 200, {"totalRecords": len(SKILLS), "skills": [
                skill(sid) for sid in SKILLS]})
        if parts[0] == "skills" and len(parts) >= 2:
            sid = parts[1]
            if not sid.isdigit():
                sid = SKILL_BY_NAME.get(sid)
            sid = int(sid) if sid is not None else None
            if sid not in SKILLS:
                return self.answer(key, 404, {"error": "NotFound"})
            if len(parts) == 2:
                return self.answer(key, 200, skill(sid))
            if parts[2] == "activity":
                return self.answer(key, 200, {"skillActivity": [{
                    "skillId": sid, "skillName": SKILLS[sid], "mediaTypeId": 4, "isActive": True,
                    "agentsLoggedIn": 3, "agentsAvailable": 1, "agentsWorking": 2,
                    "agentsUnavailable": 0, "queueCount": 0, "skillQueueCount": 0}]})
            if parts[2] == "agents":
                return self.answer(key, 200, {"totalRecords": 1, "agentSkillAssignments": [{
                    "agentId": 2301554, "firstName": "Dana", "lastName": "Kim", "isActive": True,
                    "isSkillActive": True, "skillId": sid, "skillName": SKILLS[sid]}]})
            return self.answer(key, 404, {"error": "NotFound"})
        if parts[0] == "agents":
            return self.answer(key, 200, {"totalRecords": 1, "agentStates": [{
                "agentId": 2301554, "agentStateId": 1, "agentStateName": "Available",
                "isActive": True, "skillId": 0}]})
        if parts[0] == "hours-of-operation":
            return self.answer(key, 200, {"totalRecords": 0, "hoursOfOperation": []})
        if parts[0] == "contact-state-descriptions":
            return self.answer(key, 200, {"contactStateDescriptions": [
                {"ContactStateId": 2, "ContactStateDescription": "PreQueue"},
                {"ContactStateId": 3, "ContactStateDescription": "InQueue"},
                {"ContactStateId": 11, "ContactStateDescription": "Released"}]})
        return self.answer(key, 404, {"error": "NotFound"})


def skill(sid):
    return {"skillId": sid, "skillName": SKILLS[sid], "mediaTypeId": 4,
            "mediaTypeName": "Phone Call", "isActive": True, "isOutbound": False,
            "campaignId": 98812, "scriptName": "Cognigy_Main_Inbound"}


def template(rest):
    """`/contacts/745512890123/statehistory` -> `contacts/{id}/statehistory`."""
    parts = rest.strip("/").split("/")
    out = []
    for p in parts:
        out.append("{id}" if p.isdigit() or p in SKILL_BY_NAME else p)
    return "/".join(out).lower()


# ---------------------------------------------------------------- Slack


class SlackHandler(Handler):
    def do_GET(self):
        srv = self.server
        if urlparse(self.path).path == "/_stats":
            with srv.lock:
                extra = {"accepted": srv.accepted, "rejected429": srv.rejected}
            return self.send(200, srv.stats.snapshot(extra))
        self.send(404, {"error": "not found"})

    def do_POST(self):
        srv = self.server
        body = self.body()
        now = time.time()
        with srv.lock:
            limited = (
                srv.rate_limit > 0
                and srv.last_accepted is not None
                and now - srv.last_accepted < srv.rate_limit
            )
            if limited:
                srv.rejected += 1
            else:
                srv.accepted += 1
                srv.last_accepted = now
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"unparsed": body.decode("utf-8", "replace")}
                srv.messages.write(json.dumps({"at": now, "payload": payload}) + "\n")
                srv.messages.flush()
        if limited:
            wait = max(1, int(srv.rate_limit + 0.999))
            srv.stats.add("message", 429)
            return self.send(429, raw=b"rate_limited", headers={"Retry-After": str(wait)})
        srv.stats.add("message", 200)
        self.send(200, raw=b"ok", headers={"Content-Type": "text/plain"})


def serve(handler, a, **attrs):
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), handler)
    srv.daemon_threads = True
    srv.stats = Stats()
    for k, v in attrs.items():
        setattr(srv, k, v)
    with open(a.port_file, "w") as f:
        f.write(str(srv.server_address[1]))
    srv.serve_forever()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cxone")
    c.add_argument("--port", type=int, default=0)
    c.add_argument("--port-file", required=True)
    s = sub.add_parser("slack")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file", required=True)
    s.add_argument("--messages", required=True)
    s.add_argument("--rate-limit-secs", type=float, default=0)
    a = p.parse_args()
    if a.cmd == "cxone":
        serve(CxoneHandler, a, fault=("ok", 0.0))
    else:
        serve(SlackHandler, a, lock=threading.Lock(), accepted=0, rejected=0,
              last_accepted=None, rate_limit=a.rate_limit_secs,
              messages=open(a.messages, "a"))


if __name__ == "__main__":
    sys.exit(main())
