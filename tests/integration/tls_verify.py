#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""TLS verification is always on for AWS, printing TAP.

1. Dynamic: the real AWS client (tests/aws_driver: aws_query over httpc)
   calls an https:// CloudWatch endpoint on loopback whose certificate is
   self-signed. The call must fail as a certificate problem, and no HTTP
   request may reach the server (the handshake is refused before the
   signed request is sent).
2. Static: in src/, certificate verification is only ever switched off in
   httpc.c behind httpc_opts.insecure, and only check_http.c (the http
   check's own "insecure" key, for the application's endpoint) sets that;
   no AWS, IMDS or credentials module does. IMDS GETs always carry the
   session token (IMDSv1 is never used; secrets_grep.py also asserts that
   the emulator saw no unauthenticated GET).

Needs $top_builddir (tests/aws_driver), $top_srcdir and openssl(1).
Every address is on loopback.
"""

import glob
import http.server
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok  # noqa: E402

DRIVER = A.require(healthagent=False, driver=True)
if shutil.which("openssl") is None:
    A.bail("required tool 'openssl' is not installed")
T = A.tmpdir()
hits = []


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def dynamic():
    crt, key = os.path.join(T, "crt.pem"), os.path.join(T, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", crt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        A.bail("openssl req failed: " + r.stderr[-300:])
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "https://127.0.0.1:%d" % srv.server_address[1]
    env = dict(A.clean_env(), AWS_ENDPOINT_URL=url, AWS_REGION=A.REGION,
               AWS_EC2_METADATA_DISABLED="true",
               AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
               AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
               # what would make curl or OpenSSL trust it, if anything did
               SSL_CERT_FILE=crt, CURL_CA_BUNDLE=crt, SSL_CERT_DIR=T)
    p = subprocess.run([DRIVER, "-n", "1", "cloudwatch", "PutMetricData",
                        "Namespace=HATest/TLS",
                        "MetricData.member.1.MetricName=m",
                        "MetricData.member.1.Value=1"],
                       env=env, capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    ok(p.returncode == 1, "PutMetricData to a self-signed https endpoint "
       "fails (exit %d)" % p.returncode, out)
    ok(re.search(r"certificate|SSL|TLS", out, re.I) is not None,
       "as a certificate problem: %s" %
       (re.search(r"message=(.*)", out) or re.search(r"(.*)", out)).group(1),
       out)
    ok(not hits, "no HTTP request reached the server (%d)" % len(hits))
    srv.shutdown()


def static():
    src = os.path.join(A.SRCDIR, "src")
    verify, insecure = [], []
    for f in sorted(glob.glob(os.path.join(src, "*.c"))):
        name = os.path.basename(f)
        with open(f) as fh:
            text = fh.read()
        if re.search(r"CURLOPT_SSL_VERIFY(PEER|HOST)", text):
            verify.append(name)
        if re.search(r"\binsecure\s*=(?!=)", text):
            insecure.append(name)
    ok(verify == ["httpc.c"],
       "only httpc.c touches CURLOPT_SSL_VERIFY* (%s)" % " ".join(verify))
    with open(os.path.join(src, "httpc.c")) as fh:
        h = fh.read()
    ok(re.search(r"if \(o->insecure\) \{\s*SET\(CURLOPT_SSL_VERIFYPEER, 0L\);"
                 r"\s*SET\(CURLOPT_SSL_VERIFYHOST, 0L\);\s*\}", h) and
       len(re.findall(r"CURLOPT_SSL_VERIFY", h)) == 2,
       "httpc.c turns verification off only behind httpc_opts.insecure")
    ok(insecure == ["check_http.c"],
       "only check_http.c sets insecure (%s)" % " ".join(insecure))
    with open(os.path.join(src, "imds.c")) as fh:
        m = fh.read()
    gets = re.findall(r'o\.method = "GET"', m)
    ok(len(gets) == 1 and "X-aws-ec2-metadata-token: %s" in m,
       "imds.c has one GET, and it carries the session token")


def main():
    dynamic()
    static()


A.run(main)
