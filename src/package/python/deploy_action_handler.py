"""Lambda handler written by deploy-action.

It adapts function URL events and API Gateway HTTP API events (both payload format 2.0, the
same shape) to the app's WSGI or ASGI interface:
WSGI apps (Flask, Django, ...) through apig_wsgi, ASGI apps (FastAPI, Starlette, Sanic, ...)
through mangum. Importing the app, choosing the adapter and the ASGI lifespan startup happen
once, here at import, in Lambda's init phase; a warm invocation only translates the request.
Direct invocations by `deploy-action invoke` (run Python, or a Django management command) are
recognised by their exact shape, see `is_command`. Nothing here starts a thread.
"""

import asyncio
import atexit
import importlib
import inspect
import io
import os
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from urllib.parse import quote

# The app as `module:attribute`, filled in by deploy-action at build time.
APP = "__DEPLOY_ACTION_APP__"


def _load(spec):
    module_name, _, attr = spec.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(
                f"deploy-action: {module_name} has no attribute {attr!r}; "
                "pass --python-app module:attr naming the WSGI or ASGI app object"
            ) from None
    return obj


def is_asgi(app):
    """ASGI 3 apps are async callables taking (scope, receive, send); WSGI apps are plain
    callables taking (environ, start_response)."""
    if any(cls.__name__ == "Sanic" for cls in type(app).__mro__):
        return True
    call = app if inspect.isroutine(app) else getattr(app, "__call__", None)
    if call is None:
        raise TypeError(f"deploy-action: the app {APP} is not callable (got {type(app).__name__})")
    if inspect.iscoroutinefunction(call):
        return True
    try:
        params = inspect.signature(call).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) == 3


def _wsgi_handler(app):
    from apig_wsgi import make_lambda_handler

    # binary_support: bodies whose content type is not text go out base64-encoded.
    return make_lambda_handler(app, binary_support=True)


def _asgi_handler(app):
    from mangum import Mangum
    from mangum.protocols import LifespanCycle

    global _lifespan

    # One event loop for the life of the process: mangum runs each request on the current
    # loop, and the lifespan task started below stays suspended on it between requests.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    # Lifespan startup once per cold start (mangum's own lifespan="auto" would run startup
    # and shutdown around every request). The module keeps the cycle: asyncio holds tasks
    # only weakly, and the suspended lifespan task must survive until shutdown.
    _lifespan = LifespanCycle(app, "auto")
    _lifespan.__enter__()
    if _lifespan.exception is not None:
        raise _lifespan.exception
    # Lambda kills the process without notice; a local run that exits normally gets the
    # app's shutdown.
    atexit.register(_lifespan.__exit__, None, None, None)
    state = _lifespan.lifespan_state

    async def adapted(scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            # Starlette's lifespan state: each request gets a shallow copy.
            scope["state"] = dict(state)
            if scope.get("raw_path") is None:
                # mangum leaves raw_path out; Sanic needs it. The event's rawPath is the
                # path as the client sent it.
                event = scope.get("aws.event") or {}
                raw = event.get("rawPath") or scope["path"]
                scope["raw_path"] = quote(raw, safe="/%:@!$&'()*+,;=-._~").encode("ascii")
        await app(scope, receive, send)

    return Mangum(adapted, lifespan="off")


_lifespan = None
_app = _load(APP)
KIND = "asgi" if is_asgi(_app) else "wsgi"
_handler = _asgi_handler(_app) if KIND == "asgi" else _wsgi_handler(_app)


_NOT_OURS = object()


def _deploy_action_event(event, context):
    """Events of the EventBridge rules deploy-action made: their input is
    {"deploy-action": "schedule", "function": "module:function", ...} (run that function with
    the event, as zappa's `events` do) or {"deploy-action": "keep-warm"} (answered here: the
    app is already imported, which is what the ping is for). Anything else is not ours."""
    kind = event.get("deploy-action") if isinstance(event, dict) else None
    if kind == "keep-warm":
        return {"deploy-action": "warm"}
    if kind == "schedule":
        return _load(event["function"])(event, context)
    return _NOT_OURS


# Direct invocations of `deploy-action invoke` / `--release-command`: an event that is exactly
# {"deploy-action": {"command": "python" | "manage", ...}} and nothing else. Lambda builds the
# events of a function URL, an HTTP API and EventBridge itself, and each of them carries keys of
# its own (`version`, `rawPath`, `requestContext`; `source`, `detail-type`), with the client's
# request only inside `body`: no request to the public URL can produce this shape. Only a caller
# with lambda:InvokeFunction on the function can send it.
COMMAND_KEY = "deploy-action"


def is_command(event):
    return isinstance(event, dict) and len(event) == 1 and isinstance(event.get(COMMAND_KEY), dict)


def run_command(command):
    """Run a `python` or `manage` command; answer {"deploy-action": {status, stdout, stderr,
    duration_ms}} (plus `error` when it could not run at all). What the command prints is
    captured and also echoed to the function's log."""
    started = time.monotonic()
    out, err = io.StringIO(), io.StringIO()
    status, error = 0, None
    kind = command.get("command")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            if kind == "python" and isinstance(command.get("code"), str):
                exec(compile(command["code"], "<deploy-action invoke>", "exec"), {"__name__": "__main__"})
            elif kind == "manage" and isinstance(command.get("args"), list):
                if not os.environ.get("DJANGO_SETTINGS_MODULE"):
                    status, error = 2, "not_django"
                    print(f"deploy-action: {APP} is not a Django app (DJANGO_SETTINGS_MODULE is not set); "
                          "--manage runs Django management commands", file=sys.stderr)
                else:
                    from django.core.management import execute_from_command_line

                    execute_from_command_line(["manage.py", *map(str, command["args"])])
            else:
                status, error = 2, "bad_command"
                print(f"deploy-action: unknown command {kind!r}", file=sys.stderr)
    except SystemExit as e:
        code = e.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        if code is not None and not isinstance(code, int):
            err.write(f"{code}\n")
    except BaseException:
        status = 1
        err.write(traceback.format_exc())
    result = {
        "status": status,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "duration_ms": int((time.monotonic() - started) * 1000),
    }
    if error:
        result["error"] = error
    sys.stdout.write(result["stdout"])
    sys.stderr.write(result["stderr"])
    return {COMMAND_KEY: result}


def handler(event, context):
    if is_command(event):
        return run_command(event[COMMAND_KEY])
    answer = _deploy_action_event(event, context)
    if answer is not _NOT_OURS:
        return answer
    return _handler(event, context)
