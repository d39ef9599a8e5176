"""Answer a Lambda Invoke by running the function's own code, for the fault proxy.

moto can't execute a function without Docker (its Invoke answers `FunctionError: Handled`), so
with the proxy knob `"invoke_mode": "run"` an Invoke that no `invoke` rule matches is answered
here, the way `deploy-action serve` runs an artifact:

1. GetFunction (at moto, for the resolved version) gives the configuration (handler, runtime,
   environment, timeout, CodeSha256, CodeSize). The code is the object in moto's S3 whose
   sha256 is the version's CodeSha256: first the key in `Code.Location` (moto 5.2.1 gives
   every version the *latest* S3 key there, since its versions share one code record), then
   any object of exactly CodeSize bytes. So a version runs exactly its own code.
2. The zip is unpacked once per CodeSha256 into a cache directory.
3. The handler runs in a fresh host `python3 -I -S` subprocess (standard library + the bundle
   only, single-threaded; bundles of pure-Python packages run on the host), with the
   function's environment and the variables Lambda sets, the event on stdin, and the
   function's timeout.

The answer is what Lambda answers a synchronous Invoke: the handler's JSON result, or for an
exception `X-Amz-Function-Error: Unhandled` with `{"errorMessage", "errorType", "stackTrace"}`
("Invoke", https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html), or for a timeout
`{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: ... Error: Task timed out after
N.00 seconds"}` (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html).
With `LogType: Tail` the last 4 KB of the log (START, what the function printed, END, REPORT)
come base64-encoded in `X-Amz-Log-Result`, as Lambda does.
"""

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import zipfile

# Lambda returns at most the last 4 KB of the log with LogType Tail (API_Invoke.html).
LOG_TAIL_BYTES = 4096

CACHE = os.path.join(tempfile.gettempdir(), f"deploy-action-invoke-runner-{os.getuid()}")


class RunError(Exception):
    """The function can't be run here (no code found); the proxy answers 500 with this."""


def _code(lookup, config, location):
    """The zip bytes of a version: the S3 object named by Code.Location whose sha256 is the
    version's CodeSha256."""
    want = config.get("CodeSha256")
    size = config.get("CodeSize")
    key = urllib.parse.unquote(urllib.parse.urlsplit(location or "").path.lstrip("/"))

    def texts(body, tag):
        return [el.text or "" for el in ET.fromstring(body).iter()
                if el.tag == tag or el.tag.endswith("}" + tag)]

    def fetch(bucket, k):
        reply = lookup(f"/{urllib.parse.quote(bucket)}/{urllib.parse.quote(k)}", "s3")
        if reply.ok and base64.b64encode(hashlib.sha256(reply.body).digest()).decode() == want:
            return reply.body
        return None

    buckets = texts(lookup("/", "s3").body, "Name")
    for bucket in buckets:
        if key and (data := fetch(bucket, key)) is not None:
            return data
    for bucket in buckets:
        listing = lookup(f"/{urllib.parse.quote(bucket)}?list-type=2&max-keys=1000", "s3")
        if not listing.ok:
            continue
        root = ET.fromstring(listing.body)
        for item in root.iter():
            if not (item.tag == "Contents" or item.tag.endswith("}Contents")):
                continue
            k = next((c.text for c in item if c.tag.endswith("Key")), None)
            n = next((c.text for c in item if c.tag.endswith("Size")), None)
            if k and n and int(n) == size and (data := fetch(bucket, k)) is not None:
                return data
    raise RunError(f"no object with CodeSha256 {want} ({size} bytes) in moto's buckets {buckets}")


def _bundle(lookup, config, location):
    """The unpacked code of a version, cached by CodeSha256."""
    sha = config.get("CodeSha256") or ""
    name = hashlib.sha256(sha.encode()).hexdigest()[:32]
    task = os.path.join(CACHE, name)
    if os.path.isdir(task):
        return task
    data = _code(lookup, config, location)
    os.makedirs(CACHE, exist_ok=True)
    staging = tempfile.mkdtemp(prefix="unpack-", dir=CACHE)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(staging)
    try:
        os.rename(staging, task)
    except OSError:  # another invocation unpacked the same code first
        shutil.rmtree(staging, ignore_errors=True)
    return task


def run(lookup, name, version, payload, region="us-east-1"):
    """Run version `version` of function `name` with the raw event `payload` (bytes).
    `lookup(path, service)` reads from moto. Returns (function_error or None, payload bytes,
    log text)."""
    path = f"/2015-03-31/functions/{urllib.parse.quote(name, safe='')}"
    if version and version != "$LATEST":
        path += "?Qualifier=" + urllib.parse.quote(version, safe="")
    got = lookup(path, "lambda")
    if not got.ok:
        raise RunError(f"GetFunction {name}:{version} answered {got.status}")
    info = got.json() or {}
    config = info.get("Configuration") or {}
    task = _bundle(lookup, config, (info.get("Code") or {}).get("Location"))
    timeout = float(config.get("Timeout") or 3)
    request_id = str(uuid.uuid4())
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": task,
        "_HANDLER": config.get("Handler") or "",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": config.get("Version") or version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize") or 128),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.get('Runtime') or 'python3.13'}",
        "DEPLOY_ACTION_INVOKE_REQUEST_ID": request_id,
        "DEPLOY_ACTION_INVOKE_ARN": config.get("FunctionArn") or name,
        "DEPLOY_ACTION_INVOKE_TIMEOUT": str(timeout),
    }
    env.update((config.get("Environment") or {}).get("Variables") or {})
    started = time.monotonic()
    log = f"START RequestId: {request_id} Version: {config.get('Version') or version}\n"
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), "--child"],
            input=payload or b"null", capture_output=True, env=env, cwd=task, timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        log += (e.stderr or b"").decode("utf-8", "replace")
        message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
        log += f"{message}\nEND RequestId: {request_id}\n"
        body = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
        return "Unhandled", body, log
    duration = (time.monotonic() - started) * 1000
    log += proc.stderr.decode("utf-8", "replace")
    log += f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\n"
    out = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        result = json.loads(out[-1]) if out else None
    except ValueError:
        result = None
    if not isinstance(result, dict) or "kind" not in result:
        body = json.dumps({"errorType": "Runtime.ExitError",
                           "errorMessage": f"RequestId: {request_id} Error: Runtime exited with status {proc.returncode}"})
        return "Unhandled", body.encode(), log
    if result["kind"] == "error":
        return "Unhandled", json.dumps(result["error"]).encode(), log
    return None, json.dumps(result["result"]).encode(), log


def log_tail(log):
    """X-Amz-Log-Result: the last 4 KB of the log, base64."""
    return base64.b64encode(log.encode()[-LOG_TAIL_BYTES:]).decode()


class _Context:
    def __init__(self):
        self.aws_request_id = os.environ.get("DEPLOY_ACTION_INVOKE_REQUEST_ID", "")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("DEPLOY_ACTION_INVOKE_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "invoke-runner"
        self._deadline = time.time() + float(os.environ.get("DEPLOY_ACTION_INVOKE_TIMEOUT", "3"))

    def get_remaining_time_in_millis(self):
        return int(max(0.0, self._deadline - time.time()) * 1000)


def _child():
    """In the subprocess: import the handler from the bundle (cwd) and call it once. The
    function's prints go to stderr (the log); the last stdout line is the result."""
    task = os.getcwd()
    sys.path = [task] + [p for p in sys.path if "-packages" not in p and p not in ("", ".")]
    out = sys.stdout
    sys.stdout = sys.stderr
    event = json.loads(sys.stdin.read() or "null")
    try:
        module, _, func = os.environ["_HANDLER"].rpartition(".")
        import importlib

        handler = getattr(importlib.import_module(module), func)
        result = {"kind": "result", "result": handler(event, _Context())}
    except BaseException as e:  # what the runtime interface client reports
        traceback.print_exc()
        result = {"kind": "error", "error": {
            "errorMessage": str(e), "errorType": type(e).__name__,
            "stackTrace": traceback.format_tb(e.__traceback__)}}
    out.write("\n" + json.dumps(result) + "\n")
    out.flush()


if __name__ == "__main__" and sys.argv[1:] == ["--child"]:
    _child()
