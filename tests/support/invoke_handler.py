"""Call a Python bundle's Lambda handler the way Lambda does, one event after another, in one
single-threaded process (qemu-user in the test sandbox can't start a second thread).

    python3 -I -S invoke_handler.py BUNDLE_DIR EVENT [EVENT ...]

EVENT is a function URL event (payload 2.0) as JSON, `@FILE` holding one, or a shorthand
`METHOD /path?query` that builds a minimal event. Each response is printed as one JSON line on
stdout; the app's own prints and logs go to stderr. Only the standard library and the bundle
are importable: site-packages are dropped from sys.path so nothing leaks in from the host.
"""

import base64
import json
import os
import sys
import time


def shorthand_event(spec):
    method, _, target = spec.partition(" ")
    path, _, query = target.partition("?")
    now = int(time.time() * 1000)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path or "/",
        "rawQueryString": query,
        "headers": {
            "host": "abcdefghij.lambda-url.us-east-1.on.aws",
            "user-agent": "invoke_handler",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            "x-forwarded-for": "127.0.0.1",
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method.upper(),
                "path": path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "invoke_handler",
            },
            "requestId": "req-0",
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": now,
        },
        "isBase64Encoded": False,
    }


def load_event(arg):
    if arg.startswith("@"):
        with open(arg[1:], encoding="utf-8") as f:
            return json.load(f)
    if arg.lstrip().startswith("{"):
        return json.loads(arg)
    return shorthand_event(arg)


class Context:
    function_name = "deploy-action-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:deploy-action-test"
    memory_limit_in_mb = 512
    aws_request_id = "req-0"
    log_group_name = "/aws/lambda/deploy-action-test"
    log_stream_name = "test"

    def __init__(self, n):
        self.aws_request_id = f"req-{n}"
        self._deadline = time.time() + 30

    def get_remaining_time_in_millis(self):
        return int(max(0.0, self._deadline - time.time()) * 1000)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    bundle = os.path.abspath(sys.argv[1])
    events = [load_event(a) for a in sys.argv[2:]]
    sys.path = [bundle] + [p for p in sys.path if "-packages" not in p and p not in ("", ".")]
    os.chdir(bundle)
    os.environ.setdefault("LAMBDA_TASK_ROOT", bundle)
    os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", Context.function_name)
    os.environ.setdefault("AWS_REGION", "us-east-1")
    out = sys.stdout
    sys.stdout = sys.stderr
    started = time.monotonic()
    import deploy_action_handler

    init_ms = (time.monotonic() - started) * 1000
    print(f"invoke_handler: init {init_ms:.0f} ms, {deploy_action_handler.KIND}", file=sys.stderr)
    for n, event in enumerate(events):
        response = deploy_action_handler.handler(event, Context(n))
        out.write(json.dumps(response, sort_keys=True) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
