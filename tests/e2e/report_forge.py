#!/usr/bin/env python3
"""A test forge on loopback for the daemon's reports.

It implements the documented endpoints the daemon posts to:
  GitHub   POST /gh/repos/{owner}/{repo}/statuses/{sha}      Authorization: Bearer T
           POST /gh/repos/{owner}/{repo}/deployments           (answers {"id": N})
           POST /gh/repos/{owner}/{repo}/deployments/{N}/statuses
  Gitea    POST /gitea/api/v1/repos/{owner}/{repo}/statuses/{sha}  Authorization: token T
  Forgejo  POST /forgejo/api/v1/repos/{owner}/{repo}/statuses/{sha} Authorization: token T
  GitLab   POST /gl/api/v4/projects/{url-encoded path}/statuses/{sha}  PRIVATE-TOKEN: T
  Bitbucket Cloud POST /bb/2.0/repositories/{workspace}/{slug}/commit/{sha}/statuses/build
                                                             Authorization: Bearer T
  Bitbucket Data Center POST /bbdc/rest/api/latest/projects/{key}/repos/{slug}/commits/{sha}/builds
                                                             Authorization: Bearer T
  Slack    POST /slack/services/T       (the URL is the secret) {"text": ...}, answers "ok"
  webhook  POST /hook                X-Gitgate-Signature: sha256=HMAC(T, body)
checks the credential and the JSON body against each one's schema, and
appends one JSON line per request to the log: {"kind", "path", "status",
"body", "error", "headers"}. A request that fails a check is answered 401 or
422 and logged with its error.

The mode file (re-read on every request) says how to answer: "ok" (the
documented 201/200), "500", "hostile" / "badbytes" (500 with HOSTILE_REASON /
BADBYTES_REASON as the status
line's reason phrase), or "hang" (never answer). Usage:
  report_forge.py PORTFILE LOG MODEFILE TOKEN [CERT KEY]
PORTFILE gets the port once listening (port 0: any free one).
"""
import hashlib
import os
import hmac
import json
import re
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTFILE, LOG, MODEFILE, TOKEN = sys.argv[1:5]
CERT = sys.argv[5] if len(sys.argv) > 6 else None
KEY = sys.argv[6] if len(sys.argv) > 6 else None
LOCK = threading.Lock()
SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# What a hostile or broken forge can put in its status line: an ANSI "erase
# display", a bell, a lone carriage return and a C1 CSI (U+009B, as UTF-8);
# written to the wire as these bytes (latin-1 of each character).
HOSTILE_REASON = "Down\x1b[2J\x07\rX\xc2\x9b31m"
# Bytes that are no UTF-8 at all: a lone C1 CSI byte and 0xff.
BADBYTES_REASON = "Down\x9b31mX\xff"


def status_schema(allowed_states, label):
    """Required state and label; optional description (<= 140) and target_url."""
    def check(body):
        if not isinstance(body, dict):
            return "body is not an object"
        extra = set(body) - {"state", label, "description", "target_url", "ref"}
        if extra:
            return "unknown fields %s" % sorted(extra)
        if body.get("state") not in allowed_states:
            return "state %r not one of %s" % (body.get("state"), allowed_states)
        if not isinstance(body.get(label), str) or not body[label]:
            return "%s missing" % label
        d = body.get("description")
        if d is not None and (not isinstance(d, str) or len(d) > 140):
            return "description not a string of at most 140 characters"
        u = body.get("target_url")
        if u is not None and not (isinstance(u, str) and u.startswith(("http://", "https://"))):
            return "target_url not a URL"
        if "ref" in body and label != "name":
            return "ref is GitLab's"
        return None
    return check


GITHUB = status_schema(["error", "failure", "pending", "success"], "context")
GITEA = status_schema(["pending", "success", "error", "failure", "warning"], "context")
GITLAB = status_schema(["pending", "running", "success", "failed", "canceled", "skipped"], "name")
WEBHOOK_FIELDS = {"event", "target", "deployment", "state", "at", "source", "repository", "ref",
                  "before", "after", "commit", "pusher", "delivery", "attempt", "reason",
                  "exit_status", "duration_ms"}
STATES = {"queued", "running", "succeeded", "failed", "timed_out", "superseded", "canceled",
          "refused"}


def bitbucket(states):
    """key, state, url required; name and description optional (Cloud and Data Center)."""
    def check(body):
        if not isinstance(body, dict):
            return "body is not an object"
        extra = set(body) - {"key", "state", "url", "name", "description", "refname",
                             "buildNumber", "duration", "lastUpdated"}
        if extra:
            return "unknown fields %s" % sorted(extra)
        if body.get("state") not in states:
            return "state %r not one of %s" % (body.get("state"), states)
        if not isinstance(body.get("key"), str) or not body["key"] or len(body["key"]) > 255:
            return "key missing"
        if not (isinstance(body.get("url"), str) and body["url"].startswith(("http://", "https://"))):
            return "url missing"
        return None
    return check


DEPLOYMENTS = {}  # GitHub deployment id -> (sha, environment)


def github_deployment(body):
    if not isinstance(body, dict):
        return "body is not an object"
    extra = set(body) - {"ref", "environment", "task", "description", "auto_merge",
                         "required_contexts", "payload", "transient_environment",
                         "production_environment"}
    if extra:
        return "unknown fields %s" % sorted(extra)
    if not SHA.match(str(body.get("ref"))) or not isinstance(body.get("environment"), str):
        return "ref and environment are required"
    if body.get("auto_merge") is not False or body.get("required_contexts") != []:
        return "auto_merge false and required_contexts [] keep GitHub from merging or waiting"
    return None


def github_deployment_status(body):
    if not isinstance(body, dict):
        return "body is not an object"
    extra = set(body) - {"state", "environment", "description", "log_url", "target_url",
                         "environment_url", "auto_inactive"}
    if extra:
        return "unknown fields %s" % sorted(extra)
    if body.get("state") not in ("error", "failure", "inactive", "in_progress", "queued",
                                 "pending", "success"):
        return "state %r" % body.get("state")
    d = body.get("description")
    if d is not None and (not isinstance(d, str) or len(d) > 140):
        return "description not a string of at most 140 characters"
    return None


def slack(body):
    if not isinstance(body, dict) or set(body) != {"text"} or not isinstance(body["text"], str):
        return "an incoming webhook takes {\"text\": ...}"
    if re.search(r"<[!@#]", body["text"]):
        return "an unescaped mention or link: %r" % body["text"]
    return None


def webhook(body):
    if not isinstance(body, dict) or set(body) != WEBHOOK_FIELDS:
        return "fields differ: %s" % sorted(set(body) ^ WEBHOOK_FIELDS)
    if body["event"] != "deployment" or body["state"] not in STATES:
        return "bad event or state"
    if not isinstance(body["deployment"], int) or not isinstance(body["at"], int):
        return "deployment and at are integers"
    return None


ROUTES = [
    (re.compile(r"^/gh/repos/([^/]+)/([^/]+)/deployments$"), "github-deployment",
     github_deployment, 201),
    (re.compile(r"^/gh/repos/([^/]+)/([^/]+)/deployments/([0-9]+)/statuses$"),
     "github-deployment-status", github_deployment_status, 201),
    (re.compile(r"^/gh/repos/([^/]+)/([^/]+)/statuses/([^/]+)$"), "github", GITHUB, 201),
    (re.compile(r"^/gitea/api/v1/repos/([^/]+)/([^/]+)/statuses/([^/]+)$"), "gitea", GITEA, 201),
    (re.compile(r"^/forgejo/api/v1/repos/([^/]+)/([^/]+)/statuses/([^/]+)$"), "forgejo", GITEA,
     201),
    (re.compile(r"^/gl/api/v4/projects/([^/]+)/statuses/([^/]+)$"), "gitlab", GITLAB, 201),
    (re.compile(r"^/bb/2\.0/repositories/([^/]+)/([^/]+)/commit/([^/]+)/statuses/build$"),
     "bitbucket", bitbucket(["INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"]), 201),
    (re.compile(r"^/bbdc/rest/api/latest/projects/([^/]+)/repos/([^/]+)/commits/([^/]+)/builds$"),
     "bitbucket-datacenter",
     bitbucket(["INPROGRESS", "SUCCESSFUL", "FAILED", "CANCELLED", "UNKNOWN"]), 204),
    (re.compile(r"^/slack/services/([^/]+)$"), "slack", slack, 200),
    (re.compile(r"^/hook$"), "webhook", webhook, 200),
]


def authorized(kind, headers, raw, path):
    if kind.startswith("github"):
        return (headers.get("Authorization") == "Bearer " + TOKEN and
                headers.get("Accept") == "application/vnd.github+json" and
                bool(headers.get("User-Agent")))
    if kind in ("gitea", "forgejo"):
        return headers.get("Authorization") == "token " + TOKEN
    if kind in ("bitbucket", "bitbucket-datacenter"):
        return headers.get("Authorization") == "Bearer " + TOKEN
    if kind == "slack":
        return path == "/slack/services/" + TOKEN
    if kind == "gitlab":
        return headers.get("PRIVATE-TOKEN") == TOKEN
    want = "sha256=" + hmac.new(TOKEN.encode(), raw, hashlib.sha256).hexdigest()
    return (hmac.compare_digest(headers.get("X-Gitgate-Signature", ""), want) and
            bool(headers.get("X-Gitgate-Delivery")))


def mode():
    try:
        with open(MODEFILE) as f:
            return f.read().strip() or "ok"
    except OSError:
        return "ok"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, doc, reason=None):
        data = json.dumps(doc).encode()
        self.send_response(code, reason)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n) if n else b""
        m = mode()
        path = urllib.parse.urlsplit(self.path).path
        entry = {"path": path, "kind": None, "status": None, "error": None, "body": None,
                 "headers": {k: v for k, v in self.headers.items()
                             if k.lower() in ("x-gitgate-delivery", "x-gitgate-event",
                                              "content-type", "host")}}
        if m == "hang":
            entry["status"] = "hang"
            self.log(entry)
            time.sleep(3600)
            return
        for rx, kind, check, ok in ROUTES:
            match = rx.match(path)
            if match:
                break
        else:
            entry["error"] = "no such endpoint"
            self.log(entry)
            return self.answer(404, {"message": "Not Found"})
        entry["kind"] = kind
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        entry["body"] = body
        if kind == "github-deployment-status":
            with LOCK:
                known = DEPLOYMENTS.get(int(match.group(3)))
            if known is None:
                entry["status"] = 404
                entry["error"] = "no such deployment"
                self.log(entry)
                return self.answer(404, {"message": "Not Found"})
            entry["repo"] = match.group(1) + "/" + match.group(2)
            entry["sha"], entry["environment"] = known
            entry["deployment_id"] = int(match.group(3))
        elif kind == "github-deployment":
            entry["repo"] = match.group(1) + "/" + match.group(2)
            entry["sha"] = body.get("ref") if isinstance(body, dict) else None
        elif kind not in ("webhook", "slack"):
            sha = match.groups()[-1]
            repo = (urllib.parse.unquote(match.group(1)) if kind == "gitlab"
                    else match.group(1) + "/" + match.group(2))
            entry["repo"], entry["sha"] = repo, sha
            if not SHA.match(sha):
                entry["error"] = "not a commit id"
        if self.headers.get("Content-Type") != "application/json":
            entry["error"] = "content type is not application/json"
        if not authorized(kind, self.headers, raw, path):
            entry["status"] = 401
            entry["error"] = "bad credentials"
            self.log(entry)
            return self.answer(401, {"message": "Bad credentials"})
        entry["error"] = entry["error"] or (check(body) if body is not None else "not JSON")
        if entry["error"]:
            entry["status"] = 422
            self.log(entry)
            return self.answer(422, {"message": entry["error"]})
        if m == "500":
            entry["status"] = 500
            self.log(entry)
            return self.answer(500, {"message": "down for maintenance"})
        if m == "hostile":
            entry["status"] = 500
            self.log(entry)
            return self.answer(500, {"message": "down"}, HOSTILE_REASON)
        if m == "badbytes":
            entry["status"] = 500
            self.log(entry)
            return self.answer(500, {"message": "down"}, BADBYTES_REASON)
        entry["status"] = ok
        if kind == "github-deployment":
            with LOCK:
                new_id = 1000 + len(DEPLOYMENTS)
                DEPLOYMENTS[new_id] = (body["ref"], body["environment"])
            entry["deployment_id"] = new_id
            self.log(entry)
            return self.answer(201, {"id": new_id, "sha": body["ref"],
                                     "environment": body["environment"]})
        self.log(entry)
        if ok == 204:
            self.send_response(204)
            self.send_header("Connection", "close")
            self.end_headers()
            return
        if kind == "slack":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"ok")
            return
        return self.answer(ok, {"id": 1})

    def log(self, entry):
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", int(os.environ.get("FORGE_PORT", "0"))), Handler)
if CERT:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
