#!/usr/bin/env python3
"""A one-shot Lambda Runtime API on 127.0.0.1, for checking a `bootstrap` by hand.

It hands out one function-URL (payload v2.0) event on /2018-06-01/runtime/invocation/next and
prints what the function posts back to .../response as one JSON line on stdout; exit 0. A post
to .../error or /init/error is printed too, with exit 1; so is a timeout.

    runtime_api_once.py [--path /echo] [--query a=1] [--method POST] [--body TEXT] \
        [--header 'x-k: v'] [--cookie a=b] [--binary] [--timeout 60] -- CMD [ARG...]

runs CMD with AWS_LAMBDA_RUNTIME_API (and the other variables a runtime reads) pointing here,
and stops it after the one invocation. Without CMD it prints the address on stderr and waits
for a runtime started by hand. Standard library only.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

PREFIX = "/2018-06-01/runtime"


def function_url_event(args):
    """The event Lambda sends for a function URL request (payload format 2.0)."""
    headers = {"host": "abcdefghijklmnop.lambda-url.us-east-1.on.aws", "user-agent": "runtime_api_once"}
    for h in args.header:
        name, _, value = h.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = args.body
    is_b64 = False
    if body is not None and args.binary:
        body = base64.b64encode(body.encode()).decode()
        is_b64 = True
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": args.path,
        "rawQueryString": args.query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnop",
            "domainName": headers["host"],
            "domainPrefix": "abcdefghijklmnop",
            "http": {
                "method": args.method,
                "path": args.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers["user-agent"],
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_b64,
    }
    if args.cookie:
        event["cookies"] = args.cookie
    if args.query:
        params = {}
        for k, v in parse_qsl(args.query, keep_blank_values=True):
            # Lambda joins repeated parameters with commas.
            params[k] = f"{params[k]},{v}" if k in params else v
        event["queryStringParameters"] = params
    if body is not None:
        event["body"] = body
    return event


def serve(event, timeout):
    request_id = str(uuid.uuid4())
    done = threading.Event()
    outcome = {}
    handed_out = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):  # keep stdout for the result only
            pass

        def _reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path != f"{PREFIX}/invocation/next":
                return self._reply(404)
            if handed_out.is_set():
                # A runtime asks for its next event right after answering: park it until exit.
                done.wait()
                time.sleep(3600)
                return
            handed_out.set()
            deadline = int((time.time() + timeout) * 1000)
            self._reply(
                200,
                json.dumps(event).encode(),
                [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn",
                     "arn:aws:lambda:us-east-1:123456789012:function:hello-dev:live"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ],
            )

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length)
            if self.path == f"{PREFIX}/invocation/{request_id}/response":
                outcome.update(kind="response", body=data)
            elif self.path in (f"{PREFIX}/invocation/{request_id}/error", f"{PREFIX}/init/error"):
                outcome.update(kind="error", body=data)
            else:
                return self._reply(404)
            self._reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
            done.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, done, outcome


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--path", default="/")
    p.add_argument("--query", default="")
    p.add_argument("--method", default="GET")
    p.add_argument("--body")
    p.add_argument("--binary", action="store_true", help="send the body base64-encoded")
    p.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'")
    p.add_argument("--cookie", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command

    server, done, outcome = serve(function_url_event(args), args.timeout)
    address = f"127.0.0.1:{server.server_address[1]}"
    child = None
    if cmd:
        env = dict(os.environ)
        env.update(
            AWS_LAMBDA_RUNTIME_API=address,
            AWS_LAMBDA_FUNCTION_NAME="hello-dev",
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
            AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/hello-dev",
            AWS_LAMBDA_LOG_STREAM_NAME="local",
            AWS_REGION=env.get("AWS_REGION", "us-east-1"),
        )
        child = subprocess.Popen(cmd, env=env, stdout=sys.stderr)
    else:
        print(f"AWS_LAMBDA_RUNTIME_API={address}", file=sys.stderr, flush=True)

    start = time.time()
    while not done.wait(0.1):
        if child is not None and child.poll() is not None:
            print(f"runtime exited with {child.returncode} before answering", file=sys.stderr)
            return 1
        if time.time() - start > args.timeout:
            print(f"no answer within {args.timeout} s", file=sys.stderr)
            if child is not None:
                child.kill()
            return 1
    if child is not None:
        child.kill()
        child.wait()
    body = outcome["body"].decode("utf-8", "replace")
    print(body, flush=True)
    return 0 if outcome["kind"] == "response" else 1


if __name__ == "__main__":
    sys.exit(main())
