"""Lambda handler written by deploy-action.

It adapts function URL events and API Gateway HTTP API events (both payload format 2.0, the
same shape) to the app's WSGI or ASGI interface:
WSGI apps (Flask, Django, ...) through apig_wsgi, ASGI apps (FastAPI, Starlette, Sanic, ...)
through mangum. Importing the app, choosing the adapter and the ASGI lifespan startup happen
once, here at import, in Lambda's init phase; a warm invocation only translates the request.
Nothing here starts a thread.
"""

import asyncio
import atexit
import importlib
import inspect
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


def handler(event, context):
    return _handler(event, context)
