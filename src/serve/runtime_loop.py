"""deploy-action serve: a Lambda runtime interface loop for Python handlers.

Speaks the Lambda Runtime API at AWS_LAMBDA_RUNTIME_API the way awslambdaric does: import the
handler (reporting failures to /runtime/init/error), then forever take an invocation from
/runtime/invocation/next, call handler(event, context), and post the result to .../response or
the exception to .../error.

serve uses it where awslambdaric can't run: under qemu-user for arm64 bundles (awslambdaric's C
extension can't be installed into the emulated CPython), or when awslambdaric can't be
installed on the host. Standard library only, and single-threaded: under qemu-user on some
machines a second thread never starts.

Usage: python runtime_loop.py MODULE.FUNCTION
"""

import decimal
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback

API = os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
BASE = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


def call(method, path, body=None, headers=None):
    """One request to the Runtime API. No timeout: /next long-polls."""
    conn = http.client.HTTPConnection(API)
    try:
        conn.request(method, BASE + path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp, resp.read()
    finally:
        conn.close()


def error_body(error_type, message, stack=None):
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack or []}


def post_error(path, err, header_type):
    body = json.dumps(err).encode()
    headers = {"Content-Type": "application/json", ERROR_TYPE_HEADER: header_type}
    call("POST", path, body, headers)


def log_exception(err):
    # Lambda's Python runtime logs an unhandled error as "[ERROR] Type: message" and the trace.
    lines = ["[ERROR] %s: %s" % (err["errorType"], err["errorMessage"])]
    if err["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in err["stackTrace"])
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def exception_error(exc, error_type=None):
    # The user's frames only, as Lambda shows them: not this loop's call into the handler.
    here = os.path.abspath(__file__)
    tb = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename) != here]
    return error_body(error_type or type(exc).__name__, str(exc), traceback.format_list(tb))


def load_handler(spec):
    """`dir/module.function` or `package.module.function`, as Lambda resolves _HANDLER."""
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise HandlerError(
            "Runtime.MalformedHandlerName", "Bad handler '%s': not enough values to unpack" % spec
        )
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise HandlerError(
            "Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_name, exc), exc
        )
    except ImportError as exc:
        raise HandlerError(
            "Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, exc), exc
        )
    except Exception as exc:
        raise HandlerError(type(exc).__name__, str(exc), exc)
    handler = getattr(module, function_name, None)
    if handler is None:
        raise HandlerError(
            "Runtime.HandlerNotFound",
            "Handler '%s' missing on module '%s'" % (function_name, module_name),
        )
    return handler


class HandlerError(Exception):
    def __init__(self, error_type, message, cause=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.cause = cause


class Context:
    """The context object handlers receive (the attributes awslambdaric's has)."""

    def __init__(self, request_id, deadline_ms, function_arn):
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, msg):
        sys.stdout.write(str(msg))


class RequestIdFilter(logging.Filter):
    request_id = None

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


def setup_logging():
    # The root logger as Lambda's Python runtime sets it up: level WARNING unless
    # AWS_LAMBDA_LOG_LEVEL says otherwise, records stamped with the request id.
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging._nameToLevel:
        root.setLevel(level)


def to_json_default(value):
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def handle(handler, status, resp, body):
    request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    if status != 200 or not request_id:
        sys.stderr.write("runtime_loop: /next answered %s without a request id\n" % status)
        time.sleep(0.5)
        return
    trace_id = resp.getheader("Lambda-Runtime-Trace-Id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    RequestIdFilter.request_id = request_id
    deadline = int(resp.getheader("Lambda-Runtime-Deadline-Ms") or 0)
    context = Context(request_id, deadline, resp.getheader("Lambda-Runtime-Invoked-Function-Arn"))
    error_path = "/invocation/%s/error" % request_id
    try:
        event = json.loads(body) if body else {}
    except ValueError as exc:
        err = error_body("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % exc)
        log_exception(err)
        post_error(error_path, err, "Runtime.UnmarshalError")
        return
    try:
        result = handler(event, context)
    except Exception as exc:
        err = exception_error(exc)
        log_exception(err)
        post_error(error_path, err, "Unhandled")
        return
    try:
        payload = json.dumps(result, default=to_json_default).encode()
    except (TypeError, ValueError) as exc:
        err = error_body("Runtime.MarshalError", "Unable to marshal response: %s" % exc)
        log_exception(err)
        post_error(error_path, err, "Runtime.MarshalError")
        return
    status, _, answer = call(
        "POST",
        "/invocation/%s/response" % request_id,
        payload,
        {"Content-Type": "application/json"},
    )
    if status != 202:
        sys.stderr.write("runtime_loop: the response was refused (%s): %s\n" % (status, answer[:500]))


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: runtime_loop.py MODULE.FUNCTION\n")
        return 2
    setup_logging()
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root and task_root not in sys.path:
        sys.path.insert(0, task_root)
    try:
        handler = load_handler(argv[1])
    except HandlerError as exc:
        if exc.cause is not None:
            err = exception_error(exc.cause, exc.error_type)
            err["errorMessage"] = exc.message
        else:
            err = error_body(exc.error_type, exc.message)
        log_exception(err)
        post_error("/init/error", err, exc.error_type)
        return 1
    while True:
        status, resp, body = call("GET", "/invocation/next")
        handle(handler, status, resp, body)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
