"""Write bytecode for the modules a bundle imports at start-up (issue 20 §2), run by deploy-action
with a CPython of the runtime's exact minor version.

Lambda's /var/task is read-only, so without `__pycache__/*.cpython-3XY.pyc` in the bundle every
cold start compiles every imported module again. Compiling everything would double a Flask
bundle's size, so only the modules reachable at import time are compiled: a static walk of the
module-level imports (function bodies are lazy and left out, `if TYPE_CHECKING:` too) from the
roots given on the command line (the handler, the app module, the adapters), resolved inside the
bundle only (the runtime's own standard library has its bytecode already).

The `.pyc` are `unchecked-hash` (PEP 552): timestamp-checked bytecode would never match the fixed
timestamps of our zip, and checked-hash would hash every source on every import. The recorded
file name is `/var/task/<path>` and files are compiled in sorted order in one process with
PYTHONHASHSEED=0 (set by the caller), so the output is the same from build to build.

Column positions are left out (the caller runs this with `-X no_debug_ranges`): tracebacks keep
file and line, lose only the `^^^` markers, and the bytecode is ~15% smaller, which is what keeps
a Flask bundle under 1.5 MiB.

The handler imports one adapter, apig_wsgi for WSGI apps or mangum for ASGI ones, inside a
function, once it has seen the app. Both ship; mangum (with typing_extensions, ~200 KB of
bytecode) is compiled unless the app's start-up imports reach a WSGI framework and no ASGI one.

Usage: PYTHONHASHSEED=0 python3.X -S -s -X no_debug_ranges compile_bytecode.py BUNDLE_DIR ROOT_MODULE...
Prints one line per compiled file (its path relative to BUNDLE_DIR), then nothing else.
"""

import ast
import os
import py_compile
import sys

TASK_ROOT = "/var/task"
WSGI_ADAPTER = ["apig_wsgi"]
ASGI_ADAPTER = ["mangum", "mangum.protocols"]
WSGI_FRAMEWORKS = {"flask", "django", "werkzeug", "bottle", "pyramid"}
ASGI_FRAMEWORKS = {"starlette", "fastapi", "sanic", "quart", "litestar", "django_asgi"}


def module_file(bundle, name):
    """The source of module `name` in the bundle: (path, is_package), or None."""
    base = os.path.join(bundle, *name.split("."))
    init = os.path.join(base, "__init__.py")
    if os.path.isfile(init):
        return init, True
    if os.path.isfile(base + ".py"):
        return base + ".py", False
    return None


def is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def start_up_imports(tree, module, is_package):
    """Absolute names imported when the module runs: module level and class bodies."""
    package = module if is_package else module.rpartition(".")[0]
    found = []

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.If) and is_type_checking(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".") if package else []
                    if node.level - 1 > len(parts):
                        continue
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                if base:
                    found.append(base)
                # `from pkg import name` may name a submodule.
                found.extend(
                    f"{base}.{alias.name}" if base else alias.name
                    for alias in node.names
                    if alias.name != "*"
                )
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                visit(getattr(node, field, None) or [])

    visit(tree.body)
    return found


def closure(bundle, roots, seen, files):
    """Add the bundle's files imported at start-up from `roots` to `files`."""
    todo = list(roots)
    while todo:
        name = todo.pop()
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in seen:
                continue
            seen.add(prefix)
            found = module_file(bundle, prefix)
            if found is None:
                continue
            path, is_package = found
            files.add(path)
            try:
                with open(path, "rb") as f:
                    tree = ast.parse(f.read(), path)
            except (SyntaxError, ValueError):
                continue
            todo.extend(start_up_imports(tree, prefix, is_package))


def main():
    bundle = os.path.abspath(sys.argv[1])
    seen = set()
    files = set()
    closure(bundle, sys.argv[2:] + WSGI_ADAPTER, seen, files)
    tops = {name.partition(".")[0] for name in seen if module_file(bundle, name)}
    if not (tops & WSGI_FRAMEWORKS) or tops & ASGI_FRAMEWORKS:
        closure(bundle, ASGI_ADAPTER, seen, files)
    for path in sorted(files):
        rel = os.path.relpath(path, bundle)
        # Where the runtime's import looks (not honouring PYTHONPYCACHEPREFIX or the like).
        head, tail = os.path.split(path)
        cfile = os.path.join(
            head, "__pycache__", f"{tail[:-3]}.{sys.implementation.cache_tag}.pyc"
        )
        try:
            py_compile.compile(
                path,
                cfile=cfile,
                dfile=TASK_ROOT + "/" + rel.replace(os.sep, "/"),
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
        except py_compile.PyCompileError:
            # Not valid for this Python (e.g. a vendored file for another version): the runtime
            # would fail the same way only if it ever imports it; nothing to write.
            continue
        print(rel)


if __name__ == "__main__":
    main()
