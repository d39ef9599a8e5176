#!/usr/bin/env python3
"""Fault-injecting HTTP proxy in front of moto for deploy-action's integration tests.

moto answers every Lambda call at once and never refuses one, so a client tested only
against moto never meets what a real account does every day: functions that stay
Pending / InProgress after a write (and answer further writes with 409), throttling,
5xx, preconditions on CodeSha256 and RevisionId, dropped uploads. This proxy forwards
everything to moto and adds those behaviours, switched on per test through a small
control API on the same port (see tests/support/README.md for the full contract).

Standard library only (Python 3.11): the Rust tests start it as a subprocess with any
python3, without the tool venv.

    python3 fault_proxy.py --upstream http://127.0.0.1:5000 --port 0 [--seed 1] [--verbose]

prints exactly one line `PORT <n>` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import http.client
import json
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ---------------------------------------------------------------------------------------
# Operation tables
# ---------------------------------------------------------------------------------------

# Every operation of the Lambda REST API (botocore 1.43 data/lambda/2015-03-31/service-2.json,
# method, requestUri, name). Kept inline so the proxy needs no botocore; test_servers.py
# checks this table against the installed botocore so drift is caught.
LAMBDA_ROUTES = [
    ("POST", "/2014-11-13/functions/{FunctionName}/invoke-async", "InvokeAsync"),
    ("GET", "/2015-03-31/event-source-mappings", "ListEventSourceMappings"),
    ("POST", "/2015-03-31/event-source-mappings", "CreateEventSourceMapping"),
    ("DELETE", "/2015-03-31/event-source-mappings/{UUID}", "DeleteEventSourceMapping"),
    ("GET", "/2015-03-31/event-source-mappings/{UUID}", "GetEventSourceMapping"),
    ("PUT", "/2015-03-31/event-source-mappings/{UUID}", "UpdateEventSourceMapping"),
    ("GET", "/2015-03-31/functions", "ListFunctions"),
    ("POST", "/2015-03-31/functions", "CreateFunction"),
    ("DELETE", "/2015-03-31/functions/{FunctionName}", "DeleteFunction"),
    ("GET", "/2015-03-31/functions/{FunctionName}", "GetFunction"),
    ("GET", "/2015-03-31/functions/{FunctionName}/aliases", "ListAliases"),
    ("POST", "/2015-03-31/functions/{FunctionName}/aliases", "CreateAlias"),
    ("DELETE", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "DeleteAlias"),
    ("GET", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "GetAlias"),
    ("PUT", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "UpdateAlias"),
    ("PUT", "/2015-03-31/functions/{FunctionName}/code", "UpdateFunctionCode"),
    ("GET", "/2015-03-31/functions/{FunctionName}/configuration", "GetFunctionConfiguration"),
    ("PUT", "/2015-03-31/functions/{FunctionName}/configuration", "UpdateFunctionConfiguration"),
    ("POST", "/2015-03-31/functions/{FunctionName}/invocations", "Invoke"),
    ("GET", "/2015-03-31/functions/{FunctionName}/policy", "GetPolicy"),
    ("POST", "/2015-03-31/functions/{FunctionName}/policy", "AddPermission"),
    ("DELETE", "/2015-03-31/functions/{FunctionName}/policy/{StatementId}", "RemovePermission"),
    ("GET", "/2015-03-31/functions/{FunctionName}/versions", "ListVersionsByFunction"),
    ("POST", "/2015-03-31/functions/{FunctionName}/versions", "PublishVersion"),
    ("GET", "/2016-08-19/account-settings", "GetAccountSettings"),
    ("DELETE", "/2017-03-31/tags/{Resource}", "UntagResource"),
    ("GET", "/2017-03-31/tags/{Resource}", "ListTags"),
    ("POST", "/2017-03-31/tags/{Resource}", "TagResource"),
    ("DELETE", "/2017-10-31/functions/{FunctionName}/concurrency", "DeleteFunctionConcurrency"),
    ("PUT", "/2017-10-31/functions/{FunctionName}/concurrency", "PutFunctionConcurrency"),
    ("GET", "/2018-10-31/layers", "ListLayers"),
    ("GET", "/2018-10-31/layers/{LayerName}/versions", "ListLayerVersions"),
    ("POST", "/2018-10-31/layers/{LayerName}/versions", "PublishLayerVersion"),
    ("DELETE", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}", "DeleteLayerVersion"),
    ("GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}", "GetLayerVersion"),
    ("GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy", "GetLayerVersionPolicy"),
    ("POST", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy", "AddLayerVersionPermission"),
    ("DELETE", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}", "RemoveLayerVersionPermission"),
    ("GET", "/2018-10-31/layers?find=LayerVersion", "GetLayerVersionByArn"),
    ("DELETE", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "DeleteFunctionEventInvokeConfig"),
    ("GET", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "GetFunctionEventInvokeConfig"),
    ("POST", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "UpdateFunctionEventInvokeConfig"),
    ("PUT", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "PutFunctionEventInvokeConfig"),
    ("GET", "/2019-09-25/functions/{FunctionName}/event-invoke-config/list", "ListFunctionEventInvokeConfigs"),
    ("GET", "/2019-09-30/functions/{FunctionName}/concurrency", "GetFunctionConcurrency"),
    ("DELETE", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "DeleteProvisionedConcurrencyConfig"),
    ("GET", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "GetProvisionedConcurrencyConfig"),
    ("PUT", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "PutProvisionedConcurrencyConfig"),
    ("GET", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL", "ListProvisionedConcurrencyConfigs"),
    ("GET", "/2020-04-22/code-signing-configs", "ListCodeSigningConfigs"),
    ("POST", "/2020-04-22/code-signing-configs", "CreateCodeSigningConfig"),
    ("DELETE", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}", "DeleteCodeSigningConfig"),
    ("GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}", "GetCodeSigningConfig"),
    ("PUT", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}", "UpdateCodeSigningConfig"),
    ("GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}/functions", "ListFunctionsByCodeSigningConfig"),
    ("DELETE", "/2020-06-30/functions/{FunctionName}/code-signing-config", "DeleteFunctionCodeSigningConfig"),
    ("GET", "/2020-06-30/functions/{FunctionName}/code-signing-config", "GetFunctionCodeSigningConfig"),
    ("PUT", "/2020-06-30/functions/{FunctionName}/code-signing-config", "PutFunctionCodeSigningConfig"),
    ("GET", "/2021-07-20/functions/{FunctionName}/runtime-management-config", "GetRuntimeManagementConfig"),
    ("PUT", "/2021-07-20/functions/{FunctionName}/runtime-management-config", "PutRuntimeManagementConfig"),
    ("DELETE", "/2021-10-31/functions/{FunctionName}/url", "DeleteFunctionUrlConfig"),
    ("GET", "/2021-10-31/functions/{FunctionName}/url", "GetFunctionUrlConfig"),
    ("POST", "/2021-10-31/functions/{FunctionName}/url", "CreateFunctionUrlConfig"),
    ("PUT", "/2021-10-31/functions/{FunctionName}/url", "UpdateFunctionUrlConfig"),
    ("GET", "/2021-10-31/functions/{FunctionName}/urls", "ListFunctionUrlConfigs"),
    ("POST", "/2021-11-15/functions/{FunctionName}/response-streaming-invocations", "InvokeWithResponseStream"),
    ("GET", "/2024-08-31/functions/{FunctionName}/recursion-config", "GetFunctionRecursionConfig"),
    ("PUT", "/2024-08-31/functions/{FunctionName}/recursion-config", "PutFunctionRecursionConfig"),
    ("GET", "/2025-11-30/capacity-providers", "ListCapacityProviders"),
    ("POST", "/2025-11-30/capacity-providers", "CreateCapacityProvider"),
    ("DELETE", "/2025-11-30/capacity-providers/{CapacityProviderName}", "DeleteCapacityProvider"),
    ("GET", "/2025-11-30/capacity-providers/{CapacityProviderName}", "GetCapacityProvider"),
    ("PUT", "/2025-11-30/capacity-providers/{CapacityProviderName}", "UpdateCapacityProvider"),
    ("GET", "/2025-11-30/capacity-providers/{CapacityProviderName}/function-versions", "ListFunctionVersionsByCapacityProvider"),
    ("GET", "/2025-11-30/functions/{FunctionName}/function-scaling-config", "GetFunctionScalingConfig"),
    ("PUT", "/2025-11-30/functions/{FunctionName}/function-scaling-config", "PutFunctionScalingConfig"),
    ("POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/fail", "SendDurableExecutionCallbackFailure"),
    ("POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat", "SendDurableExecutionCallbackHeartbeat"),
    ("POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/succeed", "SendDurableExecutionCallbackSuccess"),
    ("GET", "/2025-12-01/durable-executions/{DurableExecutionArn}", "GetDurableExecution"),
    ("POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/checkpoint", "CheckpointDurableExecution"),
    ("GET", "/2025-12-01/durable-executions/{DurableExecutionArn}/history", "GetDurableExecutionHistory"),
    ("GET", "/2025-12-01/durable-executions/{DurableExecutionArn}/state", "GetDurableExecutionState"),
    ("POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/stop", "StopDurableExecution"),
    ("GET", "/2025-12-01/functions/{FunctionName}/durable-executions", "ListDurableExecutionsByFunction"),
]

# IAM action names where they differ from the API operation name.
LAMBDA_IAM = {
    "Invoke": "InvokeFunction",
    "InvokeWithResponseStream": "InvokeFunction",
    "GetLayerVersionByArn": "GetLayerVersion",
}

S3_IAM = {
    "HeadObject": "GetObject",
    "GetObjectAttributes": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "CopyObject": "PutObject",
    "ListParts": "ListMultipartUploadParts",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "DeleteObjects": "DeleteObject",
    "ListBuckets": "ListAllMyBuckets",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
}

# Subresource query keys, checked in this order, for S3 bucket- and object-level requests.
S3_BUCKET_SUB = {
    "PUT": [("tagging", "PutBucketTagging"), ("versioning", "PutBucketVersioning"),
            ("policy", "PutBucketPolicy"), ("lifecycle", "PutBucketLifecycleConfiguration"),
            ("acl", "PutBucketAcl"), ("cors", "PutBucketCors"),
            ("encryption", "PutBucketEncryption"), ("publicAccessBlock", "PutPublicAccessBlock"),
            ("ownershipControls", "PutBucketOwnershipControls"),
            ("notification", "PutBucketNotificationConfiguration")],
    "GET": [("list-type", "ListObjectsV2"), ("versions", "ListObjectVersions"),
            ("uploads", "ListMultipartUploads"), ("location", "GetBucketLocation"),
            ("tagging", "GetBucketTagging"), ("versioning", "GetBucketVersioning"),
            ("policy", "GetBucketPolicy"), ("lifecycle", "GetBucketLifecycleConfiguration"),
            ("acl", "GetBucketAcl"), ("cors", "GetBucketCors"),
            ("encryption", "GetBucketEncryption"), ("publicAccessBlock", "GetPublicAccessBlock"),
            ("ownershipControls", "GetBucketOwnershipControls")],
    "DELETE": [("tagging", "DeleteBucketTagging"), ("policy", "DeleteBucketPolicy"),
               ("lifecycle", "DeleteBucketLifecycle"), ("cors", "DeleteBucketCors"),
               ("encryption", "DeleteBucketEncryption"),
               ("publicAccessBlock", "DeletePublicAccessBlock")],
    "POST": [("delete", "DeleteObjects")],
}
S3_OBJECT_SUB = {
    "GET": [("uploadId", "ListParts"), ("tagging", "GetObjectTagging"),
            ("acl", "GetObjectAcl"), ("attributes", "GetObjectAttributes")],
    "DELETE": [("uploadId", "AbortMultipartUpload"), ("tagging", "DeleteObjectTagging")],
    "POST": [("uploads", "CreateMultipartUpload"), ("uploadId", "CompleteMultipartUpload"),
             ("restore", "RestoreObject")],
}
S3_OPERATIONS = sorted(
    {"ListBuckets", "CreateBucket", "ListObjects", "HeadBucket", "DeleteBucket", "GetObject",
     "HeadObject", "PutObject", "DeleteObject", "CopyObject", "UploadPart", "UploadPartCopy",
     "PutObjectTagging", "PutObjectAcl"}
    | {op for subs in S3_BUCKET_SUB.values() for _, op in subs}
    | {op for subs in S3_OBJECT_SUB.values() for _, op in subs}
)

# Lambda writes that the busy window (Pending / InProgress) refuses, as Lambda does.
BUSY_REFUSED = {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion"}

# Lambda operations that change a function: serialised per function so that a precondition
# check and the write it guards are atomic, like Lambda's own optimistic locking.
LAMBDA_MUTATING = {
    "CreateFunction", "DeleteFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration",
    "PublishVersion", "CreateAlias", "UpdateAlias", "DeleteAlias", "AddPermission",
    "RemovePermission", "CreateFunctionUrlConfig", "UpdateFunctionUrlConfig",
    "DeleteFunctionUrlConfig", "TagResource", "UntagResource", "PutFunctionConcurrency",
    "DeleteFunctionConcurrency",
}

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "expect", "proxy-connection",
}

DEFAULT_CONFIG = {
    "throttle": 0.0,
    "throttle_retry_after": "1",
    "error5xx": 0.0,
    "error5xx_after": 0.0,
    "busy_seconds": 0.0,
    "enforce_code_sha256": False,
    "enforce_revision_id": False,
    "publish_delay": 0.0,
    "op_delay": {},
    "drop_upload": 0.0,
    "fail_ops": {},
    "invoke": {},
    "seed": None,
    "only_ops": None,
    "moto_fixes": True,
    # Lambda's asynchronous update failing: every UpdateFunctionCode/Configuration made while
    # this holds a reason ends with LastUpdateStatus Failed and that reason (after the busy
    # window), until an update made while it is null succeeds. moto never fails an update.
    "fail_updates": None,
    # SnapStart: a version published with SnapStart ApplyOn=PublishedVersions stays Pending
    # this long while Lambda takes its snapshot (AWS "Improving startup performance with
    # Lambda SnapStart": Lambda initialises the function when a version is published; the
    # version is ready once the snapshot is). moto has no SnapStart: it always answers
    # ApplyOn None, OptimizationStatus Off.
    "snapstart_seconds": 0.0,
    # {"<role arn>": seconds}: a role IAM has just created, which Lambda can't assume yet
    # (see ROLE_PROPAGATION_MESSAGE).
    "role_propagation": {},
    # {"<bucket>": "<region>"}: buckets that live in another region (see bucket_redirect()).
    "bucket_regions": {},
    # true, or a list of function names: the caller lacks lambda:ListTags (see deny_tags()).
    "deny_list_tags": False,
    # {"lambda:AddPermission": {"kind": "in_progress" | "statement_exists", "count": n}}:
    # 409 presets with Lambda's real messages (see CONFLICT_KINDS).
    "conflict_ops": {},
    # "rules": every Invoke is answered from `invoke` rules (default answer 200 "ok").
    # "run": an Invoke no rule matches runs the function's own code from moto's S3 in a host
    # Python subprocess (invoke_runner.py), since moto can't execute functions without Docker.
    "invoke_mode": "rules",
    # GetAccountSettings (moto 5.2.1 has no such route): AccountLimit.TotalCodeSize, default
    # Lambda's 75 GB per region (see account_settings below).
    "account_code_size_limit": 80530636800,
    # CloudWatch Logs StartLiveTail (moto 5.2.1 has none: its server answers 500): true answers
    # it as AWS does, with an event stream fed from moto's log events (see live_tail below).
    "live_tail": False,
    # How long a live tail session lasts before SessionTimeoutException (AWS: three hours).
    "live_tail_session_seconds": 10800.0,
}
PROBABILITIES = ("throttle", "error5xx", "error5xx_after", "drop_upload")
MAP_KEYS = ("op_delay", "fail_ops", "invoke", "role_propagation", "bucket_regions",
            "conflict_ops")

# What Lambda answers CreateFunction / UpdateFunctionConfiguration for an execution role it
# can't assume yet: IAM is eventually consistent, so a role created seconds earlier gets this
# for a while (transcripts: alexcasalboni/aws-lambda-power-tuning#69, noppoMan/Hexaville#74
# "Need to wait a sec", Pizzaface/Alexa-Chromecast-Skill-2.0#9 "I added a sleep 30";
# aws-controllers-k8s/lambda-controller#103 retries it for "role not ready for assumption").
ROLE_PROPAGATION_MESSAGE = "The role defined for the function cannot be assumed by Lambda."

# 409 ResourceConflictException presets for `conflict_ops`, with Lambda's own messages:
# - in_progress: the message Lambda gives any write while an update of the function is under
#   way (AWS docs, "Lambda function states": "The operation cannot be performed at this time.
#   An update is in progress for resource: ..."; aws/aws-cdk#30386, hashicorp/terraform-
#   provider-aws#17153 quote it for AddPermission / UpdateAlias).
# - statement_exists: AddPermission with a StatementId the policy already has (quoted in
#   hashicorp/terraform-provider-aws#1565 and serverless/serverless#4526).
CONFLICT_KINDS = ("in_progress", "statement_exists")

LATEST_SUFFIX_RE = re.compile(r"(?:%3A|:)(?:%24|\$)LATEST(?=/|$)", re.IGNORECASE)
SCOPE_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")



def _botocore_routes():
    """Lambda's routes from the installed botocore's service model (newer than the table
    above when AWS adds operations); None without botocore."""
    try:
        import botocore.session
    except ImportError:
        return None
    model = botocore.session.get_session().get_service_model("lambda")
    return [(model.operation_model(n).http["method"], model.operation_model(n).http["requestUri"], n)
            for n in model.operation_names]


LAMBDA_ROUTES = sorted(set(LAMBDA_ROUTES) | set(_botocore_routes() or []))

def all_operations() -> set[str]:
    ops = {f"lambda:{op}" for _, _, op in LAMBDA_ROUTES}
    ops |= {f"s3:{op}" for op in S3_OPERATIONS}
    return ops


def compile_routes():
    compiled = []
    for method, uri, op in LAMBDA_ROUTES:
        path, _, q = uri.partition("?")
        required = dict(urllib.parse.parse_qsl(q)) if q else {}
        segs = path.strip("/").split("/")
        literals = sum(1 for s in segs if not s.startswith("{"))
        compiled.append((method, segs, required, op, literals))
    # Routes that need a query key first (GetLayerVersionByArn, ListProvisionedConcurrency...),
    # then the most literal segments, so `/x/{a}/list` beats `/x/{a}/{b}`.
    compiled.sort(key=lambda r: (not r[2], -r[4]))
    return compiled


COMPILED_ROUTES = compile_routes()


def match_lambda(method: str, raw_path: str, query: dict):
    segs = [urllib.parse.unquote(s) for s in raw_path.strip("/").split("/")]
    for m, tsegs, required, op, _ in COMPILED_ROUTES:
        if m != method or len(tsegs) != len(segs):
            continue
        if any(query.get(k) != v for k, v in required.items()):
            continue
        params = {}
        for t, s in zip(tsegs, segs):
            if t.startswith("{"):
                params[t.strip("{}+")] = s
            elif t != s:
                break
        else:
            return op, params
    return None, {}


def split_function_ref(ref: str):
    """Name and qualifier from a name, `name:qualifier`, a full or a partial ARN."""
    if not ref:
        return None, None
    parts = ref.split(":")
    if ref.startswith("arn:") and len(parts) >= 7:
        return parts[6], (parts[7] if len(parts) > 7 else None)
    if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:q]
        return parts[2], (parts[3] if len(parts) > 3 else None)
    if len(parts) == 2:
        return parts[0], parts[1]
    return ref, None


def flat_query(raw: str) -> dict:
    out = {}
    for k, v in urllib.parse.parse_qsl(raw, keep_blank_values=True):
        out[k] = v
    return out


# Configuration moto's UpdateFunctionConfiguration drops (see FunctionState.latest_extra).
EXTRA_CONFIG = ("TracingConfig", "EphemeralStorage", "SnapStart")

# Request fields of JSON-protocol services that carry secret values: never logged.
SECRET_FIELDS = {"Value", "SecretString", "SecretBinary"}


def redact_request_json(obj):
    """Lambda request body for the log: zip bytes are replaced by their size."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "ZipFile" and isinstance(v, str):
                out[k] = f"<{len(v) * 3 // 4} bytes>"
            else:
                out[k] = redact_request_json(v)
        return out
    if isinstance(obj, list):
        return [redact_request_json(v) for v in obj]
    return obj


class ConfigError(ValueError):
    pass


# ---------------------------------------------------------------------------------------
# Shared state
# ---------------------------------------------------------------------------------------


class FunctionState:
    """What the proxy knows about one function beyond moto (keyed by region and name)."""

    def __init__(self):
        self.lock = threading.Lock()  # serialises mutating calls to this function
        self.busy_kind = None  # "create" | "update"
        self.busy_until = 0.0
        self.arn = None
        # moto has no RevisionId for functions and never changes an alias's RevisionId,
        # so the proxy keeps its own and writes them into the responses.
        self.latest_rev = str(uuid.uuid4())
        self.version_revs: dict[str, str] = {}
        self.alias_revs: dict[str, str] = {}
        self.url_qualifier = None  # which qualifier owns the (single, in moto) URL config
        # moto numbers a new version len(versions)+1, so after a version is deleted it hands
        # out a number twice; Lambda never reuses one. The proxy keeps deleted versions in
        # moto and hides them instead.
        self.deleted_versions: set[str] = set()
        # moto ignores UpdateFunctionCode's Architectures; Lambda applies it to $LATEST and
        # the versions published from it.
        self.latest_arch = None
        self.version_arch: dict[str, str] = {}
        # The reason the last update of $LATEST failed (fail_updates), or None.
        self.update_failed = None
        # moto 5.2 applies TracingConfig and EphemeralStorage on CreateFunction only; its
        # UpdateFunctionConfiguration ignores them (moto/awslambda/models.py
        # update_configuration), while Lambda's UpdateFunctionConfiguration API reference
        # lists both as updatable. The proxy keeps what was last written and shows it on
        # $LATEST and on the versions published from it.
        self.latest_extra: dict = {}
        self.version_extra: dict[str, dict] = {}
        # Versions published with SnapStart: Pending until this monotonic time.
        self.snapshot_until: dict[str, float] = {}
        # Provisioned concurrency per qualifier (see provisioned_concurrency()).
        self.provisioned: dict[str, dict] = {}

    def busy(self, now):
        if self.busy_kind and now < self.busy_until:
            return self.busy_kind
        return None

    def snapshot(self, now):
        return {
            "busy": self.busy(now),
            "busy_remaining": max(0.0, self.busy_until - now) if self.busy(now) else 0.0,
            "arn": self.arn,
            "latest_revision_id": self.latest_rev,
            "version_revision_ids": dict(self.version_revs),
            "alias_revision_ids": dict(self.alias_revs),
            "url_qualifier": self.url_qualifier,
        }


class ProxyState:
    def __init__(self, upstream: str, seed, verbose: bool):
        u = urllib.parse.urlsplit(upstream)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit("--upstream must be http://host:port")
        self.up_host = u.hostname
        self.up_port = u.port or 80
        self.verbose = verbose
        self.lock = threading.Lock()
        self.cli_seed = seed
        self.rng = random.Random(seed)
        self.config = copy.deepcopy(DEFAULT_CONFIG)
        self.config["seed"] = seed
        self.fail_counts: dict[str, int | None] = {}
        self.conflict_counts: dict[str, int | None] = {}
        self.role_until: dict[str, float] = {}
        # Per (operation, resource) request counters behind the random faults (see draw()).
        self.sequences: dict[tuple, int] = {}
        self.functions: dict[tuple, FunctionState] = {}
        self.log: list[dict] = []
        self.issued_secrets: list[str] = []
        self.known_ops = all_operations()

    # -- configuration ----------------------------------------------------------------
    def merge_config(self, patch: dict):
        if not isinstance(patch, dict):
            raise ConfigError("config must be a JSON object")
        with self.lock:
            new = copy.deepcopy(self.config)
            for key, value in patch.items():
                if key not in DEFAULT_CONFIG:
                    raise ConfigError(
                        f"unknown config field {key!r}; known: {sorted(DEFAULT_CONFIG)}")
                if key in MAP_KEYS:
                    if value is None:
                        new[key] = {}
                        continue
                    if not isinstance(value, dict):
                        raise ConfigError(f"{key} must be an object")
                    for k, v in value.items():
                        if v is None:
                            new[key].pop(k, None)
                        else:
                            new[key][k] = v
                else:
                    new[key] = value
            self._validate(new)
            fail_counts = dict(self.fail_counts)
            if "fail_ops" in patch:
                for op, rule in (patch["fail_ops"] or {}).items():
                    if rule is None:
                        fail_counts.pop(op, None)
                    else:
                        fail_counts[op] = rule.get("count")
                if patch["fail_ops"] is None:
                    fail_counts = {}
            conflict_counts = dict(self.conflict_counts)
            if "conflict_ops" in patch:
                if patch["conflict_ops"] is None:
                    conflict_counts = {}
                for op, rule in (patch["conflict_ops"] or {}).items():
                    if rule is None:
                        conflict_counts.pop(op, None)
                    else:
                        conflict_counts[op] = rule.get("count")
            role_until = dict(self.role_until)
            if "role_propagation" in patch:
                if patch["role_propagation"] is None:
                    role_until = {}
                now = time.monotonic()
                for arn, secs in (patch["role_propagation"] or {}).items():
                    if secs is None:
                        role_until.pop(arn, None)
                    else:
                        # The role "was created" when the knob is set.
                        role_until[arn] = now + float(secs)
            self.config = new
            self.fail_counts = fail_counts
            self.conflict_counts = conflict_counts
            self.role_until = role_until
            if "seed" in patch:
                self.rng = random.Random(patch["seed"])
                self.sequences = {}
            return self.config_view()

    def _validate(self, cfg):
        for key in PROBABILITIES:
            v = cfg[key]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
                raise ConfigError(f"{key} must be a probability between 0 and 1")
        for key in ("busy_seconds", "publish_delay", "snapstart_seconds",
                    "live_tail_session_seconds"):
            v = cfg[key]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"{key} must be a number of seconds >= 0")
        for key in ("enforce_code_sha256", "enforce_revision_id", "moto_fixes", "live_tail"):
            if not isinstance(cfg[key], bool):
                raise ConfigError(f"{key} must be true or false")
        if cfg["invoke_mode"] not in ("rules", "run"):
            raise ConfigError("invoke_mode must be \"rules\" or \"run\"")
        if cfg["fail_updates"] is not None and not isinstance(cfg["fail_updates"], str):
            raise ConfigError("fail_updates must be a reason (string) or null")
        ra = cfg["throttle_retry_after"]
        if ra is not None and not isinstance(ra, str):
            raise ConfigError("throttle_retry_after must be a string (header value) or null")
        for op, delay in cfg["op_delay"].items():
            # Any service: a deploy's CloudWatch Logs and STS requests cost a round trip too.
            self._check_op(op, "op_delay", allow_any_service=True)
            if not isinstance(delay, (int, float)) or delay < 0:
                raise ConfigError(f"op_delay[{op}] must be seconds >= 0")
        for op, rule in cfg["fail_ops"].items():
            self._check_op(op, "fail_ops", allow_any_service=True)
            if not isinstance(rule, dict) or not isinstance(rule.get("status"), int):
                raise ConfigError(f"fail_ops[{op}] needs at least an integer status")
            if "count" in rule and rule["count"] is not None and not isinstance(rule["count"], int):
                raise ConfigError(f"fail_ops[{op}].count must be an integer")
        for key, rule in cfg["invoke"].items():
            if not isinstance(rule, dict) or ":" not in key and key != "*":
                raise ConfigError(f"invoke rule {key!r} must be '<function>:<version>' -> object")
        for arn, secs in cfg["role_propagation"].items():
            if not isinstance(secs, (int, float)) or isinstance(secs, bool) or secs < 0:
                raise ConfigError(f"role_propagation[{arn}] must be seconds >= 0")
            if not str(arn).startswith("arn:"):
                raise ConfigError(f"role_propagation: {arn!r} is not a role ARN")
        for bucket, region in cfg["bucket_regions"].items():
            if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
                raise ConfigError(f"bucket_regions[{bucket}] must be a region like eu-west-1")
        deny = cfg["deny_list_tags"]
        if not isinstance(deny, bool) and not (
                isinstance(deny, list) and all(isinstance(f, str) for f in deny)):
            raise ConfigError("deny_list_tags must be true, false or a list of function names")
        for op, rule in cfg["conflict_ops"].items():
            self._check_op(op, "conflict_ops")
            if not op.startswith("lambda:"):
                raise ConfigError(f"conflict_ops: {op} is not a Lambda operation")
            if not isinstance(rule, dict) or rule.get("kind") not in CONFLICT_KINDS:
                raise ConfigError(f"conflict_ops[{op}].kind must be one of {CONFLICT_KINDS}")
            if rule.get("count") is not None and not isinstance(rule["count"], int):
                raise ConfigError(f"conflict_ops[{op}].count must be an integer")
            unknown = set(rule) - {"kind", "count"}
            if unknown:
                raise ConfigError(f"conflict_ops[{op}]: unknown fields {sorted(unknown)}")
        only = cfg["only_ops"]
        if only is not None:
            if not isinstance(only, list):
                raise ConfigError("only_ops must be a list of operations or null")
            for op in only:
                self._check_op(op, "only_ops")
        seed = cfg["seed"]
        if seed is not None and not isinstance(seed, (int, str)):
            raise ConfigError("seed must be an integer, a string or null")

    def _check_op(self, op, field, allow_any_service=False):
        if op in self.known_ops:
            return
        svc = op.split(":", 1)[0]
        if allow_any_service and ":" in op and svc not in ("lambda", "s3"):
            return  # e.g. sts:AssumeRoleWithWebIdentity
        raise ConfigError(f"{field}: unknown operation {op!r} (use e.g. lambda:UpdateFunctionCode)")

    def config_view(self):
        view = copy.deepcopy(self.config)
        view["fail_ops_remaining"] = dict(self.fail_counts)
        view["conflict_ops_remaining"] = dict(self.conflict_counts)
        now = time.monotonic()
        view["role_propagation_remaining"] = {
            arn: round(max(0.0, until - now), 3) for arn, until in self.role_until.items()}
        return view

    def reset(self):
        with self.lock:
            self.config = copy.deepcopy(DEFAULT_CONFIG)
            self.config["seed"] = self.cli_seed
            self.fail_counts = {}
            self.conflict_counts = {}
            self.role_until = {}
            self.sequences = {}
            self.rng = random.Random(self.cli_seed)
            for st in self.functions.values():
                st.busy_kind = None
                st.busy_until = 0.0

    # -- random choices ---------------------------------------------------------------
    def chance(self, p: float) -> bool:
        """One draw of the shared generator (not used for faults: see draw())."""
        if p <= 0:
            return False
        with self.lock:
            return self.rng.random() < p

    def draw(self, call: "Call", fault: str, p: float) -> bool:
        """Does `fault` hit this request? Decided per request, deterministically: the n-th
        request of one operation on one resource (function, bucket) gets the same draws for a
        given seed, whatever other requests run at the same time. One shared generator would
        hand its numbers out in arrival order, so two concurrent calls could swap faults from
        one run to the next."""
        if p <= 0:
            return False
        if call.seq is None:
            key = (call.op, call.function or call.bucket or "")
            with self.lock:
                call.seq = self.sequences.get(key, 0)
                self.sequences[key] = call.seq + 1
        seed = self.config.get("seed")
        rng = random.Random(f"{seed}|{call.op}|{call.function or call.bucket or ''}|"
                            f"{call.seq}|{fault}")
        return rng.random() < p

    def take_conflict_rule(self, op):
        with self.lock:
            rule = self.config["conflict_ops"].get(op)
            if rule is None:
                return None
            left = self.conflict_counts.get(op)
            if left is None:
                return rule
            if left <= 0:
                return None
            self.conflict_counts[op] = left - 1
            return rule

    def role_propagating(self, arn) -> bool:
        with self.lock:
            until = self.role_until.get(arn)
        return until is not None and time.monotonic() < until

    def take_fail_rule(self, op):
        with self.lock:
            rule = self.config["fail_ops"].get(op)
            if rule is None:
                return None
            left = self.fail_counts.get(op)
            if left is None:
                return rule
            if left <= 0:
                return None
            self.fail_counts[op] = left - 1
            return rule

    # -- per-function state -----------------------------------------------------------
    def fn(self, region, name) -> FunctionState:
        return self.fn_created(region, name)[0]

    def fn_created(self, region, name) -> tuple[FunctionState, bool]:
        with self.lock:
            key = (region, name)
            st = self.functions.get(key)
            if st is None:
                st = self.functions[key] = FunctionState()
                return st, True
            return st, False

    def forget_if_unused(self, region, name, st):
        """Drop state made for a call that then failed (e.g. GetFunction of a missing
        function), so that deleted functions do not linger in /__proxy/state."""
        with self.lock:
            if self.functions.get((region, name)) is st and st.arn is None:
                del self.functions[(region, name)]

    def drop_fn(self, region, name):
        with self.lock:
            self.functions.pop((region, name), None)

    def add_log(self, entry):
        with self.lock:
            self.log.append(entry)


# ---------------------------------------------------------------------------------------
# Request handling
# ---------------------------------------------------------------------------------------


class Reply:
    def __init__(self, status, headers=None, body=b"", reason=None):
        self.status = status
        self.headers = headers or []  # list of (name, value)
        self.body = body
        self.reason = reason

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set_header(self, name, value):
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def set_json(self, obj):
        self.body = json.dumps(obj).encode()

    @property
    def ok(self):
        return 200 <= self.status < 300


class Call:
    """One AWS request as the proxy understands it."""

    def __init__(self, handler: "Handler"):
        self.method = handler.command
        split = urllib.parse.urlsplit(handler.path)
        self.raw_path = split.path
        self.raw_query = split.query
        self.query = flat_query(split.query)
        self.headers = handler.headers
        self.body = b""
        auth = self.headers.get("Authorization", "")
        m = SCOPE_RE.search(auth) or SCOPE_RE.search(
            "Credential=" + self.query.get("X-Amz-Credential", ""))
        self.access_key_id = m.group(1) if m else None
        self.region = m.group(3) if m else "us-east-1"
        self.service = m.group(4) if m else None
        self.operation = None  # bare name, e.g. UpdateFunctionCode
        self.function = None
        self.qualifier = None
        self.alias = None
        self.bucket = None
        self.key = None
        self.params = {}
        self.request_json = None
        self.extra = {}
        self.seq = None  # this request's number among its (operation, resource); see draw()

    @property
    def op(self):
        return f"{self.service}:{self.operation}" if self.operation else None

    def classify_without_body(self):
        if self.service is None:
            if re.match(r"^/20\d\d-\d\d-\d\d/", self.raw_path):
                self.service = "lambda"
            elif "Action" in self.query:
                self.service = "sts"
            elif self.method == "POST" and self.raw_path in ("", "/") and (
                    "x-www-form-urlencoded" in self.headers.get("Content-Type", "")):
                self.service = "sts"  # unsigned AssumeRoleWithWebIdentity
            else:
                self.service = "s3"
        if self.service == "lambda":
            self._classify_lambda()
        elif self.service == "s3":
            self._classify_s3()

    def classify_with_body(self):
        if self.service == "lambda":
            ctype = self.headers.get("Content-Type", "")
            if self.body and self.operation != "Invoke" and "json" in ctype:
                try:
                    self.request_json = json.loads(self.body)
                except ValueError:
                    self.request_json = None
            if self.operation == "CreateFunction" and isinstance(self.request_json, dict):
                self.function, _ = split_function_ref(self.request_json.get("FunctionName", ""))
        elif self.headers.get("X-Amz-Target"):
            # JSON protocol (SSM, Secrets Manager, CloudWatch Logs, EventBridge):
            # `X-Amz-Target: <prefix>.<Operation>` and the parameters as a JSON body.
            self.operation = self.headers["X-Amz-Target"].rsplit(".", 1)[-1]
            try:
                body = json.loads(self.body or b"{}")
            except ValueError:
                body = {}
            if isinstance(body, dict):
                self.params = {k: v for k, v in body.items() if k not in SECRET_FIELDS}
        elif self.service not in ("s3",):
            # Query protocol (STS, IAM): Action and parameters in the query or a form body.
            params = dict(self.query)
            if self.body and "x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
                params.update(flat_query(self.body.decode("utf-8", "replace")))
            if "Action" in params:
                self.operation = params["Action"]
            elif self.headers.get("X-Amz-Target"):
                # JSON 1.1 protocol (ACM): `CertificateManager.DescribeCertificate`.
                self.operation = self.headers["X-Amz-Target"].rsplit(".", 1)[-1]
            token = params.pop("WebIdentityToken", None)
            if token is not None:
                # The token is a secret: the log keeps only its hash, enough to match it
                # against the one the fake GitHub handed out.
                params["WebIdentityToken_sha256"] = hashlib.sha256(token.encode()).hexdigest()
            params.pop("Action", None)
            params.pop("Version", None)
            self.params = params

    def _classify_lambda(self):
        op, params = match_lambda(self.method, self.raw_path, self.query)
        self.operation = op or "Unknown"
        ref = params.get("FunctionName")
        if ref is None and "Resource" in params:
            ref = params["Resource"]
        name, qual = split_function_ref(ref) if ref else (None, None)
        self.function = name
        self.qualifier = self.query.get("Qualifier") or qual
        if "Name" in params and op and "Alias" in op:
            self.alias = params["Name"]
            self.qualifier = self.alias
        self.params = params

    def _classify_s3(self):
        path = urllib.parse.unquote(self.raw_path)
        bucket, _, key = path.lstrip("/").partition("/")
        self.bucket = bucket or None
        self.key = key or None
        m = self.method
        q = self.query
        op = None
        if not bucket:
            op = "ListBuckets" if m == "GET" else "Unknown"
        elif not key:
            for sub, name in S3_BUCKET_SUB.get(m, []):
                if sub in q:
                    op = name
                    break
            op = op or {"PUT": "CreateBucket", "GET": "ListObjects", "HEAD": "HeadBucket",
                        "DELETE": "DeleteBucket"}.get(m, "Unknown")
        else:
            copy_src = "x-amz-copy-source" in {k.lower() for k in self.headers.keys()}
            if m == "PUT":
                if "uploadId" in q and "partNumber" in q:
                    op = "UploadPartCopy" if copy_src else "UploadPart"
                elif "tagging" in q:
                    op = "PutObjectTagging"
                elif "acl" in q:
                    op = "PutObjectAcl"
                else:
                    op = "CopyObject" if copy_src else "PutObject"
            elif m == "HEAD":
                op = "HeadObject"
            else:
                for sub, name in S3_OBJECT_SUB.get(m, []):
                    if sub in q:
                        op = name
                        break
                op = op or {"GET": "GetObject", "DELETE": "DeleteObject"}.get(m, "Unknown")
        self.operation = op

    def resource(self):
        if self.service == "lambda":
            return self.function
        if self.service == "s3":
            if self.bucket and self.key:
                return f"{self.bucket}/{self.key}"
            return self.bucket
        if self.service == "sts":
            return self.params.get("RoleArn")
        return None

    def iam_action(self):
        if not self.operation:
            return None
        if self.service == "lambda":
            return f"lambda:{LAMBDA_IAM.get(self.operation, self.operation)}"
        if self.service == "s3":
            return f"s3:{S3_IAM.get(self.operation, self.operation)}"
        return self.op


def aws_error(call: Call, status: int, type_: str, message: str, reason: str | None = None,
              extra_headers=None) -> Reply:
    request_id = str(uuid.uuid4())
    headers = list(extra_headers or [])
    if call.service == "s3":
        headers += [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        body = b""
        if call.method != "HEAD":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{xml_escape(type_)}</Code><Message>{xml_escape(message)}</Message>"
                f"<RequestId>{request_id}</RequestId><HostId>fault-proxy</HostId></Error>"
            ).encode()
        return Reply(status, headers, body)
    if call.service == "lambda" or call.service is None:
        payload = {"Type": "User" if status < 500 else "Service", "message": message,
                   "__type": type_}
        if reason:
            payload["Reason"] = reason
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", type_),
                    ("x-amzn-RequestId", request_id)]
        return Reply(status, headers, json.dumps(payload).encode())
    if call.headers.get("X-Amz-Target"):
        # JSON protocol (SSM, Secrets Manager, CloudWatch Logs, EventBridge): the error type
        # in `__type` of a JSON body.
        headers += [("Content-Type", "application/x-amz-json-1.1"),
                    ("x-amzn-RequestId", request_id)]
        return Reply(status, headers, json.dumps({"__type": type_, "message": message}).encode())
    # Query protocol (sts, iam)
    kind = "Sender" if status < 500 else "Receiver"
    body = (
        f'<ErrorResponse xmlns="https://{call.service}.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>{kind}</Type><Code>{xml_escape(type_)}</Code>"
        f"<Message>{xml_escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    headers += [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return Reply(status, headers, body)


def xml_escape(s: str) -> str:
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def function_arn(call: Call, st: FunctionState, name: str) -> str:
    if st.arn:
        return st.arn
    return f"arn:aws:lambda:{call.region}:123456789012:function:{name}"


class Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK
    # add ~40 ms to every response.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "fault-proxy"
    state: ProxyState = None  # set on the class before serving
    observer = False  # the current request comes from a test's inspection client

    # -- plumbing ---------------------------------------------------------------------
    def log_message(self, fmt, *args):
        if self.state.verbose:
            sys.stderr.write("fault-proxy: " + (fmt % args) + "\n")

    def vlog(self, msg):
        if self.state.verbose:
            sys.stderr.write(f"fault-proxy: {msg}\n")

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_reply(self, reply: Reply, head_length=None):
        self.send_response_only(reply.status, reply.reason)
        has_date = False
        for k, v in reply.headers:
            lk = k.lower()
            if lk in HOP_BY_HOP or lk == "content-length":
                continue
            if lk == "date":
                has_date = True
            self.send_header(k, v)
        if not has_date:
            self.send_header("Date", self.date_time_string())
        stream = getattr(reply, "stream", None)
        if self.command == "HEAD" and head_length is not None:
            self.send_header("Content-Length", head_length)
        elif stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
        elif reply.status not in (204, 304):
            self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if stream is not None:
            # A streamed body (live tail's event stream): one HTTP/1.1 chunk per write, until
            # the stream ends or the client goes away.
            def write(data: bytes):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            try:
                stream(write)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            return
        if self.command != "HEAD" and reply.status not in (204, 304):
            self.wfile.write(reply.body)
        self.wfile.flush()

    def send_json(self, status, obj):
        body = json.dumps(obj, indent=1).encode()
        self.send_reply(Reply(status, [("Content-Type", "application/json")], body))

    def upstream(self, method, path, headers, body=b"") -> tuple[Reply, str | None]:
        """One request to moto; returns the reply and, for HEAD, moto's Content-Length."""
        conn = http.client.HTTPConnection(self.state.up_host, self.state.up_port, timeout=120)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            has_host = False
            for k, v in headers:
                lk = k.lower()
                if lk in HOP_BY_HOP or lk == "content-length":
                    continue
                if lk == "host":
                    has_host = True
                conn.putheader(k, v)
            if not has_host:
                conn.putheader("Host", f"{self.state.up_host}:{self.state.up_port}")
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            hdrs = resp.getheaders()
            return Reply(resp.status, list(hdrs), data, resp.reason), resp.getheader("Content-Length")
        finally:
            conn.close()

    def aux_headers(self, call: Call, service: str):
        """Headers for the proxy's own look-ups at moto: moto checks no signature but picks the
        backend (service, region, account) from the credential scope, so keep the caller's
        credential with the service swapped."""
        auth = self.headers.get("Authorization")
        if auth and SCOPE_RE.search(auth):
            auth = SCOPE_RE.sub(lambda m: f"Credential={m.group(1)}/{m.group(2)}/{m.group(3)}/"
                                          f"{service}/aws4_request", auth)
        else:
            auth = (f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/{call.region}/"
                    f"{service}/aws4_request, SignedHeaders=host, Signature=0")
        out = [("Authorization", auth)]
        for name in ("X-Amz-Date", "X-Amz-Security-Token"):
            if self.headers.get(name):
                out.append((name, self.headers.get(name)))
        return out

    def fix_acm_dns_validation(self, call: Call, reply: Reply):
        """ACM issues a DNS-validated certificate once the CNAME records it asked for are in
        DNS ("DNS validation", https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html);
        moto instead keeps it PENDING_VALIDATION for MOTO_ACM_VALIDATION_WAIT seconds (60)
        whatever DNS holds. Answer DescribeCertificate as ACM would: ISSUED, once every
        validation record is a CNAME in one of moto's Route 53 zones."""
        if call.operation != "DescribeCertificate" or not reply.ok:
            return
        body = reply.json()
        cert = body.get("Certificate") if isinstance(body, dict) else None
        if not isinstance(cert, dict) or cert.get("Status") != "PENDING_VALIDATION":
            return
        options = cert.get("DomainValidationOptions") or []
        wanted = {(o.get("ResourceRecord") or {}).get("Name", "").rstrip(".").lower()
                  for o in options if o.get("ValidationMethod", "DNS") == "DNS"}
        if not wanted or "" in wanted or not wanted <= self.route53_cnames(call):
            return
        cert["Status"] = "ISSUED"
        for o in options:
            o["ValidationStatus"] = "SUCCESS"
        reply.set_json(body)

    def route53_cnames(self, call: Call) -> set:
        """Names of the CNAME records in every hosted zone moto holds (lowercase, no dot)."""
        import xml.etree.ElementTree as ET

        def local(tag):
            return tag.rsplit("}", 1)[-1]
        names = set()
        zones = self.lookup(call, "/2013-04-01/hostedzone", service="route53")
        if not zones.ok:
            return names
        for el in ET.fromstring(zones.body).iter():
            if local(el.tag) != "Id" or not (el.text or "").startswith("/hostedzone/"):
                continue
            zid = el.text.rsplit("/", 1)[-1]
            rrs = self.lookup(call, f"/2013-04-01/hostedzone/{zid}/rrset", service="route53")
            if not rrs.ok:
                continue
            for rr in ET.fromstring(rrs.body).iter():
                if local(rr.tag) != "ResourceRecordSet":
                    continue
                fields = {local(c.tag): (c.text or "") for c in rr}
                if fields.get("Type") == "CNAME":
                    names.add(fields.get("Name", "").rstrip(".").lower())
        return names

    def lookup(self, call: Call, path: str, service="lambda", method="GET"):
        reply, _ = self.upstream(method, path, self.aux_headers(call, service))
        return reply

    # -- dispatch ---------------------------------------------------------------------
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def dispatch(self):
        try:
            if self.path.startswith("/__proxy/"):
                self.control()
            else:
                self.aws()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def control(self):
        path = urllib.parse.urlsplit(self.path).path
        body = self.read_body()
        st = self.state
        if path == "/__proxy/config":
            if self.command == "GET":
                with st.lock:
                    return self.send_json(200, st.config_view())
            if self.command == "POST":
                try:
                    patch = json.loads(body or b"{}")
                    return self.send_json(200, st.merge_config(patch))
                except (ValueError, ConfigError) as e:
                    return self.send_json(400, {"error": str(e)})
        elif path == "/__proxy/reset" and self.command == "POST":
            st.reset()
            with st.lock:
                return self.send_json(200, st.config_view())
        elif path == "/__proxy/log":
            if self.command == "GET":
                with st.lock:
                    return self.send_json(200, list(st.log))
            if self.command == "DELETE":
                with st.lock:
                    st.log.clear()
                return self.send_json(200, [])
        elif path == "/__proxy/state" and self.command == "GET":
            now = time.monotonic()
            with st.lock:
                fns = {f"{r}/{n}": s.snapshot(now) for (r, n), s in st.functions.items()}
            return self.send_json(200, {"functions": fns})
        elif path == "/__proxy/secrets" and self.command == "GET":
            # Credentials STS handed out through the proxy: tests check none reaches any log.
            with st.lock:
                return self.send_json(200, list(st.issued_secrets))
        elif path == "/__proxy/health":
            return self.send_json(200, {"ok": True})
        self.send_json(404, {"error": f"no control endpoint {self.command} {path}"})

    def aws(self):
        st = self.state
        t0 = time.monotonic()
        call = Call(self)
        if call.raw_path.startswith("/moto-api"):
            # moto's own API (reset, data): straight through, not logged, never faulted.
            reply, head_len = self.upstream(self.command, self.path, list(self.headers.items()),
                                            self.read_body())
            return self.send_reply(reply, head_len)
        call.classify_without_body()
        entry = {
            "service": call.service, "operation": None, "iam_action": None,
            "method": call.method, "path": call.raw_path, "query": call.query,
            "resource": None, "function": None, "qualifier": None, "bucket": None, "key": None,
            "access_key_id": call.access_key_id, "region": call.region, "status": None,
            "injected": None, "t": t0, "wall_time": time.time(),
        }
        cfg = st.config  # replaced wholesale on change, so one read is a consistent view
        # Tests inspect state with credentials named OBSERVER...: those requests see the same
        # Lambda-like answers but are never faulted, delayed or logged.
        observer = (call.access_key_id or "").startswith("OBSERVER")
        self.observer = observer
        eligible = False
        injected = None
        reply = None
        head_len = None
        pending = None
        try:
            op = call.op
            eligible = not observer and call.service in ("lambda", "s3") and (
                cfg["only_ops"] is None or op in cfg["only_ops"])
            if (eligible and call.service == "s3" and call.operation in ("PutObject", "UploadPart")
                    and st.draw(call, "drop_upload", cfg["drop_upload"])):
                self.drop_upload()
                injected = "drop_upload"
                entry["status"] = 0
                return
            call.body = self.read_body()
            call.classify_with_body()
            try:
                reply, head_len, injected = self.handle_call(call, cfg, eligible, observer)
            except Exception:  # a proxy bug must not hang the client: say so and go on
                import traceback
                traceback.print_exc(file=sys.stderr)
                reply = Reply(500, [("Content-Type", "text/plain")],
                              b"fault-proxy internal error (see its stderr)")
                injected = "proxy_bug"
            if call.service == "sts" and reply is not None and reply.ok:
                text = reply.body.decode("utf-8", "replace")
                found = re.findall(r"<(SecretAccessKey|SessionToken)>([^<]+)</", text)
                if found:
                    with st.lock:
                        st.issued_secrets.extend(v for _, v in found)
            # Sent after the entry is in the log: a client that reads /__proxy/log right after
            # its answer must find its request there (the self-test does exactly that).
            pending = (reply, head_len)
        finally:
            entry.update({
                "operation": call.op, "iam_action": call.iam_action(),
                "resource": call.resource(), "function": call.function,
                "qualifier": call.qualifier, "bucket": call.bucket, "key": call.key,
                "injected": injected, "duration": round(time.monotonic() - t0, 4),
            })
            if reply is not None:
                entry["status"] = reply.status
            if call.service == "lambda" and isinstance(call.request_json, dict):
                entry["request"] = redact_request_json(call.request_json)
            if call.params and call.service not in ("lambda", "s3"):
                entry["params"] = call.params
            entry.update(call.extra)
            if not observer:
                st.add_log(entry)
            self.vlog(f"{call.method} {call.raw_path} {call.op} -> {entry['status']}"
                      f"{' [' + injected + ']' if injected else ''}")
        if pending is not None:
            self.send_reply(*pending)

    def drop_upload(self):
        """Read part of the upload, then cut the connection without a response."""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(max(1, length // 2))
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_call(self, call: Call, cfg, eligible, observer=False):
        st = self.state
        op = call.op
        rule = st.take_fail_rule(op) if op and not observer else None
        if rule is not None:
            return aws_error(call, rule["status"], rule.get("type", "ServiceException"),
                             rule.get("message", "injected failure")), None, "fail_ops"
        conflict = st.take_conflict_rule(op) if op and not observer else None
        if conflict is not None:
            return self.conflict_error(call, conflict["kind"]), None, "conflict_ops"
        if call.service == "s3" and call.bucket in cfg["bucket_regions"]:
            redirected = self.bucket_redirect(call, cfg["bucket_regions"][call.bucket])
            if redirected is not None:
                return redirected, None, "bucket_region"
        if eligible and st.draw(call, "throttle", cfg["throttle"]):
            if call.service == "s3":
                return aws_error(call, 503, "SlowDown", "Please reduce your request rate."), \
                    None, "throttle"
            extra = []
            if cfg["throttle_retry_after"] is not None:
                extra.append(("Retry-After", cfg["throttle_retry_after"]))
            return aws_error(call, 429, "TooManyRequestsException", "Rate exceeded",
                             reason="CallerRateLimitExceeded", extra_headers=extra), \
                None, "throttle"
        if eligible and st.draw(call, "error5xx", cfg["error5xx"]):
            return self.error_500(call), None, "error5xx"
        fail_after = eligible and st.draw(call, "error5xx_after", cfg["error5xx_after"])

        delay = 0.0 if observer else float(cfg["op_delay"].get(op, 0) or 0)
        if call.operation == "PublishVersion" and call.service == "lambda" and not observer:
            delay += float(cfg["publish_delay"] or 0)
        if delay:
            time.sleep(delay)
        head_len = None
        if call.service == "lambda" and call.operation == "Invoke" and call.function:
            reply = self.invoke(call, cfg)
        elif scale_hook(self, call, cfg) is not None:
            reply = scale_hook(self, call, cfg)
        elif call.service == "lambda":
            reply, head_len, injected = self.lambda_call(call, cfg)
            if injected:
                return reply, head_len, injected
        else:
            reply, head_len = self.forward(call)
            if call.service == "apigateway" and cfg["moto_fixes"]:
                fix_apigateway_domain_names(call, reply)
            if call.service == "acm" and cfg["moto_fixes"]:
                self.fix_acm_dns_validation(call, reply)
            if (call.service == "s3" and call.operation == "HeadBucket"
                    and call.bucket in cfg["bucket_regions"]):
                reply.set_header("x-amz-bucket-region", cfg["bucket_regions"][call.bucket])
            if (call.service == "s3" and call.operation == "CompleteMultipartUpload"
                    and reply.status == 200):
                # moto names the root element CompleteMultipartUploadResponse; S3 answers
                # <CompleteMultipartUploadResult> (S3 API reference, CompleteMultipartUpload,
                # "Response Syntax"), and the Rust SDK rejects any other root ("encountered
                # invalid XML root: expected CompleteMultipartUploadResult").
                reply.body = reply.body.replace(b"CompleteMultipartUploadResponse",
                                                b"CompleteMultipartUploadResult")
        if fail_after:
            return self.error_500(call), None, "error5xx_after"
        return reply, head_len, None

    def conflict_error(self, call: Call, kind):
        """409 ResourceConflictException with Lambda's words (CONFLICT_KINDS)."""
        if kind == "statement_exists":
            body = call.request_json if isinstance(call.request_json, dict) else {}
            sid = body.get("StatementId") or call.params.get("StatementId") or "sid"
            msg = (f"The statement id ({sid}) provided already exists. Please provide a new "
                   "statement id, or remove the existing statement.")
        else:
            st = self.state.functions.get((call.region, call.function))
            arn = (st.arn if st is not None and st.arn else
                   f"arn:aws:lambda:{call.region}:123456789012:function:{call.function}")
            msg = ("The operation cannot be performed at this time. An update is in progress "
                   f"for resource: {arn}")
        return aws_error(call, 409, "ResourceConflictException", msg)

    def bucket_redirect(self, call: Call, region):
        """S3 as it answers for a bucket in another region than the request is signed for
        (path-style, regional endpoint):
        - HeadBucket: 301 with `x-amz-bucket-region` and no body (S3 API reference, HeadBucket:
          "If the bucket exists and you have permission to access it ... the response header
          x-amz-bucket-region"; a request to the wrong region gets 301 Moved Permanently,
          aws/aws-sdk-java-v2#1983).
        - GetBucketLocation: answered from any region with the bucket's region (S3 API
          reference, GetBucketLocation; `LocationConstraint` is empty for us-east-1).
        - anything else: 301 PermanentRedirect with an XML error (S3 "Error responses" list:
          PermanentRedirect, 301; transcripts in aws/aws-cli#564, smore-inc/tinys3#18).
        None when the request's region is the bucket's: moto answers, plus the header."""
        if call.operation == "GetBucketLocation":
            loc = "" if region == "us-east-1" else region
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns='
                    f'"http://s3.amazonaws.com/doc/2006-03-01/">{loc}</LocationConstraint>')
            return Reply(200, [("Content-Type", "application/xml"),
                               ("x-amz-request-id", str(uuid.uuid4()))], body.encode())
        if call.region == region:
            return None
        headers = [("x-amz-bucket-region", region), ("x-amz-request-id", str(uuid.uuid4()))]
        if call.operation == "HeadBucket" or call.method == "HEAD":
            return Reply(301, headers, b"", "Moved Permanently")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PermanentRedirect</Code>'
            "<Message>The bucket you are attempting to access must be addressed using the "
            "specified endpoint. Please send all future requests to this endpoint.</Message>"
            f"<Endpoint>{xml_escape(call.bucket)}.s3.{region}.amazonaws.com</Endpoint>"
            f"<Bucket>{xml_escape(call.bucket)}</Bucket><RequestId>{headers[1][1]}</RequestId>"
            "<HostId>fault-proxy</HostId></Error>").encode()
        return Reply(301, headers + [("Content-Type", "application/xml")], body,
                     "Moved Permanently")

    def error_500(self, call):
        if call.service == "s3":
            return aws_error(call, 500, "InternalError",
                             "We encountered an internal error. Please try again.")
        return aws_error(call, 500, "ServiceException",
                         "An internal error occurred in the Lambda service (injected)")

    def forward(self, call: Call):
        path = self.path
        if call.service == "lambda" and self.state.config["moto_fixes"]:
            # moto's URL patterns reject `name:$LATEST` (404 HTML); Lambda accepts it.
            split = urllib.parse.urlsplit(path)
            fixed = LATEST_SUFFIX_RE.sub("", split.path)
            path = fixed + (f"?{split.query}" if split.query else "")
        try:
            return self.upstream(call.method, path, list(self.headers.items()), call.body)
        except OSError as e:
            return Reply(502, [("Content-Type", "text/plain")],
                         f"fault-proxy: upstream unreachable: {e}".encode()), None

    # -- Lambda semantics -------------------------------------------------------------
    def lambda_call(self, call: Call, cfg):
        name = call.function
        if not name:  # ListFunctions and friends: forward, then fix up what comes back
            reply, head_len = self.forward(call)
            self.rewrite(call, None, reply, cfg)
            return reply, head_len, None
        fst, created = self.state.fn_created(call.region, name)
        opn = call.operation
        body = call.request_json if isinstance(call.request_json, dict) else {}
        latest = call.qualifier in (None, "$LATEST")
        lock = fst.lock if opn in LAMBDA_MUTATING else None
        if lock:
            lock.acquire()
        try:
            now = time.monotonic()
            kind = fst.busy(now)
            if kind and opn in BUSY_REFUSED:
                if kind == "create":
                    msg = ("The operation cannot be performed at this time. The function is "
                           "currently in the following state: Pending")
                else:
                    msg = ("The operation cannot be performed at this time. An update is in "
                           f"progress for resource: {function_arn(call, fst, name)}")
                return aws_error(call, 409, "ResourceConflictException", msg), None, "busy"
            if (opn in ("CreateFunction", "UpdateFunctionConfiguration")
                    and body.get("Role") and self.state.role_propagating(body["Role"])):
                return aws_error(call, 400, "InvalidParameterValueException",
                                 ROLE_PROPAGATION_MESSAGE), None, "role_propagation"
            if opn == "ListTags" and self.deny_tags(call, cfg):
                return aws_error(call, 403, "AccessDeniedException",
                                 self.access_denied_message(call, "lambda:ListTags")), \
                    None, "deny_list_tags"
            if opn in ("CreateFunction", "UpdateFunctionCode"):
                code = body.get("Code", {}) if opn == "CreateFunction" else body
                home = cfg["bucket_regions"].get(code.get("S3Bucket"))
                if home and home != call.region:
                    # Lambda fetches the code from S3 in its own region (quoted in
                    # aws-samples/aws-codepipeline-bitbucket-integration#7,
                    # aws-samples/amazon-textract-enhancer#8).
                    return aws_error(
                        call, 400, "InvalidParameterValueException",
                        "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 "
                        f"Error Message: The bucket is in this region: {home}. Please use this "
                        "region to retry the request"), None, "bucket_region"
            # RevisionId mismatches are 412 PreconditionFailedException (Lambda API reference,
            # PublishVersion / UpdateAlias / UpdateFunctionCode, Errors: "The RevisionId
            # provided does not match the latest RevisionId for the Lambda function or alias").
            if cfg["enforce_revision_id"] and body.get("RevisionId") is not None:
                current = None
                if opn == "UpdateAlias":
                    current = fst.alias_revs.get(call.alias)
                elif opn in ("PublishVersion", "UpdateFunctionCode",
                             "UpdateFunctionConfiguration"):
                    current = fst.latest_rev
                if opn in ("UpdateAlias", "PublishVersion", "UpdateFunctionCode",
                           "UpdateFunctionConfiguration") and body["RevisionId"] != current:
                    return aws_error(
                        call, 412, "PreconditionFailedException",
                        "The Revision Id provided does not match the latest Revision Id. Call the "
                        "GetFunction/GetAlias API to retrieve the latest Revision Id"), \
                        None, "revision_id"
            if cfg["enforce_code_sha256"] and opn == "PublishVersion" and body.get("CodeSha256"):
                cur = self.lookup(call, f"/2015-03-31/functions/{q(name)}/configuration")
                if cur.ok:
                    current = (cur.json() or {}).get("CodeSha256")
                    if current != body["CodeSha256"]:
                        # Lambda answers a CodeSha256 mismatch with 400, not with the 412 it
                        # uses for RevisionId (transcripts: serverless/serverless#3696,
                        # floci-io/floci#2822).
                        return aws_error(
                            call, 400, "InvalidParameterValueException",
                            f"CodeSHA256 ({body['CodeSha256']}) is different from current "
                            f"CodeSHA256 in $LATEST ({current}). Please try again with the "
                            "current CodeSHA256."), None, "code_sha256"
            if cfg["moto_fixes"]:
                refused = self.precheck_fixes(call, fst, body)
                if refused is not None:
                    return refused, None, None
            reply, head_len = self.forward(call)
            if reply.ok:
                self.after_success(call, fst, cfg, body, latest)
            elif created:
                self.state.forget_if_unused(call.region, name, fst)
            self.rewrite(call, fst, reply, cfg)
            return reply, head_len, None
        finally:
            if lock:
                lock.release()

    def deny_tags(self, call: Call, cfg) -> bool:
        deny = cfg["deny_list_tags"]
        if self.observer:
            return False
        return deny is True or (isinstance(deny, list) and call.function in deny)

    def access_denied_message(self, call: Call, action):
        """IAM's wording for a missing identity-based allow (IAM User Guide, "Troubleshoot
        access denied error messages")."""
        arn = f"arn:aws:lambda:{call.region}:123456789012:function:{call.function}"
        return (f"User: arn:aws:sts::123456789012:assumed-role/deploy-action/"
                f"{call.access_key_id or 'session'} is not authorized to perform: {action} on "
                f"resource: {arn} because no identity-based policy allows the {action} action")

    def precheck_fixes(self, call: Call, fst: FunctionState, body):
        """Real Lambda refuses these; moto accepts them. Answer as Lambda does."""
        opn = call.operation
        name = call.function
        if opn in PROVISIONED_CONCURRENCY_OPS:
            return provisioned_concurrency(self, call, fst, body)
        if call.qualifier and call.qualifier in fst.deleted_versions and opn != "Invoke":
            arn = function_arn(call, fst, name)
            return aws_error(call, 404, "ResourceNotFoundException",
                             f"Function not found: {arn}:{call.qualifier}")
        if opn in ("CreateFunction", "UpdateFunctionCode"):
            code = body.get("Code", {}) if opn == "CreateFunction" else body
            bucket, key = code.get("S3Bucket"), code.get("S3Key")
            if bucket and key:
                head = self.lookup(call, f"/{q(bucket)}/{q(key, safe='/')}", service="s3",
                                   method="HEAD")
                if head.status == 404:
                    return aws_error(
                        call, 400, "InvalidParameterValueException",
                        "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error "
                        "Message: The specified key does not exist.")
        if opn == "CreateAlias" and re.fullmatch(r"[0-9]+", str(body.get("Name", ""))):
            return aws_error(
                call, 400, "ValidationException",
                f"1 validation error detected: Value '{body.get('Name')}' at 'name' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "(?!^[0-9]+$)([a-zA-Z0-9-_]+)")
        if opn in ("CreateAlias", "UpdateAlias") and body.get("RoutingConfig"):
            refused = self.check_routing(call, body)
            if refused is not None:
                return refused
        if opn == "AddPermission":
            sid = body.get("StatementId")
            for stmt in self.policy_statements(call, call.qualifier) or []:
                if stmt.get("Sid") == sid:
                    return aws_error(
                        call, 409, "ResourceConflictException",
                        f"The statement id ({sid}) provided already exists. Please provide a new "
                        "statement id, or remove the existing statement.")
        if opn == "RemovePermission":
            sid = call.params.get("StatementId")
            stmts = self.policy_statements(call, call.qualifier)
            if stmts is not None and not any(s.get("Sid") == sid for s in stmts):
                return aws_error(call, 404, "ResourceNotFoundException",
                                 f"Statement {sid} is not found in resource policy.")
        if opn == "CreateFunctionUrlConfig":
            cur = self.lookup(call, f"/2021-10-31/functions/{q(name)}/url")
            if cur.ok and fst.url_qualifier in (None, call.qualifier):
                arn = function_arn(call, fst, name)
                if call.qualifier:
                    arn += f":{call.qualifier}"
                return aws_error(
                    call, 409, "ResourceConflictException",
                    f"Failed to create function url config for [functionArn = {arn}]. Error "
                    "message:  FunctionUrlConfig exists for this Lambda function")
        if opn in ("GetFunctionUrlConfig", "UpdateFunctionUrlConfig", "DeleteFunctionUrlConfig"):
            if fst.url_qualifier is not None and fst.url_qualifier != (call.qualifier or None):
                return aws_error(call, 404, "ResourceNotFoundException",
                                 "The resource you requested does not exist.")
        if opn == "DeleteFunction" and call.qualifier and call.qualifier.isdigit():
            aliases = self.lookup(call, f"/2015-03-31/functions/{q(name)}/aliases")
            if aliases.ok:
                refs = []
                for a in (aliases.json() or {}).get("Aliases", []):
                    weights = ((a.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
                               or {})
                    if a.get("FunctionVersion") == call.qualifier or call.qualifier in weights:
                        refs.append(a.get("Name"))
                if refs:
                    return aws_error(
                        call, 409, "ResourceConflictException",
                        "Unable to delete version because the following aliases reference it: "
                        f"[{', '.join(refs)}]")
            got = self.lookup(call, f"/2015-03-31/functions/{q(name)}/configuration"
                                    f"?Qualifier={q(call.qualifier)}")
            if got.status == 404:
                return aws_error(call, 404, "ResourceNotFoundException",
                                 "The resource you requested does not exist.")
            # Hide instead of deleting, so moto's numbering never reuses the number.
            fst.deleted_versions.add(call.qualifier)
            fst.version_revs.pop(call.qualifier, None)
            return Reply(204, [("Content-Type", "application/json")], b"")
        return None

    def check_routing(self, call: Call, body):
        """moto stores any RoutingConfig; Lambda validates weights and versions."""
        weights = (body.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        for ver, w in weights.items():
            if not isinstance(w, (int, float)) or not 0.0 <= w <= 1.0:
                return aws_error(
                    call, 400, "ValidationException",
                    "1 validation error detected: Value at 'routingConfig.additionalVersion"
                    "Weights' failed to satisfy constraint: Map value must satisfy constraint: "
                    "[Member must have value less than or equal to 1.0, Member must have value "
                    "greater than or equal to 0.0]")
        if len(weights) > 1:
            return aws_error(call, 400, "InvalidParameterValueException",
                             "Number of RoutingConfig entries must not exceed 1.")
        primary = body.get("FunctionVersion")
        if primary is None and call.alias:
            cur = self.lookup(call, f"/2015-03-31/functions/{q(call.function)}/aliases/"
                                    f"{q(call.alias)}")
            primary = (cur.json() or {}).get("FunctionVersion") if cur.ok else None
        for ver in weights:
            if primary == "$LATEST" or ver == "$LATEST":
                return aws_error(call, 400, "InvalidParameterValueException",
                                 "$LATEST is not supported for an alias pointing to more than 1 "
                                 "version")
            if ver == primary:
                return aws_error(
                    call, 400, "InvalidParameterValueException",
                    f"Invalid function version {ver}. Function version {ver} is already "
                    "included in routing configuration.")
            got = self.lookup(call, f"/2015-03-31/functions/{q(call.function)}/configuration"
                                    f"?Qualifier={q(ver)}")
            if got.status == 404:
                arn = function_arn(call, self.state.fn(call.region, call.function),
                                   call.function)
                return aws_error(call, 404, "ResourceNotFoundException",
                                 f"Function not found: {arn}:{ver}")
        return None

    def policy_statements(self, call: Call, qualifier):
        """Statements of the resource policy of `qualifier` (None = unqualified). moto keeps one
        policy per function, so filter on the statement's Resource like Lambda's per-qualifier
        policies. None when the function has no policy at all."""
        got = self.lookup(call, f"/2015-03-31/functions/{q(call.function)}/policy")
        if not got.ok:
            return None
        try:
            policy = json.loads((got.json() or {}).get("Policy") or "{}")
        except ValueError:
            return None
        return [s for s in policy.get("Statement", []) if stmt_matches(s, qualifier)]

    def after_success(self, call: Call, fst: FunctionState, cfg, body, latest):
        opn = call.operation
        now = time.monotonic()
        busy = float(cfg["busy_seconds"] or 0)
        if opn == "CreateFunction":
            # A new function: forget what was known about an earlier one of that name (the
            # lock stays: this thread holds it).
            fresh = FunctionState()
            fst.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "lock"})
            if busy:
                fst.busy_kind, fst.busy_until = "create", now + busy
        if opn in ("CreateFunction", "UpdateFunctionConfiguration") and cfg["moto_fixes"]:
            for k in EXTRA_CONFIG:
                if k in body:
                    fst.latest_extra[k] = body[k]
        if opn in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
            if opn == "UpdateFunctionCode" and body.get("Architectures"):
                fst.latest_arch = body["Architectures"]
            fst.latest_rev = str(uuid.uuid4())
            fst.update_failed = cfg["fail_updates"]
            if busy:
                fst.busy_kind, fst.busy_until = "update", now + busy
        elif opn == "PublishVersion":
            pass  # the version's architecture is recorded in rewrite(), which sees its number
        elif opn == "CreateAlias":
            fst.alias_revs[body.get("Name")] = str(uuid.uuid4())
        elif opn == "UpdateAlias":
            fst.alias_revs[call.alias] = str(uuid.uuid4())
        elif opn == "DeleteAlias":
            fst.alias_revs.pop(call.alias, None)
            if fst.url_qualifier == call.alias:
                fst.url_qualifier = None
        elif opn == "CreateFunctionUrlConfig":
            fst.url_qualifier = call.qualifier or None
        elif opn == "DeleteFunctionUrlConfig":
            fst.url_qualifier = None
        elif opn == "DeleteFunction":
            if latest:
                self.state.drop_fn(call.region, call.function)
            else:
                fst.version_revs.pop(call.qualifier, None)

    def rewrite(self, call: Call, fst: FunctionState, reply: Reply, cfg):
        """Make moto's answers look like Lambda's: RevisionIds, busy states, URL details."""
        if not reply.ok:
            if cfg["moto_fixes"] and reply.header("x-amzn-ErrorType") == "ConflictException":
                # moto names CreateAlias's conflict ConflictException; Lambda (and the SDKs'
                # typed errors) say ResourceConflictException.
                data = reply.json()
                reply.set_header("x-amzn-ErrorType", "ResourceConflictException")
                if isinstance(data, dict):
                    data["__type"] = "ResourceConflictException"
                    data.setdefault("Type", "User")
                    reply.set_json(data)
            return
        opn = call.operation
        data = reply.json()
        if not isinstance(data, dict):
            return
        now = time.monotonic()
        fixes = cfg["moto_fixes"]

        def fix_cfg(c, allow_busy):
            if not isinstance(c, dict):
                return
            name = c.get("FunctionName") or call.function
            if fst is not None and name == call.function:
                s = fst
            else:
                s = self.state.fn(call.region, name)
            ver = c.get("Version")
            if c.get("FunctionArn") and ver == "$LATEST" and s.arn is None:
                s.arn = c["FunctionArn"]
            if fixes:
                if ver == "$LATEST":
                    c["RevisionId"] = s.latest_rev
                elif ver:
                    c["RevisionId"] = s.version_revs.setdefault(ver, str(uuid.uuid4()))
                if opn == "PublishVersion" and ver and ver != "$LATEST" and s.latest_arch:
                    s.version_arch.setdefault(ver, s.latest_arch)
                if ver == "$LATEST" and s.latest_arch:
                    c["Architectures"] = s.latest_arch
                elif ver in s.version_arch:
                    c["Architectures"] = s.version_arch[ver]
                if opn == "PublishVersion" and ver and ver != "$LATEST":
                    s.version_extra.setdefault(ver, dict(s.latest_extra))
                if ver == "$LATEST":
                    c.update(copy.deepcopy(s.latest_extra))
                elif ver in s.version_extra:
                    c.update(copy.deepcopy(s.version_extra[ver]))
                snap = c.get("SnapStart")
                if isinstance(snap, dict):
                    on = snap.get("ApplyOn") == "PublishedVersions" and ver != "$LATEST"
                    snap["OptimizationStatus"] = "On" if on else "Off"
                    if on and opn == "PublishVersion":
                        s.snapshot_until.setdefault(
                            ver, now + float(cfg["snapstart_seconds"] or 0))
                    if on and now < s.snapshot_until.get(ver, 0.0):
                        c["State"] = "Pending"
                        c["StateReason"] = "Lambda is creating a SnapStart snapshot."
                        c["StateReasonCode"] = "Creating"
                    elif on:
                        c["State"] = "Active"
                        for k in ("StateReason", "StateReasonCode"):
                            c.pop(k, None)
            kind = s.busy(now)
            if allow_busy and ver == "$LATEST" and kind:
                if kind == "create":
                    c["State"] = "Pending"
                    c["StateReason"] = "The function is being created."
                    c["StateReasonCode"] = "Creating"
                    c["LastUpdateStatus"] = "InProgress"
                    c["LastUpdateStatusReason"] = "The function is being created."
                    c["LastUpdateStatusReasonCode"] = "Creating"
                else:
                    c["State"] = "Active"
                    c["LastUpdateStatus"] = "InProgress"
                    c["LastUpdateStatusReason"] = "The function is being updated."
                    c["LastUpdateStatusReasonCode"] = "Updating"
                    for k in ("StateReason", "StateReasonCode"):
                        c.pop(k, None)
            elif ver == "$LATEST" and s.update_failed:
                if opn in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
                    # Lambda answers the write at once; the failure shows on later reads.
                    c["LastUpdateStatus"] = "InProgress"
                    c["LastUpdateStatusReasonCode"] = "Updating"
                else:
                    c["LastUpdateStatus"] = "Failed"
                    c["LastUpdateStatusReason"] = s.update_failed
                    c["LastUpdateStatusReasonCode"] = "InternalError"

        if opn in ("CreateFunction", "GetFunctionConfiguration", "UpdateFunctionCode",
                   "UpdateFunctionConfiguration", "PublishVersion"):
            fix_cfg(data, opn != "PublishVersion")
        elif opn == "GetFunction":
            fix_cfg(data.get("Configuration"), True)
            if self.deny_tags(call, cfg):
                # Lambda API reference, GetFunction: "Lambda returns tag data only if you have
                # explicit allow permissions for lambda:ListTags"; otherwise `TagsError`
                # (ErrorCode, Message) takes the place of `Tags`.
                data.pop("Tags", None)
                data["TagsError"] = {
                    "ErrorCode": "AccessDeniedException",
                    "Message": self.access_denied_message(call, "lambda:ListTags")}
        elif opn == "ListVersionsByFunction":
            if fixes and fst is not None:
                data["Versions"] = [c for c in data.get("Versions") or []
                                    if c.get("Version") not in fst.deleted_versions]
            for c in data.get("Versions") or []:
                fix_cfg(c, False)
        elif opn == "ListFunctions":
            for c in data.get("Functions") or []:
                fix_cfg(c, False)
        elif fixes and opn in ("CreateAlias", "GetAlias", "UpdateAlias"):
            name = data.get("Name") or call.alias
            data["RevisionId"] = fst.alias_revs.setdefault(name, str(uuid.uuid4()))
        elif fixes and opn == "ListAliases":
            for a in data.get("Aliases") or []:
                a["RevisionId"] = fst.alias_revs.setdefault(a.get("Name"), str(uuid.uuid4()))
        elif fixes and opn in ("CreateFunctionUrlConfig", "GetFunctionUrlConfig",
                               "UpdateFunctionUrlConfig"):
            fix_url(data, call.qualifier)
        elif fixes and opn == "ListFunctionUrlConfigs":
            for c in data.get("FunctionUrlConfigs") or []:
                fix_url(c, fst.url_qualifier)
        elif fixes and opn == "GetPolicy":
            try:
                policy = json.loads(data.get("Policy") or "{}")
            except ValueError:
                return
            stmts = [s for s in policy.get("Statement", []) if stmt_matches(s, call.qualifier)]
            if not stmts:
                new = aws_error(call, 404, "ResourceNotFoundException",
                                "The resource you requested does not exist.")
                reply.status, reply.headers, reply.body = new.status, new.headers, new.body
                reply.reason = None
                return
            policy["Statement"] = [real_statement(st) for st in stmts]
            data["Policy"] = json.dumps(policy)
        elif fixes and opn == "AddPermission" and isinstance(data.get("Statement"), str):
            try:
                data["Statement"] = json.dumps(real_statement(json.loads(data["Statement"])))
            except ValueError:
                return
        else:
            return
        reply.set_json(data)

    # -- Invoke -------------------------------------------------------------------------
    def invoke(self, call: Call, cfg):
        name = call.function
        qual = call.qualifier or "$LATEST"
        path = f"/2015-03-31/functions/{q(name)}/configuration"
        if qual != "$LATEST":
            path += "?Qualifier=" + q(qual)
        cur = self.lookup(call, path)
        if not cur.ok:
            return cur  # ResourceNotFoundException etc., as moto words it
        version = (cur.json() or {}).get("Version", qual)
        try:
            payload_in = json.loads(call.body) if call.body else None
        except ValueError:
            payload_in = call.body.decode("utf-8", "replace")
        call.extra["payload"] = payload_in
        call.extra["executed_version"] = version
        rules = cfg["invoke"]
        rule = None
        for key in (f"{name}:{qual}", f"{name}:{version}", f"{name}:*", "*"):
            if key in rules:
                rule = rules[key]
                call.extra["invoke_rule"] = key
                break
        if rule is None and cfg["invoke_mode"] == "run":
            return self.invoke_run(call, name, version)
        if rule is None:
            rule = {"statusCode": 200, "body": "ok"}
        if rule.get("delay"):
            time.sleep(float(rule["delay"]))
        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", version),
                   ("x-amzn-RequestId", str(uuid.uuid4()))]
        itype = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if itype == "Event":
            return Reply(202, headers, b"")
        if itype == "DryRun":
            return Reply(204, headers, b"")
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            log = f"START Version: {version}\nEND\n"
            headers.append(("X-Amz-Log-Result", base64.b64encode(log.encode()).decode()))
        if rule.get("function_error"):
            headers.append(("X-Amz-Function-Error", str(rule["function_error"])))
            payload = rule.get("payload", {"errorMessage": "injected function error",
                                           "errorType": "Error"})
        elif "payload" in rule:
            payload = rule["payload"]
        else:
            payload = {
                "statusCode": rule.get("statusCode", 200),
                "headers": rule.get("headers", {"content-type": "text/plain"}),
                "body": rule.get("body", ""),
                "isBase64Encoded": bool(rule.get("isBase64Encoded", False)),
            }
        return Reply(200, headers, json.dumps(payload).encode())

    def invoke_run(self, call: Call, name, version):
        """`invoke_mode: run`: run the function's code (see invoke_runner.py)."""
        import invoke_runner

        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", version),
                   ("x-amzn-RequestId", str(uuid.uuid4()))]
        try:
            error, payload, log = invoke_runner.run(
                lambda path, svc: self.lookup(call, path, service=svc), name, version,
                call.body, call.region or "us-east-1")
        except invoke_runner.RunError as e:
            return aws_error(call, 500, "ServiceException", f"invoke_runner: {e}")
        call.extra["invoke_rule"] = "run"
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            headers.append(("X-Amz-Log-Result", invoke_runner.log_tail(log)))
        if error:
            headers.append(("X-Amz-Function-Error", error))
        return Reply(200, headers, payload)


# ---------------------------------------------------------------------------------------
# moto fixes: API Gateway v2 custom domain names
# ---------------------------------------------------------------------------------------

# Route 53 hosted zone ids of API Gateway's regional endpoints, from "Amazon API Gateway
# endpoints and quotas" (https://docs.aws.amazon.com/general/latest/gr/apigateway.html,
# column "Route 53 Hosted Zone ID").
APIGW_REGIONAL_ZONES = {
    "us-east-1": "Z1UJRXOUMOOFQ8", "us-east-2": "ZOJJZC49E0EPZ",
    "us-west-1": "Z2MUQ32089INYE", "us-west-2": "Z2OJLYMUO9EFXC",
    "eu-west-1": "ZLY8HYME6SFDD", "eu-west-2": "ZJ5UAJN8Y3Z2Q",
    "eu-west-3": "Z3KY65QIEKYHQQ", "eu-central-1": "Z1U9ULNL0V5AJ3",
    "ap-northeast-1": "Z1YSHQZHG15GKL", "ap-southeast-1": "ZL327KTPIQFUL",
    "ap-southeast-2": "Z2RPCDW04V8134", "ca-central-1": "Z19DQILCV0OWEC",
    "sa-east-1": "ZCMLWB8V5SYIT",
}
DOMAIN_NAME_PATH_RE = re.compile(r"^/v2/domainnames(?:/[^/]+)?/?$")


def fix_apigateway_domain_names(call, reply):
    """moto's apigatewayv2 domain names lack the regional target that real API Gateway reports
    in every DomainNameConfiguration (CreateDomainName, GetDomainName(s), UpdateDomainName):
    `ApiGatewayDomainName` `d-<id>.execute-api.<region>.amazonaws.com`, the `HostedZoneId` of
    the region's execute-api endpoints, and `DomainNameStatus` AVAILABLE (API reference,
    https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/domainnames-domainname.html
    #domainnames-domainname-model-domainnameconfiguration). Alias records need both: add them
    where moto leaves them out. The id is derived from the name, so it is stable."""
    if not reply.ok or not DOMAIN_NAME_PATH_RE.match(call.raw_path):
        return
    body = reply.json()
    if not isinstance(body, dict):
        return
    domains = body.get("items") if isinstance(body.get("items"), list) else [body]
    changed = False
    for d in domains:
        name = d.get("domainName") if isinstance(d, dict) else None
        if not name:
            continue
        digest = hashlib.sha256(f"{call.region}/{name}".encode()).hexdigest()
        target = f"d-{digest[:10]}.execute-api.{call.region}.amazonaws.com"
        for c in d.get("domainNameConfigurations") or []:
            if not isinstance(c, dict) or c.get("endpointType", "REGIONAL") != "REGIONAL":
                continue
            for key, value in (("apiGatewayDomainName", target),
                               ("hostedZoneId", APIGW_REGIONAL_ZONES.get(call.region, "Z1UJRXOUMOOFQ8")),
                               ("domainNameStatus", "AVAILABLE")):
                if not c.get(key):
                    c[key] = value
                    changed = True
    if changed:
        reply.set_json(body)


def q(s, safe=""):
    return urllib.parse.quote(str(s), safe=safe)


def stmt_matches(stmt, qualifier):
    res = stmt.get("Resource") or ""
    if isinstance(res, list):
        res = res[0] if res else ""
    tail = res.split(":function:", 1)[-1]
    got = tail.split(":", 1)[1] if ":" in tail else None
    want = None if qualifier in (None, "$LATEST") else qualifier
    return got == want


def real_statement(stmt):
    """A policy statement as Lambda stores it. moto keeps AddPermission's request fields as they
    came (`FunctionUrlAuthType: "NONE"`, `InvokedViaFunctionUrl: true`, an account id as
    Principal); Lambda turns them into conditions and principals (Lambda developer guide,
    "Control access to Lambda function URLs": `"Condition": {"StringEquals":
    {"lambda:FunctionUrlAuthType": "NONE"}}` and, since October 2025, the lambda:InvokeFunction
    statement with `{"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}`; "Viewing resource-based
    IAM policies": an account id becomes `{"AWS": "arn:aws:iam::<id>:root"}`)."""
    if not isinstance(stmt, dict):
        return stmt
    stmt = dict(stmt)
    cond = dict(stmt.pop("Condition", None) or {})
    auth = stmt.pop("FunctionUrlAuthType", None)
    if auth is not None:
        cond.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = auth
    via = stmt.pop("InvokedViaFunctionUrl", None)
    if via:
        cond.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
    token = stmt.pop("EventSourceToken", None)
    if token:
        cond.setdefault("StringEquals", {})["lambda:EventSourceToken"] = token
    principal = stmt.get("Principal")
    if isinstance(principal, str) and re.fullmatch(r"\d{12}", principal):
        stmt["Principal"] = {"AWS": f"arn:aws:iam::{principal}:root"}
    for k in ("Qualifier", "FunctionName", "RevisionId"):
        stmt.pop(k, None)
    out = {k: stmt.pop(k) for k in ("Sid", "Effect", "Principal", "Action", "Resource")
           if k in stmt}
    out.update(stmt)
    if cond:
        out["Condition"] = cond
    return out


def fix_url(c, qualifier):
    url = c.get("FunctionUrl")
    if isinstance(url, str) and not url.endswith("/"):
        c["FunctionUrl"] = url + "/"
    arn = c.get("FunctionArn")
    if qualifier and isinstance(arn, str) and arn.count(":") == 6:
        c["FunctionArn"] = f"{arn}:{qualifier}"


# -- issue #19 (ops at scale): what moto 5.2.1 lacks for `status`, `gc` and `cost` -----------
def scale_hook(handler, call, cfg):
    """Answer the calls below as AWS does, or return None to go on as usual. Memoised per
    call so that the dispatcher's test-and-use costs one answer."""
    if hasattr(call, "scale_reply"):
        return call.scale_reply
    target = handler.headers.get("X-Amz-Target", "")
    if call.operation is None and call.service in ("tagging", "logs", "monitoring") and target:
        call.operation = target.rsplit(".", 1)[-1]  # name JSON-protocol calls in the log
    reply = None
    if cfg["moto_fixes"] and call.service == "lambda" and call.operation == "GetAccountSettings":
        reply = account_settings(handler, call, cfg)
    elif (cfg["moto_fixes"] and call.service == "tagging"
          and target.endswith(".GetResources")):
        reply = tagging_get_resources(handler, call)
    elif (cfg["live_tail"] and call.service == "logs"
          and target.endswith(".StartLiveTail")):
        reply = live_tail(handler, call, cfg)
    elif call.service == "monitoring" and call.raw_path.startswith(CBOR_PREFIX):
        call.operation = call.raw_path[len(CBOR_PREFIX):].strip("/")
        reply = cloudwatch_cbor(handler, call)
    call.scale_reply = reply
    return reply


def eventstream_message(headers, payload: bytes) -> bytes:
    """One message of the AWS event stream encoding (application/vnd.amazon.eventstream), as
    documented in "Event stream encoding" (Amazon Lex V2 developer guide,
    https://docs.aws.amazon.com/lexv2/latest/dg/event-stream-encoding.html, the same framing as
    Transcribe's https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html): a prelude
    of the total length and the headers' length (4-byte big-endian each) and its CRC32, the
    headers (name length (1 byte), name, value type 7 = string, value length (2 bytes), value),
    the payload, and the CRC32 of everything before it."""
    head = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value.encode()))
        + value.encode()
        for name, value in headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


def live_tail_event(event_type: str, body: dict) -> bytes:
    """An event of the stream: `:message-type event`, `:event-type` the union member's name
    (`sessionStart`, `sessionUpdate`: StartLiveTailResponseStream, CloudWatch Logs API
    Reference), the member as a JSON payload (Smithy event streams over awsJson1_1,
    https://smithy.io/2.0/spec/streaming.html#event-streams)."""
    return eventstream_message([(":message-type", "event"), (":event-type", event_type),
                                (":content-type", "application/json")],
                               json.dumps(body).encode())


def live_tail(handler, call, cfg):
    """StartLiveTail as CloudWatch Logs answers it (API Reference, StartLiveTail,
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartLiveTail.html):
    `logGroupIdentifiers` are ARNs (or names), 1 to 10 of them; the answer is an event stream
    of one LiveTailSessionStart, then every second a LiveTailSessionUpdate whose
    `sessionResults` hold the events ingested during that second (an empty list when there are
    none), and after `live_tail_session_seconds` (AWS: three hours) a SessionTimeoutException.
    The events are moto's (FilterLogEvents on each group) whose ingestionTime is after the
    session started: Live Tail shows what is ingested while it runs, never the history."""
    try:
        req = json.loads(call.body or b"{}")
    except ValueError:
        req = {}
    groups = req.get("logGroupIdentifiers") if isinstance(req, dict) else None
    if not isinstance(groups, list) or not 1 <= len(groups) <= 10:
        return aws_error(call, 400, "InvalidParameterException",
                         "logGroupIdentifiers must hold 1 to 10 log groups")
    names = [g.split(":log-group:", 1)[1] if ":log-group:" in g else g for g in groups]
    pattern = req.get("logEventFilterPattern")
    started_ms = int(time.time() * 1000)
    session_seconds = float(cfg["live_tail_session_seconds"])
    headers = [(k, v) for k, v in handler.headers.items()
               if k.lower() not in ("content-length", "x-amz-target")]
    headers += [("X-Amz-Target", "Logs_20140328.FilterLogEvents")]

    def moto_events(name):
        events, token = [], None
        while True:
            q = {"logGroupName": name, "startTime": started_ms - 3_600_000}
            if pattern:
                q["filterPattern"] = pattern
            if token:
                q["nextToken"] = token
            reply, _ = handler.upstream("POST", "/", headers, json.dumps(q).encode())
            page = reply.json() if reply.ok else None
            if not isinstance(page, dict):
                return events
            events += page.get("events") or []
            nxt = page.get("nextToken")
            if not nxt or nxt == token:
                return events
            token = nxt

    def stream(write):
        write(live_tail_event("sessionStart", {
            "requestId": str(uuid.uuid4()), "sessionId": str(uuid.uuid4()),
            "logGroupIdentifiers": groups, "logStreamNames": [], "logStreamNamePrefixes": [],
            "logEventFilterPattern": pattern or "",
        }))
        seen = set()
        deadline = time.monotonic() + session_seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(1.0, left))
            results = []
            for group, name in zip(groups, names):
                for e in moto_events(name):
                    if e.get("eventId") in seen or int(e.get("ingestionTime") or 0) < started_ms:
                        continue
                    seen.add(e.get("eventId"))
                    results.append({
                        "logStreamName": e.get("logStreamName"), "logGroupIdentifier": group,
                        "message": e.get("message"), "timestamp": e.get("timestamp"),
                        "ingestionTime": e.get("ingestionTime"),
                    })
            results.sort(key=lambda r: (r["ingestionTime"], r["timestamp"]))
            write(live_tail_event("sessionUpdate", {
                "sessionMetadata": {"sampled": False}, "sessionResults": results}))
        # "A SessionTimeoutException object is returned when the session times out, after it
        # has been kept open for three hours." (StartLiveTail)
        write(eventstream_message(
            [(":message-type", "exception"), (":exception-type", "SessionTimeoutException"),
             (":content-type", "application/json")],
            json.dumps({"message": "Session timed out"}).encode()))

    reply = Reply(200, [("Content-Type", "application/vnd.amazon.eventstream"),
                        ("x-amzn-RequestId", str(uuid.uuid4()))])
    reply.stream = stream
    return reply


def account_settings(handler, call, cfg):
    """GetAccountSettings: moto 5.2.1 has no route for it (404). Real Lambda answers
    `AccountLimit.TotalCodeSize` (75 GB by default: "Function and layer storage", Lambda quotas,
    https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html) and
    `AccountUsage.TotalCodeSize`, the bytes of every version of every function ("The amount of
    storage space that you're using for deployment packages and layer archives",
    https://docs.aws.amazon.com/lambda/latest/api/API_AccountUsage.html). Usage here: the
    CodeSize of every function version moto holds (ListFunctions FunctionVersion=ALL)."""
    listed = handler.lookup(call, "/2015-03-31/functions/?FunctionVersion=ALL")
    functions = (listed.json() or {}).get("Functions", []) if listed.ok else []
    used = sum(int(f.get("CodeSize") or 0) for f in functions)
    names = {f.get("FunctionName") for f in functions}
    body = {
        "AccountLimit": {
            "TotalCodeSize": int(cfg["account_code_size_limit"]),
            "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000,
        },
        "AccountUsage": {"TotalCodeSize": used, "FunctionCount": len(names)},
    }
    reply = Reply(200, [("Content-Type", "application/json")])
    reply.set_json(body)
    return reply


def tagging_get_resources(handler, call):
    """GetResources with only `ResourcesPerPage`: real AWS fills pages by that limit ("AWS
    recommends using ResourcesPerPage instead of [TagsPerPage]", GetResources, Resource Groups
    Tagging API Reference), while moto 5.2.1 also applies its own TagsPerPage default of 100,
    so a page of functions with two tags each holds 49. Forward with TagsPerPage 500 (the API's
    maximum) when the caller gave none."""
    try:
        req = json.loads(call.body or b"{}")
    except ValueError:
        return None
    if not isinstance(req, dict) or "TagsPerPage" in req:
        return None
    req["TagsPerPage"] = 500
    body = json.dumps(req).encode()
    headers = [(k, v) for k, v in handler.headers.items() if k.lower() != "content-length"]
    try:
        reply, _ = handler.upstream(call.method, handler.path, headers, body)
    except OSError as e:
        return Reply(502, [("Content-Type", "text/plain")],
                     f"fault-proxy: upstream unreachable: {e}".encode())
    return reply


# CloudWatch in the Rust SDK (aws-sdk-cloudwatch 1.140) speaks Smithy RPC v2 CBOR:
# `POST /service/GraniteServiceVersion20100801/operation/<Op>` with `smithy-protocol:
# rpc-v2-cbor` (https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html). moto 5.2.1
# routes only `POST /` (query or awsJson1_0) and answers the CBOR path 404. Translate: decode
# the CBOR request, forward it as awsJson1_0 (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`),
# and encode moto's JSON answer (or error, `__type` + `message`) back to CBOR; timestamps
# (`Timestamp`, `Timestamps`, `StartTime`, `EndTime`) are CBOR tag 1 (epoch seconds), as the
# protocol specifies. Always on: without it moto can't serve CloudWatch to the Rust SDK at all.
CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
CBOR_TIME_KEYS = {"Timestamp", "Timestamps", "StartTime", "EndTime", "StateUpdatedTimestamp"}


class _Tagged:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def cbor_decode(data: bytes):
    pos = 0

    def arg(info):
        nonlocal pos
        if info < 24:
            return info
        n = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        v = int.from_bytes(data[pos:pos + n], "big")
        pos += n
        return v

    def item():
        nonlocal pos
        b = data[pos]
        pos += 1
        major, info = b >> 5, b & 31
        if major == 7:
            if info == 20:
                return False
            if info == 21:
                return True
            if info in (22, 23):
                return None
            import struct
            fmt, n = {25: (">e", 2), 26: (">f", 4), 27: (">d", 8)}[info]
            v = struct.unpack(fmt, data[pos:pos + n])[0]
            pos += n
            return v
        if info == 31:  # indefinite length
            if major in (2, 3):
                parts = []
                while data[pos] != 0xFF:
                    parts.append(item())
                pos += 1
                return (b"" if major == 2 else "").join(parts)
            if major == 4:
                out = []
                while data[pos] != 0xFF:
                    out.append(item())
                pos += 1
                return out
            if major == 5:
                out = {}
                while data[pos] != 0xFF:
                    k = item()
                    out[k] = item()
                pos += 1
                return out
        n = arg(info)
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major in (2, 3):
            raw = data[pos:pos + n]
            pos += n
            return raw if major == 2 else raw.decode("utf-8")
        if major == 4:
            return [item() for _ in range(n)]
        if major == 5:
            out = {}
            for _ in range(n):
                k = item()
                out[k] = item()
            return out
        if major == 6:
            return _Tagged(n, item())
        raise ValueError(f"CBOR major type {major}")

    return item() if data else {}


def cbor_to_json(v):
    if isinstance(v, _Tagged):
        return cbor_to_json(v.value)  # tag 1: epoch seconds, as awsJson writes timestamps
    if isinstance(v, dict):
        return {k: cbor_to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [cbor_to_json(x) for x in v]
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    return v


def cbor_encode(v, time_key=False) -> bytes:
    import struct

    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | info]) + n.to_bytes(size, "big")
        raise ValueError("too large")

    if time_key and isinstance(v, (int, float)) and not isinstance(v, bool):
        return b"\xc1" + cbor_encode(float(v))
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, str):
        raw = v.encode()
        return head(3, len(raw)) + raw
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor_encode(x, time_key) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(
            cbor_encode(k) + cbor_encode(x, k in CBOR_TIME_KEYS) for k, x in v.items())
    raise TypeError(type(v))


def cloudwatch_cbor(handler, call):
    request = cbor_to_json(cbor_decode(call.body or b""))
    headers = [("X-Amz-Target", f"GraniteServiceVersion20100801.{call.operation}"),
               ("Content-Type", "application/x-amz-json-1.0")]
    headers += [(k, v) for k, v in handler.aux_headers(call, "monitoring")]
    try:
        up, _ = handler.upstream("POST", "/", headers, json.dumps(request).encode())
    except OSError as e:
        return Reply(502, [("Content-Type", "text/plain")],
                     f"fault-proxy: upstream unreachable: {e}".encode())
    try:
        answer = json.loads(up.body or b"{}")
    except ValueError:
        answer = {"__type": "InternalFailure", "message": up.body.decode("utf-8", "replace")}
    if not up.ok and isinstance(answer, dict) and "__type" not in answer:
        answer = {"__type": answer.get("Code") or "InternalFailure",
                  "message": answer.get("Message") or answer.get("message") or ""}
    return Reply(up.status, [("Content-Type", "application/cbor"),
                             ("smithy-protocol", "rpc-v2-cbor")], cbor_encode(answer))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--seed", default=None, help="seed for the random faults")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args(argv)
    seed = args.seed
    if seed is not None and seed.lstrip("-").isdigit():
        seed = int(seed)
    state = ProxyState(args.upstream, seed, args.verbose)
    Handler.state = state
    server = Server((args.host, args.port), Handler)

    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# -- issue 18: provisioned concurrency, which moto has no routes for (moto/awslambda/urls.py
# of 5.2.1 and of getmoto/moto 0af643a have no /2019-09-30/.../provisioned-concurrency).
# deploy-action never sets it, but reads it before enabling SnapStart: "SnapStart does not
# support provisioned concurrency" (AWS "Improving startup performance with Lambda SnapStart",
# Supported features and limitations,
# https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html). Modelled: Put (tests set it up
# through the proxy) and List, with the shapes of the Lambda API reference
# (https://docs.aws.amazon.com/lambda/latest/api/API_PutProvisionedConcurrencyConfig.html: 202,
# Status IN_PROGRESS; .../API_ListProvisionedConcurrencyConfigs.html: FunctionArn qualified).
# Configs go with the function (DeleteFunction drops the proxy's state of it). Not modelled: Get
# and Delete, the allocation delay, the account's concurrency limits.
PROVISIONED_CONCURRENCY_OPS = ("PutProvisionedConcurrencyConfig",
                               "ListProvisionedConcurrencyConfigs")


def provisioned_concurrency(handler, call, fst, body):
    name = call.function
    latest = handler.lookup(call, f"/2015-03-31/functions/{q(name)}/configuration")
    if not latest.ok:
        return latest  # moto's own answer for a function that doesn't exist
    arn = (latest.json() or {}).get("FunctionArn") or function_arn(call, fst, name)
    if call.operation == "ListProvisionedConcurrencyConfigs":
        configs = [
            {"FunctionArn": f"{arn}:{qualifier}",
             "RequestedProvisionedConcurrentExecutions": c["n"],
             "AvailableProvisionedConcurrentExecutions": c["n"],
             "AllocatedProvisionedConcurrentExecutions": c["n"],
             "Status": "READY", "LastModified": c["modified"]}
            for qualifier, c in sorted(fst.provisioned.items())
        ]
        reply = Reply(200, [("Content-Type", "application/json")])
        reply.set_json({"ProvisionedConcurrencyConfigs": configs})
        return reply
    qualifier = call.qualifier
    if qualifier.isdigit():
        found = handler.lookup(call, f"/2015-03-31/functions/{q(name)}/configuration"
                                     f"?Qualifier={q(qualifier)}")
    else:
        found = handler.lookup(call, f"/2015-03-31/functions/{q(name)}/aliases/{q(qualifier)}")
    if not found.ok:
        return aws_error(call, 404, "ResourceNotFoundException",
                         f"Function not found: {arn}:{qualifier}")
    n = int(body.get("ProvisionedConcurrentExecutions") or 0)
    modified = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())
    fst.provisioned[qualifier] = {"n": n, "modified": modified}
    reply = Reply(202, [("Content-Type", "application/json")])
    reply.set_json({"RequestedProvisionedConcurrentExecutions": n,
                    "AvailableProvisionedConcurrentExecutions": 0,
                    "AllocatedProvisionedConcurrentExecutions": 0,
                    "Status": "IN_PROGRESS", "LastModified": modified})
    return reply


if __name__ == "__main__":
    main()
