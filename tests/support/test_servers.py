#!/usr/bin/env python3
"""Self-test of the two test servers: fault_proxy.py (in front of a real moto) and fake_github.py.

    python3 tests/support/test_servers.py [-k SUBSTRING] [-v]

Needs boto3 and moto[server] (the project's pinned tools). Starts moto on a free loopback port,
the proxy in front of it and the fake GitHub, drives them with boto3 and urllib, and prints
`N passed, M failed`; exits non-zero on any failure.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
import zipfile

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

HERE = os.path.dirname(os.path.abspath(__file__))
ROLE = "arn:aws:iam::123456789012:role/x"
REGION = "us-east-1"
GH_TOKEN = "ghs_selftest_token_0123456789"
OIDC_REQUEST_TOKEN = "oidc-request-token-abc"
VERBOSE = "-v" in sys.argv


# ---------------------------------------------------------------------------------------
# Process helpers
# ---------------------------------------------------------------------------------------


def wait_http(url, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


class Proc:
    """A server started as a subprocess that announces `PORT <n>` on stdout."""

    def __init__(self, args, announce=True):
        self.args = args
        self.p = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=None if VERBOSE else subprocess.DEVNULL,
            text=True)
        self.port = None
        if announce:
            box = {}

            def read():
                box["line"] = self.p.stdout.readline()
            t = threading.Thread(target=read, daemon=True)
            t.start()
            t.join(20)
            line = box.get("line", "")
            if not line.startswith("PORT "):
                self.p.kill()
                raise RuntimeError(f"{args[1]} did not announce its port (got {line!r})")
            self.port = int(line.split()[1])

    def stop(self):
        """SIGTERM; returns (exit code, what it printed on stdout after the PORT line)."""
        self.p.terminate()
        try:
            code = self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            code = self.p.wait()
        rest = self.p.stdout.read() if self.p.stdout else ""
        return code, rest


def http(method, url, body=None, headers=None):
    """(status, headers, parsed JSON or raw bytes)."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, h, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, h, raw = e.code, e.headers, e.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw
    return status, h, parsed


def zip_bytes(content: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        # A fixed timestamp: the same content must give the same bytes (and CodeSha256).
        zf.writestr(zipfile.ZipInfo("bootstrap", (2020, 1, 1, 0, 0, 0)), content)
    return buf.getvalue()


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code")


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = error_code(e)
        assert got == code, f"expected {code}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}, call succeeded")


# ---------------------------------------------------------------------------------------
# Fixture: moto + proxy + fake GitHub
# ---------------------------------------------------------------------------------------


def start_moto():
    """moto on a port it binds itself (`-p 0`: nothing can take the port between a probe and
    the bind), learnt from werkzeug's `Running on http://127.0.0.1:<port>` line on stderr,
    which a thread keeps draining (werkzeug logs every request there)."""
    p = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found = threading.Event()
    box = {}

    def drain():
        for line in p.stderr:
            if "port" not in box and "Running on http://127.0.0.1:" in line:
                box["port"] = int(line.rsplit(":", 1)[1].strip().split()[0].rstrip("/"))
                found.set()
            if VERBOSE:
                sys.stderr.write(line)
    threading.Thread(target=drain, daemon=True).start()
    if not found.wait(30):
        p.kill()
        raise RuntimeError("moto did not say where it listens")
    proc = Proc.__new__(Proc)
    proc.args, proc.p, proc.port = ["moto"], p, box["port"]
    return proc


class Env:
    def __init__(self):
        self.moto = start_moto()
        moto_port = self.moto.port
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        wait_http(self.moto_url + "/moto-api/data.json")
        self.proxy = Proc([sys.executable, os.path.join(HERE, "fault_proxy.py"), "--upstream",
                           self.moto_url, "--port", "0", "--seed", "7"]
                          + (["--verbose"] if VERBOSE else []))
        self.proxy_url = f"http://127.0.0.1:{self.proxy.port}"
        self.gh = Proc([sys.executable, os.path.join(HERE, "fake_github.py"), "--port", "0",
                        "--token", GH_TOKEN, "--oidc-request-token", OIDC_REQUEST_TOKEN]
                       + (["--verbose"] if VERBOSE else []))
        self.gh_url = f"http://127.0.0.1:{self.gh.port}"
        self.client("iam", direct=True).create_role(
            RoleName="x", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                               "Statement": []}))
        self.lam = self.client("lambda")
        self.s3 = self.client("s3")
        self.moto_lam = self.client("lambda", direct=True)
        self.moto_s3 = self.client("s3", direct=True)

    def client(self, service, direct=False, key="AKIDSELFTEST", **extra):
        return boto3.client(
            service, endpoint_url=self.moto_url if direct else self.proxy_url,
            region_name=REGION, aws_access_key_id=key, aws_secret_access_key="not-a-secret",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                          s3={"addressing_style": "path"}, read_timeout=30, connect_timeout=5),
            **extra)

    # proxy control
    def pconf(self, **cfg):
        status, _, body = http("POST", self.proxy_url + "/__proxy/config", cfg)
        assert status == 200, body
        return body

    def preset(self):
        assert http("POST", self.proxy_url + "/__proxy/reset")[0] == 200

    def plog(self, clear=False):
        _, _, body = http("GET", self.proxy_url + "/__proxy/log")
        if clear:
            http("DELETE", self.proxy_url + "/__proxy/log")
        return body

    def create_function(self, name, content="v1", **kw):
        return self.lam.create_function(
            FunctionName=name, Role=ROLE, Runtime="provided.al2023", Handler="bootstrap",
            Code={"ZipFile": zip_bytes(content)}, Architectures=["arm64"], **kw)

    # fake GitHub
    def gh_req(self, method, path, body=None, token=GH_TOKEN, scheme="Bearer", headers=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"{scheme} {token}"
        url = path if path.startswith("http") else self.gh_url + path
        return http(method, url, body, h)

    def gh_state(self):
        return http("GET", self.gh_url + "/__fake/state")[2]

    def stop(self):
        results = {}
        for name in ("proxy", "gh", "moto"):
            proc = getattr(self, name, None)
            if proc is not None:
                results[name] = proc.stop()
        return results


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def load_proxy_module():
    spec = importlib.util.spec_from_file_location("fault_proxy",
                                                  os.path.join(HERE, "fault_proxy.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------------------
# fault_proxy tests
# ---------------------------------------------------------------------------------------


@test
def proxy_route_table_matches_botocore(env):
    mod = load_proxy_module()
    model = botocore.session.get_session().get_service_model("lambda")
    want = {(model.operation_model(n).http["method"], model.operation_model(n).http["requestUri"],
             n) for n in model.operation_names}
    got = set(mod.LAMBDA_ROUTES)
    assert got == want, f"missing {sorted(want - got)}, extra {sorted(got - want)}"
    # every route resolves to its own operation
    for method, uri, op in mod.LAMBDA_ROUTES:
        path, _, q = uri.partition("?")
        concrete = path.replace("{FunctionName}", "fn").replace("{Name}", "live")
        concrete = concrete.replace("{", "").replace("}", "")
        query = dict(p.split("=") for p in q.split("&")) if q else {}
        assert mod.match_lambda(method, concrete, query)[0] == op, (method, uri, op)
    assert mod.split_function_ref("arn:aws:lambda:us-east-1:123456789012:function:f:live") \
        == ("f", "live")
    assert mod.split_function_ref("123456789012:function:f") == ("f", None)
    assert mod.split_function_ref("f:3") == ("f", "3")


@test
def proxy_live_tail_frames_decode_with_botocore(env):
    # The event stream encoding as botocore reads it (it checks both CRCs).
    from botocore.eventstream import EventStreamBuffer
    mod = load_proxy_module()
    buf = EventStreamBuffer()
    buf.add_data(mod.live_tail_event("sessionUpdate", {"sessionResults": [{"message": "hi"}]}))
    buf.add_data(mod.eventstream_message(
        [(":message-type", "exception"), (":exception-type", "SessionTimeoutException")],
        b"{}"))
    frames = list(buf)
    assert len(frames) == 2, frames
    assert frames[0].headers == {":message-type": "event", ":event-type": "sessionUpdate",
                                 ":content-type": "application/json"}, frames[0].headers
    assert json.loads(frames[0].payload)["sessionResults"][0]["message"] == "hi"
    assert frames[1].headers[":exception-type"] == "SessionTimeoutException"


@test
def proxy_prints_one_port_line_and_forwards(env):
    env.preset()
    env.plog(clear=True)
    env.create_function("fwd-basic", Tags={"deploy-action:app": "fwd"})
    cfg = env.lam.get_function_configuration(FunctionName="fwd-basic")
    assert cfg["State"] == "Active" and cfg["LastUpdateStatus"] == "Successful"
    assert cfg["RevisionId"], "the proxy supplies the RevisionId moto lacks"
    arn = cfg["FunctionArn"]
    tags = env.lam.list_tags(Resource=arn)["Tags"]
    assert tags == {"deploy-action:app": "fwd"}, tags
    env.lam.get_function(FunctionName=arn)
    env.lam.get_function(FunctionName="fwd-basic:$LATEST")
    log = env.plog()
    ops = [e["operation"] for e in log]
    assert ops == ["lambda:CreateFunction", "lambda:GetFunctionConfiguration",
                   "lambda:ListTags", "lambda:GetFunction", "lambda:GetFunction"], ops
    for e in log:
        assert e["service"] == "lambda" and e["resource"] == "fwd-basic", e
        assert e["access_key_id"] == "AKIDSELFTEST" and e["status"] in (200, 201), e
        assert e["injected"] is None and isinstance(e["t"], float)
    assert log[0]["request"]["Code"]["ZipFile"].endswith("bytes>"), "zip redacted in log"
    assert log[4]["qualifier"] == "$LATEST"
    assert all(log[i]["t"] <= log[i + 1]["t"] for i in range(len(log) - 1))


@test
def proxy_busy_window_after_create_and_update(env):
    env.preset()
    env.pconf(busy_seconds=1.5)
    t0 = time.monotonic()
    created = env.create_function("busy-fn")
    assert created["State"] == "Pending", created["State"]
    conf = env.lam.get_function(FunctionName="busy-fn")["Configuration"]
    assert conf["State"] == "Pending" and conf["LastUpdateStatus"] == "InProgress", conf
    e = expect_error("ResourceConflictException", env.lam.update_function_code,
                     FunctionName="busy-fn", ZipFile=zip_bytes("v2"))
    assert "Pending" in str(e), e
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    # moto itself must not have seen the refused update
    assert env.moto_lam.get_function_configuration(
        FunctionName="busy-fn")["CodeSha256"] == b64sha(zip_bytes("v1"))
    time.sleep(max(0.0, 1.6 - (time.monotonic() - t0)))
    conf = env.lam.get_function_configuration(FunctionName="busy-fn")
    assert conf["State"] == "Active" and conf["LastUpdateStatus"] == "Successful", conf

    upd = env.lam.update_function_code(FunctionName="busy-fn", ZipFile=zip_bytes("v2"))
    assert upd["LastUpdateStatus"] == "InProgress" and upd["State"] == "Active", upd
    conf = env.lam.get_function_configuration(FunctionName="busy-fn")
    assert conf["LastUpdateStatus"] == "InProgress" and conf["State"] == "Active", conf
    # a published version is not $LATEST: never shown busy
    e = expect_error("ResourceConflictException", env.lam.publish_version, FunctionName="busy-fn")
    assert "An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:" \
           "function:busy-fn" in str(e), e
    expect_error("ResourceConflictException", env.lam.update_function_configuration,
                 FunctionName="busy-fn", MemorySize=256)
    time.sleep(1.6)
    conf = env.lam.get_function(FunctionName="busy-fn")["Configuration"]
    assert conf["LastUpdateStatus"] == "Successful", conf
    assert env.lam.publish_version(FunctionName="busy-fn")["Version"] == "1"
    injected = [e["injected"] for e in env.plog() if e["resource"] == "busy-fn"]
    assert injected.count("busy") == 3, injected


@test
def proxy_failed_updates(env):
    env.preset()
    env.create_function("failing-fn")
    env.pconf(fail_updates="an internal error occurred")
    upd = env.lam.update_function_code(FunctionName="failing-fn", ZipFile=zip_bytes("v2"))
    assert upd["LastUpdateStatus"] == "InProgress", upd
    conf = env.lam.get_function_configuration(FunctionName="failing-fn")
    assert conf["LastUpdateStatus"] == "Failed", conf
    assert conf["LastUpdateStatusReason"] == "an internal error occurred", conf
    # a version is not $LATEST: never shown failed
    published = env.lam.publish_version(FunctionName="failing-fn")
    assert published.get("LastUpdateStatus") != "Failed", published
    # still failed until an update made without the knob
    env.pconf(fail_updates=None)
    conf = env.lam.get_function(FunctionName="failing-fn")["Configuration"]
    assert conf["LastUpdateStatus"] == "Failed", conf
    env.lam.update_function_code(FunctionName="failing-fn", ZipFile=zip_bytes("v3"))
    conf = env.lam.get_function_configuration(FunctionName="failing-fn")
    assert conf["LastUpdateStatus"] == "Successful", conf
    status, _, body = http("POST", env.proxy_url + "/__proxy/config", {"fail_updates": 3})
    assert status == 400 and "fail_updates" in json.dumps(body), body


@test
def proxy_busy_window_is_atomic_under_concurrency(env):
    env.preset()
    env.create_function("race-fn")
    env.pconf(busy_seconds=2)
    results = []
    barrier = threading.Barrier(4)

    def update(i):
        client = env.client("lambda")
        barrier.wait()
        try:
            client.update_function_code(FunctionName="race-fn", ZipFile=zip_bytes(f"r{i}"))
            results.append("ok")
        except ClientError as e:
            results.append(error_code(e))
    threads = [threading.Thread(target=update, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ResourceConflictException"] * 3 + ["ok"], results


@test
def proxy_throttling(env):
    env.preset()
    env.create_function("thr-fn")
    env.pconf(throttle=1.0)
    e = expect_error("TooManyRequestsException", env.lam.get_function, FunctionName="thr-fn")
    meta = e.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 429
    assert meta["HTTPHeaders"].get("retry-after") == "1"
    assert e.response["Reason"] == "CallerRateLimitExceeded", e.response
    # a throttled write never reaches moto
    expect_error("TooManyRequestsException", env.create_function, "thr-never")
    expect_error("ResourceNotFoundException", env.moto_lam.get_function, FunctionName="thr-never")
    e = expect_error("SlowDown", env.s3.list_objects_v2, Bucket="any-bucket")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    log = env.plog()[-3:]
    assert [x["injected"] for x in log] == ["throttle"] * 3, log
    assert log[-1]["operation"] == "s3:ListObjectsV2" and log[-1]["iam_action"] == "s3:ListBucket"
    # only_ops narrows the random faults
    env.pconf(only_ops=["lambda:PublishVersion"])
    env.lam.get_function(FunctionName="thr-fn")
    expect_error("TooManyRequestsException", env.lam.publish_version, FunctionName="thr-fn")
    # STS is never faulted
    env.client("sts").get_caller_identity()


@test
def proxy_seeded_faults_are_reproducible(env):
    def run():
        env.preset()
        env.pconf(seed=42, throttle=0.5)
        out = []
        for _ in range(30):
            try:
                env.lam.list_functions()
                out.append(0)
            except ClientError:
                out.append(1)
        return out
    a, b = run(), run()
    assert a == b and 5 < sum(a) < 25, (a, b)


@test
def proxy_5xx_before_and_after(env):
    env.preset()
    env.create_function("err-fn")
    env.pconf(error5xx=1.0)
    e = expect_error("ServiceException", env.lam.update_function_configuration,
                     FunctionName="err-fn", MemorySize=256)
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert env.moto_lam.get_function_configuration(FunctionName="err-fn")["MemorySize"] == 128
    expect_error("InternalError", env.s3.list_buckets)
    env.pconf(error5xx=0, error5xx_after=1.0)
    expect_error("ServiceException", env.lam.update_function_configuration,
                 FunctionName="err-fn", MemorySize=256)
    # the side effect happened although the client saw a 500
    assert env.moto_lam.get_function_configuration(FunctionName="err-fn")["MemorySize"] == 256
    assert env.plog()[-1]["injected"] == "error5xx_after"


@test
def proxy_code_sha256_precondition(env):
    env.preset()
    env.create_function("sha-fn", content="one")
    env.pconf(enforce_code_sha256=True)
    e = expect_error("InvalidParameterValueException", env.lam.publish_version,
                     FunctionName="sha-fn", CodeSha256=b64sha(zip_bytes("two")))
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    want = (f"CodeSHA256 ({b64sha(zip_bytes('two'))}) is different from current CodeSHA256 in "
            f"$LATEST ({b64sha(zip_bytes('one'))}). Please try again with the current "
            "CodeSHA256.")
    assert e.response["Error"]["Message"] == want, e.response["Error"]
    assert env.moto_lam.list_versions_by_function(FunctionName="sha-fn")["Versions"][-1][
        "Version"] == "$LATEST", "refused publish must not reach moto"
    v = env.lam.publish_version(FunctionName="sha-fn", CodeSha256=b64sha(zip_bytes("one")),
                                Description="sha=abc run=1")
    assert v["Version"] == "1" and v["Description"] == "sha=abc run=1", v
    log = env.plog()
    assert log[-2]["injected"] == "code_sha256" and log[-1]["injected"] is None
    assert log[-1]["request"]["CodeSha256"] == b64sha(zip_bytes("one"))


@test
def proxy_revision_id_precondition(env):
    env.preset()
    env.create_function("rev-fn")
    v1 = env.lam.publish_version(FunctionName="rev-fn")["Version"]
    env.lam.update_function_code(FunctionName="rev-fn", ZipFile=zip_bytes("v2"))
    v2 = env.lam.publish_version(FunctionName="rev-fn")["Version"]
    alias = env.lam.create_alias(FunctionName="rev-fn", Name="live", FunctionVersion=v1)
    env.pconf(enforce_revision_id=True)
    rev = alias["RevisionId"]
    assert env.lam.get_alias(FunctionName="rev-fn", Name="live")["RevisionId"] == rev
    e = expect_error("PreconditionFailedException", env.lam.update_alias, FunctionName="rev-fn",
                     Name="live", FunctionVersion=v2, RevisionId="stale")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    moved = env.lam.update_alias(FunctionName="rev-fn", Name="live", FunctionVersion=v2,
                                 RevisionId=rev)
    assert moved["FunctionVersion"] == v2 and moved["RevisionId"] != rev, moved
    expect_error("PreconditionFailedException", env.lam.update_alias, FunctionName="rev-fn",
                 Name="live", FunctionVersion=v1, RevisionId=rev)
    latest = env.lam.get_function_configuration(FunctionName="rev-fn")["RevisionId"]
    upd = env.lam.update_function_configuration(FunctionName="rev-fn", MemorySize=256,
                                                RevisionId=latest)
    assert upd["RevisionId"] != latest
    expect_error("PreconditionFailedException", env.lam.update_function_code,
                 FunctionName="rev-fn", ZipFile=zip_bytes("v3"), RevisionId=latest)
    expect_error("PreconditionFailedException", env.lam.publish_version,
                 FunctionName="rev-fn", RevisionId=latest)
    env.lam.publish_version(FunctionName="rev-fn", RevisionId=upd["RevisionId"])


@test
def proxy_fail_ops_with_count(env):
    env.preset()
    env.pconf(fail_ops={"lambda:CreateFunction": {
        "status": 400, "type": "InvalidParameterValueException",
        "message": "The role defined for the function cannot be assumed by Lambda.",
        "count": 1}})
    e = expect_error("InvalidParameterValueException", env.create_function, "fail-fn")
    assert "cannot be assumed" in str(e)
    env.create_function("fail-fn")
    assert env.plog()[-2]["injected"] == "fail_ops"
    st, _, body = http("POST", env.proxy_url + "/__proxy/config",
                       {"fail_ops": {"lambda:NoSuchOp": {"status": 500}}})
    assert st == 400 and "unknown operation" in body["error"], body
    st, _, body = http("POST", env.proxy_url + "/__proxy/config", {"throttel": 0.5})
    assert st == 400 and "unknown config field" in body["error"], body
    st, _, body = http("POST", env.proxy_url + "/__proxy/config", {"throttle": 2})
    assert st == 400, body
    # sts can be failed too (e.g. a rejected web identity token)
    env.pconf(fail_ops={"sts:AssumeRoleWithWebIdentity": {
        "status": 400, "type": "InvalidIdentityToken", "message": "Incorrect token audience"}})
    sts = env.client("sts")
    expect_error("InvalidIdentityToken", sts.assume_role_with_web_identity, RoleArn=ROLE,
                 RoleSessionName="s1", WebIdentityToken="a.b.c")


@test
def proxy_delays(env):
    env.preset()
    env.create_function("delay-fn")
    env.pconf(publish_delay=0.6, op_delay={"lambda:GetFunction": 0.4})
    t = time.monotonic()
    env.lam.publish_version(FunctionName="delay-fn")
    assert time.monotonic() - t >= 0.6
    t = time.monotonic()
    env.lam.get_function(FunctionName="delay-fn")
    assert time.monotonic() - t >= 0.4
    t = time.monotonic()
    env.lam.get_function_configuration(FunctionName="delay-fn")
    assert time.monotonic() - t < 0.4
    cfg = env.pconf(op_delay={"lambda:GetFunction": None})
    assert cfg["op_delay"] == {}, cfg


@test
def proxy_drop_upload(env):
    env.preset()
    env.moto_s3.create_bucket(Bucket="drop-bucket")
    env.pconf(drop_upload=1.0)
    try:
        env.s3.put_object(Bucket="drop-bucket", Key="a/b.zip", Body=os.urandom(256 * 1024))
        raise AssertionError("upload should have been cut")
    except (ConnectionClosedError, EndpointConnectionError, ConnectionError) as e:
        assert "drop" not in str(e).lower() or True
    except ClientError as e:
        raise AssertionError(f"expected a dropped connection, got an answer: {e}")
    listed = env.moto_s3.list_objects_v2(Bucket="drop-bucket").get("KeyCount", 0)
    assert listed == 0, "a dropped upload must not reach moto"
    assert env.plog()[-1]["injected"] == "drop_upload"
    env.pconf(drop_upload=0)
    env.s3.put_object(Bucket="drop-bucket", Key="a/b.zip", Body=b"zip", ChecksumAlgorithm="SHA256")
    head = env.s3.head_object(Bucket="drop-bucket", Key="a/b.zip", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 3 and head["ChecksumSHA256"] == base64.b64encode(
        hashlib.sha256(b"zip").digest()).decode(), head
    log = env.plog()[-2:]
    assert [e["operation"] for e in log] == ["s3:PutObject", "s3:HeadObject"]
    assert log[1]["iam_action"] == "s3:GetObject" and log[1]["resource"] == "drop-bucket/a/b.zip"


@test
def proxy_invoke_rules(env):
    env.preset()
    env.create_function("inv-fn", content="i1")
    v1 = env.lam.publish_version(FunctionName="inv-fn")["Version"]
    env.lam.update_function_code(FunctionName="inv-fn", ZipFile=zip_bytes("i2"))
    v2 = env.lam.publish_version(FunctionName="inv-fn")["Version"]
    env.lam.create_alias(FunctionName="inv-fn", Name="live", FunctionVersion=v1)
    env.plog(clear=True)

    r = env.lam.invoke(FunctionName="inv-fn", Payload=json.dumps({"rawPath": "/"}))
    assert r["StatusCode"] == 200 and r["ExecutedVersion"] == "$LATEST", r
    assert "FunctionError" not in r
    body = json.loads(r["Payload"].read())
    assert body == {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "ok",
                    "isBase64Encoded": False}, body

    env.pconf(invoke={
        f"inv-fn:{v2}": {"statusCode": 500, "body": "broken", "headers": {"x-v": "2"}},
        "inv-fn:*": {"statusCode": 200, "body": "healthy"},
    })
    r = env.lam.invoke(FunctionName="inv-fn", Qualifier=v2,
                       Payload=json.dumps({"rawPath": "/healthz", "requestContext": {
                           "http": {"method": "GET"}}}))
    body = json.loads(r["Payload"].read())
    assert r["ExecutedVersion"] == v2 and body["statusCode"] == 500 and body["body"] == "broken"
    assert body["headers"] == {"x-v": "2"}
    # the alias resolves to its version: v1 has no own rule, the wildcard answers
    r = env.lam.invoke(FunctionName="inv-fn:live", Payload=b"{}")
    assert r["ExecutedVersion"] == v1 and json.loads(r["Payload"].read())["body"] == "healthy"

    env.pconf(invoke={f"inv-fn:{v1}": {"function_error": "Unhandled", "payload": {
        "errorMessage": "boom", "errorType": "Runtime.ExitError"}}})
    r = env.lam.invoke(FunctionName="inv-fn", Qualifier="live", Payload=b"{}")
    assert r["FunctionError"] == "Unhandled", r
    assert json.loads(r["Payload"].read())["errorMessage"] == "boom"

    expect_error("ResourceNotFoundException", env.lam.invoke, FunctionName="inv-missing",
                 Payload=b"{}")
    log = env.plog()
    inv = [e for e in log if e["operation"] == "lambda:Invoke"]
    assert len(inv) == 5 and all(e["iam_action"] == "lambda:InvokeFunction" for e in inv)
    assert inv[1]["payload"]["rawPath"] == "/healthz" and inv[1]["qualifier"] == v2, inv[1]
    assert inv[2]["qualifier"] == "live" and inv[2]["executed_version"] == v1, inv[2]


def py_zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("h.py", (2020, 1, 1, 0, 0, 0)), source)
    return buf.getvalue()


@test
def proxy_invoke_runs_the_code(env):
    """invoke_mode "run": the function's own code from moto's S3, per version."""
    env.preset()
    env.s3.create_bucket(Bucket="runner-code")
    v1_code = py_zip("import os, sys\n"
                     "def handler(event, context):\n"
                     "    print('hello from', context.function_version)\n"
                     "    return {'echo': event, 'env': os.environ['GREETING'],\n"
                     "            'isolated': sys.flags.isolated}\n")
    v2_code = py_zip("def handler(event, context):\n    raise ValueError('broken v2')\n")
    v3_code = py_zip("import time\ndef handler(event, context):\n    time.sleep(30)\n")
    for key, data in (("a/v1.zip", v1_code), ("a/v2.zip", v2_code), ("a/v3.zip", v3_code)):
        env.s3.put_object(Bucket="runner-code", Key=key, Body=data)
    env.lam.create_function(FunctionName="run-fn", Role=ROLE, Runtime="python3.13",
                            Handler="h.handler", Timeout=4, Architectures=["arm64"],
                            Environment={"Variables": {"GREETING": "hi"}},
                            Code={"S3Bucket": "runner-code", "S3Key": "a/v1.zip"})
    v1 = env.lam.publish_version(FunctionName="run-fn")["Version"]
    env.lam.update_function_code(FunctionName="run-fn", S3Bucket="runner-code", S3Key="a/v2.zip")
    v2 = env.lam.publish_version(FunctionName="run-fn")["Version"]
    env.lam.update_function_code(FunctionName="run-fn", S3Bucket="runner-code", S3Key="a/v3.zip")
    v3 = env.lam.publish_version(FunctionName="run-fn")["Version"]
    env.lam.create_alias(FunctionName="run-fn", Name="live", FunctionVersion=v1)

    # rules mode (the default) still answers "ok" without running anything
    r = env.lam.invoke(FunctionName="run-fn:live", Payload=b'{"a": 1}')
    assert json.loads(r["Payload"].read())["body"] == "ok"

    env.pconf(invoke_mode="run")
    r = env.lam.invoke(FunctionName="run-fn:live", Payload=b'{"a": 1}', LogType="Tail")
    assert r["ExecutedVersion"] == v1 and "FunctionError" not in r, r
    assert json.loads(r["Payload"].read()) == {"echo": {"a": 1}, "env": "hi", "isolated": 1}
    log = base64.b64decode(r["LogResult"]).decode()
    assert f"hello from {v1}" in log and log.startswith("START RequestId:"), log
    assert "REPORT RequestId:" in log, log

    r = env.lam.invoke(FunctionName="run-fn", Qualifier=v2, Payload=b"{}")
    assert r["FunctionError"] == "Unhandled", r
    err = json.loads(r["Payload"].read())
    assert err["errorType"] == "ValueError" and err["errorMessage"] == "broken v2", err

    r = env.lam.invoke(FunctionName="run-fn", Qualifier=v3, Payload=b"{}")
    err = json.loads(r["Payload"].read())
    assert r["FunctionError"] == "Unhandled" and err["errorType"] == "Sandbox.Timedout", err
    assert "Task timed out after 4.00 seconds" in err["errorMessage"], err

    # a rule still wins over running the code
    env.pconf(invoke={f"run-fn:{v1}": {"statusCode": 503, "body": "ruled"}})
    r = env.lam.invoke(FunctionName="run-fn:live", Payload=b"{}")
    assert json.loads(r["Payload"].read())["body"] == "ruled"
    assert http("POST", env.proxy_url + "/__proxy/config", {"invoke_mode": "docker"})[0] == 400
    env.preset()


@test
def proxy_moto_fixes(env):
    env.preset()
    env.create_function("fix-fn")
    v = env.lam.publish_version(FunctionName="fix-fn")["Version"]
    env.lam.create_alias(FunctionName="fix-fn", Name="live", FunctionVersion=v)
    url = env.lam.create_function_url_config(FunctionName="fix-fn", Qualifier="live",
                                             AuthType="NONE")
    assert url["FunctionUrl"].endswith(".lambda-url.us-east-1.on.aws/"), url["FunctionUrl"]
    assert url["FunctionArn"].endswith(":function:fix-fn:live"), url["FunctionArn"]
    expect_error("ResourceConflictException", env.lam.create_function_url_config,
                 FunctionName="fix-fn", Qualifier="live", AuthType="NONE")
    got = env.lam.get_function_url_config(FunctionName="fix-fn", Qualifier="live")
    assert got["FunctionUrl"] == url["FunctionUrl"]
    expect_error("ResourceNotFoundException", env.lam.get_function_url_config,
                 FunctionName="fix-fn")

    env.lam.add_permission(FunctionName="fix-fn", Qualifier="live", StatementId="url",
                           Action="lambda:InvokeFunctionUrl", Principal="*",
                           FunctionUrlAuthType="NONE")
    expect_error("ResourceConflictException", env.lam.add_permission, FunctionName="fix-fn",
                 Qualifier="live", StatementId="url", Action="lambda:InvokeFunctionUrl",
                 Principal="*", FunctionUrlAuthType="NONE")
    pol = json.loads(env.lam.get_policy(FunctionName="fix-fn", Qualifier="live")["Policy"])
    assert [s["Sid"] for s in pol["Statement"]] == ["url"], pol
    expect_error("ResourceNotFoundException", env.lam.get_policy, FunctionName="fix-fn")

    expect_error("ResourceConflictException", env.lam.delete_function, FunctionName="fix-fn",
                 Qualifier=v)
    expect_error("ResourceConflictException", env.lam.create_alias, FunctionName="fix-fn",
                 Name="live", FunctionVersion=v)
    expect_error("ValidationException", env.lam.create_alias, FunctionName="fix-fn",
                 Name="123", FunctionVersion=v)
    env.lam.update_function_code(FunctionName="fix-fn", ZipFile=zip_bytes("v2"))
    v2 = env.lam.publish_version(FunctionName="fix-fn")["Version"]
    for weights, code in (({v2: 1.5}, "ValidationException"),
                          ({v: 0.1}, "InvalidParameterValueException"),
                          ({"99": 0.1}, "ResourceNotFoundException")):
        expect_error(code, env.lam.update_alias, FunctionName="fix-fn", Name="live",
                     RoutingConfig={"AdditionalVersionWeights": weights})
    canary = env.lam.update_alias(FunctionName="fix-fn", Name="live",
                                  RoutingConfig={"AdditionalVersionWeights": {v2: 0.1}})
    assert canary["RoutingConfig"]["AdditionalVersionWeights"] == {v2: 0.1}, canary
    expect_error("ResourceConflictException", env.lam.delete_function, FunctionName="fix-fn",
                 Qualifier=v2)
    done = env.lam.update_alias(FunctionName="fix-fn", Name="live", FunctionVersion=v2,
                                RoutingConfig={"AdditionalVersionWeights": {}})
    assert done["FunctionVersion"] == v2 and not done["RoutingConfig"][
        "AdditionalVersionWeights"], done
    env.lam.delete_function(FunctionName="fix-fn", Qualifier=v)
    env.moto_s3.create_bucket(Bucket="fix-bucket")
    expect_error("InvalidParameterValueException", env.lam.update_function_code,
                 FunctionName="fix-fn", S3Bucket="fix-bucket", S3Key="nope.zip")
    env.moto_s3.put_object(Bucket="fix-bucket", Key="k.zip", Body=zip_bytes("s3"))
    upd = env.lam.update_function_code(FunctionName="fix-fn", S3Bucket="fix-bucket",
                                       S3Key="k.zip")
    assert upd["CodeSha256"] == b64sha(zip_bytes("s3"))
    # fixes can be switched off to see raw moto
    env.pconf(moto_fixes=False)
    raw = env.lam.get_function_url_config(FunctionName="fix-fn")
    assert not raw["FunctionUrl"].endswith("/")
    env.preset()


def s3_raw(env, method, path, region=REGION):
    """An S3 request with a credential scope for `region` (moto checks no signature). Not
    boto3: its region redirector would follow a 301 to the real S3 endpoint."""
    auth = (f"AWS4-HMAC-SHA256 Credential=AKIDSELFTEST/20240101/{region}/s3/aws4_request, "
            "SignedHeaders=host, Signature=0")
    return http(method, env.proxy_url + path, headers={"Authorization": auth})


@test
def proxy_role_propagation(env):
    env.preset()
    fresh = "arn:aws:iam::123456789012:role/fresh"
    env.client("iam", direct=True).create_role(
        RoleName="fresh", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                               "Statement": []}))
    env.create_function("role-old")
    env.pconf(role_propagation={fresh: 1.5})
    assert 0 < env.pconf()["role_propagation_remaining"][fresh] <= 1.5
    e = expect_error("InvalidParameterValueException", env.lam.create_function,
                     FunctionName="role-new", Role=fresh, Runtime="provided.al2023",
                     Handler="bootstrap", Code={"ZipFile": zip_bytes("x")})
    assert e.response["Error"]["Message"] == (
        "The role defined for the function cannot be assumed by Lambda."), e.response
    expect_error("InvalidParameterValueException", env.lam.update_function_configuration,
                 FunctionName="role-old", Role=fresh)
    # other roles and other operations are not affected
    env.lam.update_function_configuration(FunctionName="role-old", MemorySize=256)
    assert env.plog()[-2]["injected"] == "role_propagation"
    time.sleep(1.6)
    env.lam.create_function(FunctionName="role-new", Role=fresh, Runtime="provided.al2023",
                            Handler="bootstrap", Code={"ZipFile": zip_bytes("x")})
    env.lam.update_function_configuration(FunctionName="role-old", Role=fresh)
    status, _, body = http("POST", env.proxy_url + "/__proxy/config",
                           {"role_propagation": {"role/x": 3}})
    assert status == 400 and "ARN" in body["error"], body


@test
def proxy_bucket_regions(env):
    env.preset()
    env.moto_s3.create_bucket(Bucket="far-bucket")
    env.moto_s3.put_object(Bucket="far-bucket", Key="a.zip", Body=zip_bytes("far"))
    env.create_function("far-fn")
    env.pconf(bucket_regions={"far-bucket": "eu-west-1"})
    status, h, body = s3_raw(env, "HEAD", "/far-bucket")
    assert status == 301 and h["x-amz-bucket-region"] == "eu-west-1" and not body, (status, body)
    status, h, body = s3_raw(env, "PUT", "/far-bucket/b.zip")
    assert status == 301 and h["x-amz-bucket-region"] == "eu-west-1", status
    assert b"<Code>PermanentRedirect</Code>" in body and b"<Bucket>far-bucket</Bucket>" in body
    status, _, body = s3_raw(env, "GET", "/far-bucket?location")
    assert status == 200 and b">eu-west-1</LocationConstraint>" in body, body
    # signed for the bucket's own region: moto answers, with the region header
    status, h, _ = s3_raw(env, "HEAD", "/far-bucket", region="eu-west-1")
    assert status == 200 and h["x-amz-bucket-region"] == "eu-west-1", status
    # Lambda in us-east-1 can't read code from it
    e = expect_error("InvalidParameterValueException", env.lam.update_function_code,
                     FunctionName="far-fn", S3Bucket="far-bucket", S3Key="a.zip")
    assert "The bucket is in this region: eu-west-1" in str(e), e
    assert [x["injected"] for x in env.plog()[-5:]] == [
        "bucket_region", "bucket_region", "bucket_region", None, "bucket_region"]
    env.pconf(bucket_regions={"far-bucket": "us-east-1"})
    assert s3_raw(env, "HEAD", "/far-bucket")[0] == 200
    status, _, body = s3_raw(env, "GET", "/far-bucket?location")
    assert b"<LocationConstraint" in body and b"us-east-1" not in body, body
    env.pconf(bucket_regions=None)


@test
def proxy_deny_list_tags(env):
    env.preset()
    env.create_function("tags-fn", Tags={"deploy-action:app": "a"})
    env.create_function("tags-other", Tags={"deploy-action:app": "b"})
    arn = env.lam.get_function(FunctionName="tags-fn")["Configuration"]["FunctionArn"]
    env.pconf(deny_list_tags=True)
    got = env.lam.get_function(FunctionName="tags-fn")
    assert "Tags" not in got, got
    assert got["TagsError"]["ErrorCode"] == "AccessDeniedException", got
    assert "lambda:ListTags" in got["TagsError"]["Message"], got
    e = expect_error("AccessDeniedException", env.lam.list_tags, Resource=arn)
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # per function
    env.pconf(deny_list_tags=["tags-other"])
    assert env.lam.get_function(FunctionName="tags-fn")["Tags"] == {"deploy-action:app": "a"}
    assert "TagsError" in env.lam.get_function(FunctionName="tags-other")
    # inspection clients keep their own permissions
    observer = env.client("lambda", key="OBSERVERSELFTEST")
    assert observer.get_function(FunctionName="tags-other")["Tags"] == {"deploy-action:app": "b"}
    env.pconf(deny_list_tags=False)
    assert env.lam.list_tags(Resource=arn)["Tags"] == {"deploy-action:app": "a"}


@test
def proxy_conflict_presets(env):
    env.preset()
    env.create_function("conf-fn")
    v = env.lam.publish_version(FunctionName="conf-fn")["Version"]
    env.lam.create_alias(FunctionName="conf-fn", Name="live", FunctionVersion=v)
    env.pconf(conflict_ops={"lambda:AddPermission": {"kind": "in_progress", "count": 2},
                            "lambda:UpdateAlias": {"kind": "in_progress", "count": 1}})
    arn = env.lam.get_function(FunctionName="conf-fn")["Configuration"]["FunctionArn"]
    kw = dict(FunctionName="conf-fn", Qualifier="live", StatementId="url",
              Action="lambda:InvokeFunctionUrl", Principal="*", FunctionUrlAuthType="NONE")
    for _ in range(2):
        e = expect_error("ResourceConflictException", env.lam.add_permission, **kw)
        assert e.response["Error"]["Message"] == (
            "The operation cannot be performed at this time. An update is in progress for "
            f"resource: {arn}"), e.response
    assert env.pconf()["conflict_ops_remaining"]["lambda:AddPermission"] == 0
    env.lam.add_permission(**kw)
    expect_error("ResourceConflictException", env.lam.update_alias, FunctionName="conf-fn",
                 Name="live", Description="x")
    env.lam.update_alias(FunctionName="conf-fn", Name="live", Description="x")
    env.pconf(conflict_ops={"lambda:AddPermission": {"kind": "statement_exists", "count": 1}})
    e = expect_error("ResourceConflictException", env.lam.add_permission,
                     **dict(kw, StatementId="other"))
    assert e.response["Error"]["Message"] == (
        "The statement id (other) provided already exists. Please provide a new statement id, "
        "or remove the existing statement."), e.response
    assert env.plog()[-1]["injected"] == "conflict_ops"
    for bad in ({"lambda:AddPermission": {"kind": "busy"}},
                {"s3:PutObject": {"kind": "in_progress"}},
                {"lambda:AddPermission": {"kind": "in_progress", "status": 409}}):
        status, _, body = http("POST", env.proxy_url + "/__proxy/config", {"conflict_ops": bad})
        assert status == 400, (bad, body)
    env.preset()


@test
def proxy_policy_statements_as_lambda_stores_them(env):
    env.preset()
    env.create_function("pol-fn")
    v = env.lam.publish_version(FunctionName="pol-fn")["Version"]
    env.lam.create_alias(FunctionName="pol-fn", Name="live", FunctionVersion=v)
    added = env.lam.add_permission(FunctionName="pol-fn", Qualifier="live", StatementId="url",
                                   Action="lambda:InvokeFunctionUrl", Principal="*",
                                   FunctionUrlAuthType="NONE")
    env.lam.add_permission(FunctionName="pol-fn", Qualifier="live", StatementId="invoke",
                           Action="lambda:InvokeFunction", Principal="*",
                           InvokedViaFunctionUrl=True)
    env.lam.add_permission(FunctionName="pol-fn", Qualifier="live", StatementId="acct",
                           Action="lambda:InvokeFunction", Principal="210987654321")
    arn = env.lam.get_function(FunctionName="pol-fn")["Configuration"]["FunctionArn"]
    want_url = {"Sid": "url", "Effect": "Allow", "Principal": "*",
                "Action": "lambda:InvokeFunctionUrl", "Resource": f"{arn}:live",
                "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}
    assert json.loads(added["Statement"]) == want_url, added
    pol = json.loads(env.lam.get_policy(FunctionName="pol-fn", Qualifier="live")["Policy"])
    assert pol["Statement"] == [
        want_url,
        {"Sid": "invoke", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction",
         "Resource": f"{arn}:live",
         "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}},
        {"Sid": "acct", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
         "Action": "lambda:InvokeFunction", "Resource": f"{arn}:live"},
    ], pol
    e = expect_error("ResourceConflictException", env.lam.add_permission, FunctionName="pol-fn",
                     Qualifier="live", StatementId="url", Action="lambda:InvokeFunctionUrl",
                     Principal="*", FunctionUrlAuthType="NONE")
    assert e.response["Error"]["Message"] == (
        "The statement id (url) provided already exists. Please provide a new statement id, or "
        "remove the existing statement."), e.response


@test
def proxy_faults_do_not_depend_on_interleaving(env):
    names = [f"rng-fn-{i}" for i in range(4)]

    def outcomes(concurrent):
        env.preset()
        env.pconf(seed=99, throttle=0.5)
        out = {n: [] for n in names}

        def calls(name):
            for _ in range(12):
                try:
                    env.lam.get_function_configuration(FunctionName=name)
                    out[name].append("ok")
                except ClientError as e:
                    out[name].append(error_code(e))
        if concurrent:
            threads = [threading.Thread(target=calls, args=(n,)) for n in reversed(names)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for n in names:
                calls(n)
        return out
    a, b = outcomes(False), outcomes(True)
    assert a == b, (a, b)
    flat = [x for n in names for x in a[n]]
    assert {"TooManyRequestsException", "ResourceNotFoundException"} == set(flat), flat
    env.preset()


@test
def proxy_sts_logged_without_token(env):
    env.plog(clear=True)
    sts = env.client("sts")
    token = "header.payload.signature-secret"
    creds = sts.assume_role_with_web_identity(RoleArn=ROLE, RoleSessionName="gh-run-1",
                                              WebIdentityToken=token)["Credentials"]
    assumed = env.client("lambda", key=creds["AccessKeyId"],
                         aws_session_token=creds["SessionToken"])
    assumed.list_functions()
    log = env.plog()
    assert log[0]["operation"] == "sts:AssumeRoleWithWebIdentity", log[0]
    assert log[0]["params"]["RoleSessionName"] == "gh-run-1"
    assert log[0]["params"]["WebIdentityToken_sha256"] == hashlib.sha256(
        token.encode()).hexdigest()
    assert token not in json.dumps(log)
    assert log[1]["access_key_id"] == creds["AccessKeyId"], log[1]


@test
def proxy_teardown_flow(env):
    env.preset()
    env.create_function("td-fn")
    env.lam.publish_version(FunctionName="td-fn")
    env.lam.create_alias(FunctionName="td-fn", Name="live", FunctionVersion="1")
    env.lam.delete_function(FunctionName="td-fn")
    expect_error("ResourceNotFoundException", env.lam.get_function, FunctionName="td-fn")
    expect_error("ResourceNotFoundException", env.lam.delete_function, FunctionName="td-fn")
    _, _, state = http("GET", env.proxy_url + "/__proxy/state")
    assert "us-east-1/td-fn" not in state["functions"], state


@test
def proxy_apigateway_domain_targets(env):
    """Custom domain names get the regional target real API Gateway reports; ACM calls are
    logged by operation."""
    env.preset()
    env.plog(clear=True)
    gw = env.client("apigatewayv2")
    cfg = [{"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x",
            "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}]
    created = gw.create_domain_name(DomainName="app.example.com",
                                    DomainNameConfigurations=cfg)
    c = created["DomainNameConfigurations"][0]
    assert c["ApiGatewayDomainName"].startswith("d-"), c
    assert c["ApiGatewayDomainName"].endswith(".execute-api.us-east-1.amazonaws.com"), c
    assert c["HostedZoneId"] == "Z1UJRXOUMOOFQ8", c
    got = gw.get_domain_name(DomainName="app.example.com")["DomainNameConfigurations"][0]
    assert got["ApiGatewayDomainName"] == c["ApiGatewayDomainName"], got
    listed = gw.get_domain_names()["Items"][0]["DomainNameConfigurations"][0]
    assert listed["ApiGatewayDomainName"] == c["ApiGatewayDomainName"], listed
    # raw moto leaves them out (the reason for the fix)
    raw = env.client("apigatewayv2", direct=True).get_domain_name(DomainName="app.example.com")
    assert "ApiGatewayDomainName" not in raw["DomainNameConfigurations"][0], raw
    env.client("acm").list_certificates()
    ops = [e["operation"] for e in env.plog()]
    assert "acm:ListCertificates" in ops, ops
    gw.delete_domain_name(DomainName="app.example.com")


@test
def proxy_acm_issues_once_the_validation_record_exists(env):
    env.preset()
    acm = env.client("acm")
    r53 = env.client("route53")
    arn = acm.request_certificate(DomainName="*.dv.example.com",
                                  ValidationMethod="DNS")["CertificateArn"]
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert cert["Status"] == "PENDING_VALIDATION", cert
    record = cert["DomainValidationOptions"][0]["ResourceRecord"]
    zone = r53.create_hosted_zone(Name="dv.example.com", CallerReference="dv")["HostedZone"]
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == \
        "PENDING_VALIDATION"
    r53.change_resource_record_sets(HostedZoneId=zone["Id"], ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {
            "Name": record["Name"], "Type": "CNAME", "TTL": 300,
            "ResourceRecords": [{"Value": record["Value"]}]}}]})
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert cert["Status"] == "ISSUED", cert
    assert cert["DomainValidationOptions"][0]["ValidationStatus"] == "SUCCESS", cert


# ---------------------------------------------------------------------------------------
# fake_github tests
# ---------------------------------------------------------------------------------------

# Required (non-Option) fields of octocrab 0.54.9's models, and which of them must be URLs.
AUTHOR_FIELDS = ["login", "id", "node_id", "avatar_url", "gravatar_id", "url", "html_url",
                 "followers_url", "following_url", "gists_url", "starred_url",
                 "subscriptions_url", "organizations_url", "repos_url", "events_url",
                 "received_events_url", "type", "site_admin"]
COMMENT_FIELDS = ["id", "node_id", "url", "html_url", "user", "created_at"]
DEPLOYMENT_FIELDS = ["url", "id", "node_id", "sha", "ref", "task", "payload", "environment",
                     "created_at", "updated_at", "statuses_url", "repository_url"]
STATUS_FIELDS = ["url", "id", "node_id", "state", "created_at", "updated_at", "deployment_url",
                 "repository_url"]


def check_shape(obj, fields, what):
    missing = [f for f in fields if f not in obj or obj[f] is None]
    assert not missing, f"{what} lacks {missing}"
    for k, v in obj.items():
        if (k == "url" or k.endswith("_url")) and v:
            assert isinstance(v, str) and v.startswith(("http://", "https://")), (what, k, v)
        if k in ("created_at", "updated_at") and v:
            time.strptime(v, "%Y-%m-%dT%H:%M:%SZ")


@test
def github_auth_is_strict(env):
    http("POST", env.gh_url + "/__fake/reset")
    path = "/repos/o/r/issues/1/comments"
    st, _, body = env.gh_req("GET", path, token=None)
    assert st == 401 and body == {"message": "Bad credentials",
                                  "documentation_url": "https://docs.github.com/rest"}, body
    assert env.gh_req("GET", path, token="wrong")[0] == 401
    assert env.gh_req("GET", path, scheme="Basic")[0] == 401
    for scheme in ("Bearer", "bearer", "token", "TOKEN"):
        assert env.gh_req("GET", path, scheme=scheme)[0] == 200, scheme
    state = env.gh_state()
    assert state["auth_failures"] == 3, state["auth_failures"]
    assert [r["status"] for r in state["requests"]] == [401, 401, 401, 200, 200, 200, 200]


@test
def github_comment_pagination(env):
    http("POST", env.gh_url + "/__fake/reset")
    st, _, seeded = http("POST", env.gh_url + "/__fake/seed",
                         {"repo": "o/r", "issue": 42, "comments": 120})
    assert st == 201 and len(seeded["ids"]) == 120
    st, h, page1 = env.gh_req("GET", "/repos/o/r/issues/42/comments?per_page=100")
    assert st == 200 and len(page1) == 100
    link = h["Link"]
    base = env.gh_url
    assert f'<{base}/repos/o/r/issues/42/comments?per_page=100&page=2>; rel="next"' in link, link
    assert f'<{base}/repos/o/r/issues/42/comments?per_page=100&page=2>; rel="last"' in link, link
    nxt = link.split(";")[0].strip("<>")
    st, h, page2 = env.gh_req("GET", nxt)
    assert len(page2) == 20 and 'rel="next"' not in h["Link"] and 'rel="prev"' in h["Link"]
    ids = [c["id"] for c in page1 + page2]
    assert ids == sorted(ids) == seeded["ids"]
    _, h, default = env.gh_req("GET", "/repos/o/r/issues/42/comments")
    assert len(default) == 30 and "page=4>; rel=\"last\"" in h["Link"], h["Link"]
    _, _, clamped = env.gh_req("GET", "/repos/o/r/issues/42/comments?per_page=500")
    assert len(clamped) == 100
    _, h, beyond = env.gh_req("GET", "/repos/o/r/issues/42/comments?per_page=100&page=3")
    assert beyond == []
    _, h, other = env.gh_req("GET", "/repos/o/r/issues/43/comments")
    assert other == [] and h.get("Link") is None
    for c in page1[:3]:
        check_shape(c, COMMENT_FIELDS, "comment")
        check_shape(c["user"], AUTHOR_FIELDS, "comment.user")
        assert c["user"]["type"] in ("User", "Bot")


@test
def github_pulls_of_a_commit(env):
    http("POST", env.gh_url + "/__fake/reset")
    sha = "ab" * 20
    st, _, body = http("POST", env.gh_url + "/__fake/pulls", {"pulls": [
        {"repo": "o/r", "number": 5, "head_sha": sha},
        {"repo": "o/r", "number": 6, "head_sha": sha, "state": "closed"},
        {"repo": "o/r", "number": 7, "head_sha": "cd" * 20},
        {"repo": "o/other", "number": 8, "head_sha": sha}]})
    assert st == 201, body
    st, _, pulls = env.gh_req("GET", f"/repos/o/r/commits/{sha}/pulls")
    assert st == 200, pulls
    assert [(p["number"], p["state"]) for p in pulls] == [(5, "open"), (6, "closed")], pulls
    assert pulls[0]["head"]["sha"] == sha
    st, _, none = env.gh_req("GET", f"/repos/o/r/commits/{'ef' * 20}/pulls")
    assert st == 200 and none == []
    st, _, bad = http("POST", env.gh_url + "/__fake/pulls", {"pulls": [{"number": 1}]})
    assert st == 400, bad


@test
def github_comment_create_edit_delete(env):
    http("POST", env.gh_url + "/__fake/reset")
    st, h, c = env.gh_req("POST", "/repos/o/r/issues/7/comments",
                          {"body": "<!-- deploy-action:hello -->\nfirst"})
    assert st == 201, c
    check_shape(c, COMMENT_FIELDS + ["issue_url", "body", "updated_at", "author_association"],
                "comment")
    check_shape(c["user"], AUTHOR_FIELDS, "comment.user")
    assert c["user"]["login"] == "github-actions[bot]"
    assert c["issue_url"].endswith("/repos/o/r/issues/7")
    cid = c["id"]
    st, _, body = env.gh_req("POST", "/repos/o/r/issues/7/comments", {"nobody": 1})
    assert st == 422, body
    st, _, e1 = env.gh_req("PATCH", f"/repos/o/r/issues/comments/{cid}", {"body": "second"})
    assert st == 200 and e1["body"] == "second" and e1["id"] == cid
    assert e1["updated_at"] > c["updated_at"], (e1["updated_at"], c["updated_at"])
    # octocrab 0.54.9 update_comment sends POST; GitHub documents PATCH: refused by default
    st, _, _ = env.gh_req("POST", f"/repos/o/r/issues/comments/{cid}", {"body": "via post"})
    assert st == 404
    http("POST", env.gh_url + "/__fake/config", {"accept_post_for_patch": True})
    st, _, _ = env.gh_req("POST", f"/repos/o/r/issues/comments/{cid}", {"body": "third"})
    assert st == 200
    st, _, got = env.gh_req("GET", f"/repos/o/r/issues/comments/{cid}")
    assert got["body"] == "third"
    assert env.gh_req("GET", f"/repos/x/y/issues/comments/{cid}")[0] == 404
    state = env.gh_state()
    only = state["comments"]["o/r"]["7"]
    assert len(only) == 1 and only[0]["edits"] == 2, only
    assert only[0]["bodies"] == ["<!-- deploy-action:hello -->\nfirst", "second", "third"]
    assert env.gh_req("DELETE", f"/repos/o/r/issues/comments/{cid}")[0] == 204
    assert env.gh_req("GET", f"/repos/o/r/issues/comments/{cid}")[0] == 404
    assert env.gh_state()["deleted_comments"][0]["id"] == cid
    http("POST", env.gh_url + "/__fake/config", {"comments_forbidden": True})
    st, _, body = env.gh_req("POST", "/repos/o/r/issues/7/comments", {"body": "x"})
    assert st == 403 and body["message"] == "Resource not accessible by integration"


@test
def github_comment_authors_follow_the_token(env):
    http("POST", env.gh_url + "/__fake/reset")
    status, _, body = env.gh_req("GET", "/user")
    assert status == 403 and body["message"] == "Resource not accessible by integration", body
    status, _, body = env.gh_req("GET", "/user", token="nope")
    assert status == 401 and body["message"] == "Bad credentials", body
    assert env.gh_req("POST", "/__fake/tokens",
                      {"token": "ghp_user_token", "login": "octocat", "type": "User"})[0] == 201
    assert env.gh_req("POST", "/__fake/tokens",
                      {"token": "ghs_app_token", "login": "my-app[bot]",
                       "installation": True})[0] == 201
    status, _, me = env.gh_req("GET", "/user", token="ghp_user_token")
    assert status == 200 and me["login"] == "octocat" and me["type"] == "User", me
    assert env.gh_req("GET", "/user", token="ghs_app_token")[0] == 403
    path = "/repos/o/authors/issues/5/comments"
    _, _, by_user = env.gh_req("POST", path, {"body": "mine"}, token="ghp_user_token")
    _, _, by_app = env.gh_req("POST", path, {"body": "app"}, token="ghs_app_token")
    _, _, by_bot = env.gh_req("POST", path, {"body": "bot"})
    assert (by_user["user"]["login"], by_user["user"]["type"]) == ("octocat", "User"), by_user
    assert (by_app["user"]["login"], by_app["user"]["type"]) == ("my-app[bot]", "Bot"), by_app
    assert (by_bot["user"]["login"], by_bot["user"]["type"]) == ("github-actions[bot]", "Bot")
    env.gh_req("PATCH", f"/repos/o/authors/issues/comments/{by_user['id']}", {"body": "x"})
    got = env.gh_state()["comments"]["o/authors"]["5"]
    assert got[0]["edited_by"] == ["github-actions[bot]"], got
    assert [c["user"] for c in got] == ["octocat", "my-app[bot]", "github-actions[bot]"], got


@test
def github_deployments(env):
    http("POST", env.gh_url + "/__fake/reset")
    mk = {"ref": "refs/pull/42/head", "environment": "pr-42", "transient_environment": True,
          "production_environment": False, "required_contexts": [], "auto_merge": False,
          "description": "deploy-action hello", "payload": {"app": "hello"}}
    st, _, d1 = env.gh_req("POST", "/repos/o/r/deployments", dict(mk, sha="a" * 40))
    assert st == 201, d1
    check_shape(d1, DEPLOYMENT_FIELDS + ["original_environment", "creator"], "deployment")
    check_shape(d1["creator"], AUTHOR_FIELDS, "deployment.creator")
    assert d1["sha"] == "a" * 40 and d1["transient_environment"] is True
    assert d1["payload"] == {"app": "hello"} and d1["task"] == "deploy"
    st, _, s1 = env.gh_req("POST", f"/repos/o/r/deployments/{d1['id']}/statuses", {
        "state": "success", "environment_url": "https://x.lambda-url.us-east-1.on.aws/",
        "log_url": "https://github.com/o/r/actions/runs/1", "description": "live"})
    assert st == 201, s1
    check_shape(s1, STATUS_FIELDS, "status")
    assert s1["environment"] == "pr-42" and s1["log_url"].endswith("/runs/1")
    st, _, d2 = env.gh_req("POST", "/repos/o/r/deployments", mk)
    assert len(d2["sha"]) == 40
    env.gh_req("POST", "/repos/o/r/deployments", dict(mk, environment="main"))
    env.gh_req("POST", f"/repos/o/r/deployments/{d2['id']}/statuses", {"state": "success"})
    _, _, statuses = env.gh_req("GET", f"/repos/o/r/deployments/{d1['id']}/statuses")
    assert [s["state"] for s in statuses] == ["inactive", "success"], statuses
    st, _, bad = env.gh_req("POST", f"/repos/o/r/deployments/{d1['id']}/statuses",
                            {"state": "bogus"})
    assert st == 422, bad
    _, _, listed = env.gh_req("GET", "/repos/o/r/deployments?environment=pr-42")
    assert [d["id"] for d in listed] == [d2["id"], d1["id"]], "newest first, filtered"
    _, h, paged = env.gh_req("GET", "/repos/o/r/deployments?per_page=1")
    assert len(paged) == 1 and 'page=3>; rel="last"' in h["Link"], h["Link"]
    assert env.gh_req("GET", f"/repos/o/r/deployments/{d1['id']}")[2]["id"] == d1["id"]
    assert env.gh_req("DELETE", f"/repos/o/r/deployments/{d2['id']}")[0] == 422
    assert env.gh_req("DELETE", f"/repos/o/r/deployments/{d1['id']}")[0] == 204
    state = env.gh_state()
    deps = state["deployments"]["o/r"]
    assert [d["state"] for d in deps] == ["success", None], deps
    http("POST", env.gh_url + "/__fake/config", {"deployments_forbidden": True})
    st, _, body = env.gh_req("POST", "/repos/o/r/deployments", mk)
    assert st == 403 and body["message"] == "Resource not accessible by integration", body
    assert env.gh_req("GET", "/repos/o/r/deployments")[0] == 403
    http("POST", env.gh_url + "/__fake/config", {"deployments_forbidden": False})
    assert env.gh_req("GET", "/repos/o/r/deployments")[0] == 200
    st, _, body = http("POST", env.gh_url + "/__fake/config", {"deployment_forbidden": True})
    assert st == 400, body


@test
def github_oidc_token(env):
    http("POST", env.gh_url + "/__fake/reset")
    url = env.gh_url + "/_apis/oidc/token?api-version=2.0&audience=sts.amazonaws.com"
    st, _, body = http("GET", url)
    assert st == 401, body
    st, _, body = http("GET", url, headers={"Authorization": "bearer wrong"})
    assert st == 401, body
    st, _, body = http("GET", url, headers={"Authorization": f"bearer {OIDC_REQUEST_TOKEN}"})
    assert st == 200 and body["count"] == 1, body
    header, payload, sig = body["value"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["aud"] == "sts.amazonaws.com" and claims["sub"].startswith("repo:"), claims
    assert claims["iss"] == "https://token.actions.githubusercontent.com"
    http("POST", env.gh_url + "/__fake/config",
         {"oidc_claims": {"sub": "repo:octocat@123/hello@456:ref:refs/heads/main"}})
    st, _, body = http("GET", url, headers={"Authorization": f"Bearer {OIDC_REQUEST_TOKEN}"})
    payload = body["value"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "repo:octocat@123/hello@456:ref:refs/heads/main"
    reqs = env.gh_state()["oidc_requests"]
    assert [(r["audience"], r["auth_ok"]) for r in reqs] == [
        ("sts.amazonaws.com", False), ("sts.amazonaws.com", False),
        ("sts.amazonaws.com", True), ("sts.amazonaws.com", True)], reqs
    assert reqs[2]["token"] != reqs[3]["token"]
    # the OIDC token endpoint does not accept the API token, nor the API the OIDC one
    st, _, _ = http("GET", url, headers={"Authorization": f"bearer {GH_TOKEN}"})
    assert st == 401
    assert env.gh_req("GET", "/repos/o/r/deployments", token=OIDC_REQUEST_TOKEN)[0] == 401


@test
def github_releases_assets_and_refs(env):
    """Issue 21: what release.yml and action/install.sh use."""
    http("POST", env.gh_url + "/__fake/reset")
    sha1, sha2 = "1" * 40, "2" * 40
    assert http("POST", env.gh_url + "/__fake/refs",
                {"repo": "o/r", "refs": {"refs/tags/v1.0.0": sha1}})[0] == 201
    st, _, rel = env.gh_req("POST", "/repos/o/r/releases",
                            {"tag_name": "v1.0.0", "draft": True, "generate_release_notes": True})
    assert st == 201 and rel["draft"] and rel["upload_url"].endswith("/assets{?name,label}"), rel
    assert env.gh_req("POST", "/repos/o/r/releases", {"tag_name": "v1.0.0"})[0] == 422
    upload = rel["upload_url"].split("{")[0]
    st, _, body = env.gh_req("POST", upload + "?name=a.tar.gz", b"bytes",
                             headers={"Content-Type": "application/gzip"})
    assert st == 201 and body["content_type"] == "application/gzip" and body["size"] == 5, body
    assert env.gh_req("POST", upload + "?name=a.tar.gz", b"again",
                      headers={"Content-Type": "application/gzip"})[0] == 422
    assert env.gh_req("POST", upload + "?name=b", b"x", token=None,
                      headers={"Content-Type": "text/plain"})[0] == 401
    # a draft is neither found by tag nor downloadable
    assert env.gh_req("GET", "/repos/o/r/releases/tags/v1.0.0")[0] == 404
    assert http("GET", env.gh_url + "/o/r/releases/download/v1.0.0/a.tar.gz")[0] == 404
    st, _, rel = env.gh_req("PATCH", f"/repos/o/r/releases/{rel['id']}", {"draft": False})
    assert st == 200 and not rel["draft"] and rel["published_at"], rel
    st, _, got = env.gh_req("GET", "/repos/o/r/releases/tags/v1.0.0")
    assert st == 200 and [a["name"] for a in got["assets"]] == ["a.tar.gz"], got
    st, _, raw = http("GET", env.gh_url + "/o/r/releases/download/v1.0.0/a.tar.gz")
    assert st == 200 and raw == b"bytes", raw
    assert http("GET", env.gh_url + "/o/r/releases/download/v1.0.0/nope")[0] == 404
    aid = got["assets"][0]["id"]
    st, _, raw = env.gh_req("GET", f"/repos/o/r/releases/assets/{aid}",
                            headers={"Accept": "application/octet-stream"})
    assert st == 200 and raw == b"bytes"
    # refs: create, refuse a duplicate, move only with force
    assert env.gh_req("GET", "/repos/o/r/git/ref/tags/v1")[0] == 404
    assert env.gh_req("PATCH", "/repos/o/r/git/refs/tags/v1", {"sha": sha1})[0] == 422
    assert env.gh_req("POST", "/repos/o/r/git/refs",
                      {"ref": "refs/tags/v1", "sha": sha1})[0] == 201
    assert env.gh_req("POST", "/repos/o/r/git/refs",
                      {"ref": "refs/tags/v1", "sha": sha1})[0] == 422
    assert env.gh_req("PATCH", "/repos/o/r/git/refs/tags/v1", {"sha": sha2})[0] == 422
    st, _, ref = env.gh_req("PATCH", "/repos/o/r/git/refs/tags/v1", {"sha": sha2, "force": True})
    assert st == 200 and ref["object"]["sha"] == sha2, ref
    assert env.gh_req("GET", "/repos/o/r/git/ref/tags/v1")[2]["object"]["sha"] == sha2
    # attestations keyed by subject digest
    digest = hashlib.sha256(b"bytes").hexdigest()
    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": "a.tar.gz", "digest": {"sha256": digest}}],
                 "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}}
    bundle = {"dsseEnvelope": {"payload": base64.b64encode(json.dumps(statement).encode()).decode(),
                               "payloadType": "application/vnd.in-toto+json", "signatures": []}}
    assert env.gh_req("POST", "/repos/o/r/attestations", {"bundle": bundle})[0] == 201
    st, _, body = env.gh_req("GET", f"/repos/o/r/attestations/sha256:{digest}")
    assert st == 200 and len(body["attestations"]) == 1, body
    assert env.gh_req("GET", f"/repos/o/r/attestations/sha256:{'0' * 64}")[0] == 404
    state = env.gh_state()
    assert state["refs"]["o/r"] == {"refs/tags/v1.0.0": sha1, "refs/tags/v1": sha2}
    assert [(u["method"], u["sha"]) for u in state["ref_updates"]] == [("POST", sha1),
                                                                     ("PATCH", sha2)]
    asset = state["releases"]["o/r"][0]["assets"][0]
    assert asset["sha256"] == digest and asset["downloads"] == 2, asset
    assert state["attestations"][0]["subjects"] == [{"name": "a.tar.gz", "sha256": digest}]


@test
def github_fixed_oidc_token(env):
    fixed = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln"
    gh = Proc([sys.executable, os.path.join(HERE, "fake_github.py"), "--port", "0", "--token",
               "t", "--oidc-request-token", "r", "--oidc-token", fixed])
    try:
        st, _, body = http("GET", f"http://127.0.0.1:{gh.port}/_apis/oidc/token?api-version=2.0",
                           headers={"Authorization": "Bearer r"})
        assert st == 200 and body["value"] == fixed, body
    finally:
        code, rest = gh.stop()
    assert code == 0 and rest == "", (code, rest)


# ---------------------------------------------------------------------------------------


def main():
    only = None
    if "-k" in sys.argv:
        only = sys.argv[sys.argv.index("-k") + 1]
    passed = failed = 0
    env = None
    try:
        env = Env()
    except Exception:
        traceback.print_exc()
        if env is not None:
            env.stop()
        print("0 passed, 1 failed")
        return 1
    try:
        for fn in TESTS:
            if only and only not in fn.__name__:
                continue
            t = time.monotonic()
            try:
                fn(env)
                passed += 1
                print(f"ok   {fn.__name__} ({time.monotonic() - t:.1f}s)", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {fn.__name__}", flush=True)
                traceback.print_exc()
    finally:
        stopped = env.stop()
    for name in ("proxy", "gh"):
        code, rest = stopped[name]
        if code == 0 and rest == "":
            passed += 1
            print(f"ok   {name}_exits_cleanly_on_sigterm", flush=True)
        else:
            failed += 1
            print(f"FAIL {name}_exits_cleanly_on_sigterm: exit {code}, extra stdout {rest!r}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
