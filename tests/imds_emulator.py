#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A small IMDSv2 emulator for healthagent's tests (stdlib only).

It listens on loopback only and behaves like the EC2 instance metadata
service with HttpTokens=required:

  PUT /latest/api/token            X-aws-ec2-metadata-token-ttl-seconds: 1..21600
                                   (else 400); X-Forwarded-For -> 403; the reply
                                   is the token and echoes the TTL header
  GET /latest/...                  needs X-aws-ec2-metadata-token (missing,
                                   unknown or expired -> 401)

Paths under /latest/: meta-data/ (a listing), meta-data/instance-id,
meta-data/instance-type, meta-data/placement/region,
meta-data/placement/availability-zone, meta-data/iam/security-credentials/
(the role name; 404 without a role), meta-data/iam/security-credentials/<role>
(the credentials JSON), dynamic/instance-identity/document,
meta-data/autoscaling/target-lifecycle-state, meta-data/spot/instance-action
and meta-data/events/recommendations/rebalance (404 until set).

Container credentials (for AWS_CONTAINER_CREDENTIALS_FULL_URI tests):
  GET /_container/credentials      the same JSON without Code/Type/LastUpdated;
                                   if "container_auth" is set, the
                                   Authorization header must equal it (else 401)

Control interface (no token needed, never affected by fault modes):
  GET  /_control                   the current state as JSON
  GET  /_control/stats             request counts: {"total", "paths": {path: n},
                                   "requests": {"METHOD path": n},
                                   "status": {"200": n}, "tokens_issued",
                                   "unauthorized"}
  POST /_control                   a JSON object merged into the state; a null
                                   value restores that key's default (but
                                   "role": null means no role). Besides
                                   the state keys below it accepts the actions
                                   "expire_tokens": true (forget every token),
                                   "reset_stats": true, "rotate": true (new
                                   random AccessKeyId/SecretAccessKey/Token) and
                                   "reset": true (all defaults).
  With --state-file FILE, the file (a JSON object, same keys) is merged into
  the state whenever its mtime changes, checked on every request.

State keys (defaults in DEFAULTS below):
  instance_id, region, availability_zone, instance_type, account_id, image_id,
  private_ip                         identity values served as-is (so tests can
                                     serve garbage)
  role                               role name; null, false or "" = no role
                                     attached (the listing answers 404)
  access_key_id, secret_access_key, token
  expiration_seconds                 Expiration = now + N at each request
  expiration                         a fixed Expiration string (wins if set)
  creds_error                        {"Code": ..., "Message": ...}: the
                                     credentials path answers 200 with it
  container_auth                     expected Authorization for /_container/
  mode                               "ok", "down" (close every connection
                                     without a reply), "hang" (answer nothing
                                     for hang_seconds, or until mode changes),
                                     "error" (answer error_status)
  error_status                       status for mode "error" (default 500)
  delay_seconds                      answer every request (except /_control)
                                     this much later (a slow IMDS; default 0)
  hang_seconds                       default 30
  fail_paths                         {"meta-data/instance-id": 500, ...}:
                                     per-path status (path under /latest/,
                                     "api/token" for the PUT)
  token_ttl_cap                      grant min(requested, cap) seconds and
                                     echo the granted TTL (null = no cap)
  lifecycle_state                    target-lifecycle-state word, or null
  spot_action                        {"action": "terminate", "time": "..."}
                                     (or a string served verbatim), or null
  rebalance                          {"noticeTime": "..."} or null

Usage: imds_emulator.py [--port N] [--port-file F] [--bind 127.0.0.1]
                        [--state-file F] [--set JSON] [--watch-pid PID]
                        [--max-lifetime S] [--verbose] [PORT]
The chosen port is printed on stdout ("PORT 12345") and, with --port-file,
written (atomically) to that file.
"""

import argparse
import copy
import ipaddress
import json
import os
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_TTL = 21600

DEFAULTS = {
    "instance_id": "i-0123456789abcdef0",
    "region": "us-east-1",
    "availability_zone": "us-east-1a",
    "instance_type": "t3.micro",
    "account_id": "123456789012",
    "image_id": "ami-0abcdef1234567890",
    "private_ip": "10.0.0.10",
    "role": "healthagent-test-role",
    "access_key_id": "ASIAEMULATOR00000001",
    "secret_access_key": "emulatorSecretKey0000000000000000000000001",
    "token": "emulatorSessionToken0000000001",
    "expiration_seconds": 21600,
    "expiration": None,
    "creds_error": None,
    "container_auth": None,
    "mode": "ok",
    "error_status": 500,
    "delay_seconds": 0,
    "hang_seconds": 30,
    "fail_paths": {},
    "token_ttl_cap": None,
    "lifecycle_state": None,
    "spot_action": None,
    "rebalance": None,
}

ACTIONS = ("expire_tokens", "reset_stats", "rotate", "reset")


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class Emulator:
    def __init__(self, state_file=None):
        self.lock = threading.Condition()
        self.state = copy.deepcopy(DEFAULTS)
        self.tokens = {}  # token -> monotonic expiry
        self.state_file = state_file
        self.state_mtime = None
        self.started = time.time()
        self.reset_stats()

    def reset_stats(self):
        self.stats = {
            "total": 0,
            "paths": {},
            "requests": {},
            "status": {},
            "tokens_issued": 0,
            "unauthorized": 0,
        }

    def count(self, method, path):
        with self.lock:
            s = self.stats
            s["total"] += 1
            s["paths"][path] = s["paths"].get(path, 0) + 1
            k = method + " " + path
            s["requests"][k] = s["requests"].get(k, 0) + 1

    def count_status(self, code):
        with self.lock:
            k = str(code)
            self.stats["status"][k] = self.stats["status"].get(k, 0) + 1
            if code == 401:
                self.stats["unauthorized"] += 1

    def apply(self, obj):
        """Merge a control object; returns an error string or None."""
        if not isinstance(obj, dict):
            return "control body must be a JSON object"
        for k in obj:
            if k not in DEFAULTS and k not in ACTIONS:
                return "unknown control key %r" % k
        with self.lock:
            if obj.get("reset"):
                self.state = copy.deepcopy(DEFAULTS)
            for k, v in obj.items():
                if k in ACTIONS:
                    continue
                if v is None and k != "role":
                    v = copy.deepcopy(DEFAULTS[k])
                self.state[k] = v
            if obj.get("expire_tokens"):
                self.tokens.clear()
            if obj.get("reset_stats"):
                self.reset_stats()
            if obj.get("rotate"):
                n = secrets.token_hex(8).upper()
                self.state["access_key_id"] = "ASIA" + n
                self.state["secret_access_key"] = secrets.token_urlsafe(30)
                self.state["token"] = secrets.token_urlsafe(60)
            self.lock.notify_all()
        return None

    def reread_state_file(self):
        if not self.state_file:
            return
        try:
            st = os.stat(self.state_file)
        except OSError:
            return
        if st.st_mtime_ns == self.state_mtime:
            return
        self.state_mtime = st.st_mtime_ns
        try:
            with open(self.state_file, encoding="utf-8") as f:
                obj = json.load(f)
        except (OSError, ValueError) as e:
            sys.stderr.write("imds_emulator: state file: %s\n" % e)
            return
        err = self.apply(obj)
        if err:
            sys.stderr.write("imds_emulator: state file: %s\n" % err)

    def snapshot(self):
        with self.lock:
            return copy.deepcopy(self.state)

    def new_token(self, ttl):
        tok = secrets.token_urlsafe(42)
        with self.lock:
            now = time.monotonic()
            for t in [t for t, e in self.tokens.items() if e <= now]:
                del self.tokens[t]
            self.tokens[tok] = now + ttl
            self.stats["tokens_issued"] += 1
        return tok

    def token_ok(self, tok):
        with self.lock:
            e = self.tokens.get(tok)
            return e is not None and e > time.monotonic()

    def creds_doc(self, st, container=False):
        exp = st["expiration"]
        if exp is None:
            exp = iso(time.time() + float(st["expiration_seconds"]))
        doc = {}
        if not container:
            doc.update(Code="Success", LastUpdated=iso(time.time()),
                       Type="AWS-HMAC")
        doc.update(AccessKeyId=st["access_key_id"],
                   SecretAccessKey=st["secret_access_key"],
                   Token=st["token"], Expiration=exp)
        if container:
            doc["RoleArn"] = ("arn:aws:iam::%s:role/%s"
                              % (st["account_id"], st["role"] or "task"))
        return doc


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle and the
    # client's delayed ACK add 40 ms to every reply.
    disable_nagle_algorithm = True
    emu = None  # set in main()
    verbose = False

    def version_string(self):
        return "EC2ws"

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("imds_emulator: " + (fmt % args) + "\n")

    # -- plumbing

    def reply(self, code, body=b"", ctype="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.emu.count_status(code)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json_reply(self, code, obj, headers=()):
        self.reply(code, json.dumps(obj, indent=2), "application/json", headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def fault(self, st, sub):
        """Apply mode and fail_paths; True if the request was handled."""
        mode = st["mode"]
        if mode == "down":
            self.emu.count_status(0)
            self.close_connection = True
            return True
        if mode == "hang":
            deadline = time.monotonic() + float(st["hang_seconds"])
            with self.emu.lock:
                while (self.emu.state["mode"] == "hang"
                       and time.monotonic() < deadline):
                    self.emu.lock.wait(0.1)
            self.close_connection = True
            return True
        if mode == "error":
            self.reply(int(st["error_status"]), "Internal Server Error\n")
            return True
        fp = st.get("fail_paths") or {}
        if sub in fp:
            self.reply(int(fp[sub]), "injected failure\n")
            return True
        return False

    # -- control

    def control(self):
        path = self.path.split("?", 1)[0]
        if self.command == "GET" and path == "/_control":
            self.json_reply(200, self.emu.snapshot())
        elif self.command == "GET" and path == "/_control/stats":
            with self.emu.lock:
                s = copy.deepcopy(self.emu.stats)
            self.json_reply(200, s)
        elif self.command == "POST" and path == "/_control":
            try:
                obj = json.loads(self.read_body() or b"{}")
            except ValueError as e:
                self.json_reply(400, {"error": "bad JSON: %s" % e})
                return
            err = self.emu.apply(obj)
            if err:
                self.json_reply(400, {"error": err})
            else:
                self.json_reply(200, self.emu.snapshot())
        else:
            self.json_reply(404, {"error": "unknown control request"})

    # -- the service

    def handle_any(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/_control"):
            self.control()
            return
        self.emu.reread_state_file()
        self.emu.count(self.command, path)
        st = self.emu.snapshot()
        if float(st.get("delay_seconds") or 0) > 0:
            time.sleep(float(st["delay_seconds"]))
        if self.command in ("PUT", "POST"):
            self.read_body()
        if path == "/_container/credentials":
            if self.fault(st, "_container/credentials"):
                return
            self.container(st)
            return
        if not path.startswith("/latest/"):
            # Versioned paths exist on EC2, but the token only works
            # under /latest/; a PUT elsewhere is 403 there too.
            self.reply(403 if self.command == "PUT" else 404, "Not Found\n")
            return
        sub = path[len("/latest/"):]
        if self.fault(st, sub):
            return
        if sub == "api/token":
            self.token(st)
            return
        if self.command not in ("GET", "HEAD"):
            self.reply(405, "Method Not Allowed\n")
            return
        tok = self.headers.get("X-aws-ec2-metadata-token")
        if not tok or not self.emu.token_ok(tok):
            self.reply(401, "Unauthorized\n")
            return
        self.metadata(st, sub)

    def token(self, st):
        if self.command != "PUT":
            self.reply(405, "Method Not Allowed\n")
            return
        if self.headers.get("X-Forwarded-For") is not None:
            self.reply(403, "Forbidden\n")
            return
        raw = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        try:
            ttl = int(raw)
        except (TypeError, ValueError):
            ttl = 0
        if ttl < 1 or ttl > MAX_TTL:
            self.reply(400, "Bad Request\n")
            return
        cap = st.get("token_ttl_cap")
        if cap is not None:
            ttl = max(1, min(ttl, int(cap)))
        tok = self.emu.new_token(ttl)
        self.reply(200, tok, headers=[
            ("X-aws-ec2-metadata-token-ttl-seconds", str(ttl))])

    def metadata(self, st, sub):
        md = {
            "meta-data/instance-id": st["instance_id"],
            "meta-data/instance-type": st["instance_type"],
            "meta-data/ami-id": st["image_id"],
            "meta-data/local-ipv4": st["private_ip"],
            "meta-data/placement/region": st["region"],
            "meta-data/placement/availability-zone": st["availability_zone"],
        }
        if sub in md:
            self.reply(200, str(md[sub]))
            return
        if sub in ("meta-data", "meta-data/"):
            names = ["ami-id", "autoscaling/", "events/", "iam/",
                     "instance-id", "instance-type", "local-ipv4",
                     "placement/", "spot/"]
            self.reply(200, "\n".join(names))
            return
        if sub in ("meta-data/iam/security-credentials",
                   "meta-data/iam/security-credentials/"):
            if not st["role"]:
                self.reply(404, "Not Found\n")
            else:
                self.reply(200, st["role"])
            return
        pre = "meta-data/iam/security-credentials/"
        if sub.startswith(pre):
            role = sub[len(pre):]
            if not st["role"] or role != st["role"]:
                self.reply(404, "Not Found\n")
            elif st["creds_error"] is not None:
                body = st["creds_error"]
                if isinstance(body, dict):
                    body = dict(body)
                    body.setdefault("LastUpdated", iso(time.time()))
                    body = json.dumps(body, indent=2)
                self.reply(200, body)
            else:
                self.reply(200, json.dumps(self.emu.creds_doc(st), indent=2))
            return
        if sub == "dynamic/instance-identity/document":
            doc = {
                "accountId": st["account_id"],
                "architecture": "x86_64",
                "availabilityZone": st["availability_zone"],
                "billingProducts": None,
                "devpayProductCodes": None,
                "marketplaceProductCodes": None,
                "imageId": st["image_id"],
                "instanceId": st["instance_id"],
                "instanceType": st["instance_type"],
                "kernelId": None,
                "pendingTime": iso(self.emu.started),
                "privateIp": st["private_ip"],
                "ramdiskId": None,
                "region": st["region"],
                "version": "2017-09-30",
            }
            self.reply(200, json.dumps(doc, indent=2))
            return
        optional = {
            "meta-data/autoscaling/target-lifecycle-state":
                st["lifecycle_state"],
            "meta-data/spot/instance-action": st["spot_action"],
            "meta-data/events/recommendations/rebalance": st["rebalance"],
        }
        if sub in optional:
            v = optional[sub]
            if v is None:
                self.reply(404, "Not Found\n")
            elif isinstance(v, str):
                self.reply(200, v)
            else:
                self.reply(200, json.dumps(v))
            return
        self.reply(404, "Not Found\n")

    def container(self, st):
        if self.command != "GET":
            self.reply(405, "Method Not Allowed\n")
            return
        want = st.get("container_auth")
        if want is not None and self.headers.get("Authorization") != want:
            self.json_reply(401, {"Code": "AccessDenied",
                                  "Message": "bad authorization token"})
            return
        if st["creds_error"] is not None:
            self.json_reply(400, st["creds_error"])
            return
        self.json_reply(200, self.emu.creds_doc(st, container=True))

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that gave up (curl timeout) is routine here.
        if Handler.verbose:
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="IMDSv2 emulator for tests")
    ap.add_argument("port_pos", nargs="?", type=int, metavar="PORT")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port-file")
    ap.add_argument("--state-file")
    ap.add_argument("--set", action="append", default=[],
                    help="JSON object merged into the initial state")
    ap.add_argument("--watch-pid", type=int,
                    help="exit when this process is gone")
    ap.add_argument("--max-lifetime", type=float, default=0,
                    help="exit after this many seconds (0 = never)")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()

    try:
        if not ipaddress.ip_address(a.bind).is_loopback:
            ap.error("--bind must be a loopback address")
    except ValueError:
        ap.error("--bind must be a numeric loopback address")
    port = a.port_pos if a.port_pos is not None else a.port

    emu = Emulator(a.state_file)
    for s in a.set:
        err = emu.apply(json.loads(s))
        if err:
            ap.error(err)
    emu.reread_state_file()
    Handler.emu = emu
    Handler.verbose = a.verbose

    if ":" in a.bind:
        Server.address_family = __import__("socket").AF_INET6
    srv = Server((a.bind, port), Handler)
    port = srv.server_address[1]

    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    print("PORT %d" % port, flush=True)

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def watchdog():
        t0 = time.monotonic()
        while True:
            time.sleep(0.5)
            if a.max_lifetime and time.monotonic() - t0 > a.max_lifetime:
                break
            if a.watch_pid:
                try:
                    os.kill(a.watch_pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
        stop()

    if a.watch_pid or a.max_lifetime:
        threading.Thread(target=watchdog, daemon=True).start()
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
