#!/usr/bin/env python3
"""Stateful fake of the parts of GitHub that deploy-action talks to, for its integration tests.

- REST API: issue comments (with Link-header pagination), comment edit/delete, deployments and
  deployment statuses (with GitHub's auto-inactivation), strict about the Authorization header.
- The Actions OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL).
- A control API under /__fake/ to seed comments, switch on permission faults and read back
  everything that happened (see tests/support/README.md).

JSON is GitHub-shaped so that octocrab 0.54's models (issues::Comment, repos::Deployment,
repos::DeploymentStatus, Author) deserialize it. Standard library only (Python 3.11).

    python3 fake_github.py --port 0 --token TOKEN --oidc-request-token TOKEN [--oidc-token JWT]

prints exactly one line `PORT <n>` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import hashlib
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOCS = "https://docs.github.com/rest"
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
SEED_USERS = [
    {"login": "octocat", "id": 583231, "type": "User"},
    {"login": "hubot", "id": 480938, "type": "User"},
    {"login": "monalisa", "id": 2154, "type": "User"},
    {"login": "dependabot[bot]", "id": 49699333, "type": "Bot"},
]
STATUS_STATES = {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
DEFAULT_CONFIG = {
    "deployments_forbidden": False,
    "comments_forbidden": False,
    # GitHub documents PATCH for editing a comment; octocrab 0.54.9's update_comment sends
    # POST. Off by default so that a client relying on the undocumented form is caught.
    "accept_post_for_patch": False,
    "oidc_claims": {},
}


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def node_id(prefix: str, n: int) -> str:
    return f"{prefix}_kwDO{b64url(n.to_bytes(8, 'big'))}"


class ApiError(Exception):
    def __init__(self, status, message, extra=None):
        super().__init__(message)
        self.status = status
        self.body = {"message": message, "documentation_url": DOCS, **(extra or {})}


# Who a token acts as. The `--token` is an installation token like the Actions GITHUB_TOKEN:
# it writes as `github-actions[bot]` (type Bot), and GET /user answers it 403 "Resource not
# accessible by integration" (GitHub REST docs, "Get the authenticated user" is not available
# to GitHub App installation tokens; GITHUB_TOKEN's comments show user.login
# `github-actions[bot]`, user.type `Bot`). Tokens added through /__fake/tokens act as a user
# (GET /user → 200) or as another app's bot.
INSTALLATION = "installation"
USER = "user"


class State:
    def __init__(self, token, oidc_request_token, oidc_token):
        self.token = token
        self.oidc_request_token = oidc_request_token
        self.oidc_token = oidc_token
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        # token -> {"user": {login, id, type}, "kind": INSTALLATION | USER}
        self.tokens = {self.token: {"user": BOT, "kind": INSTALLATION}}
        self.config = copy.deepcopy(DEFAULT_CONFIG)
        self.comments: dict[int, dict] = {}
        self.deleted_comments: list[dict] = []
        self.deployments: dict[int, dict] = {}
        # Pull requests, seeded through /__fake/pulls: {"repo", "number", "head_sha", "state"}.
        self.pulls: list[dict] = []
        self.oidc_requests: list[dict] = []
        self.auth_failures = 0
        self.auth_failure_log: list[dict] = []
        self.requests: list[dict] = []
        self.next_comment = 1_000_001
        self.next_deployment = 3_000_001
        self.next_status = 7_000_001
        self.clock = time.time()

    def now(self) -> str:
        # Strictly increasing timestamps, so "newest" is well defined even for calls made within
        # the same second.
        self.clock = max(self.clock + 1, time.time())
        return iso(self.clock)


def user_json(base: str, u: dict) -> dict:
    login = u["login"]
    q = urllib.parse.quote(login)
    api = f"{base}/users/{q}"
    html = (f"https://github.com/apps/{login[:-5]}" if login.endswith("[bot]")
            else f"https://github.com/{login}")
    return {
        "login": login, "id": u["id"], "node_id": node_id("U", u["id"]),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{u['id']}?v=4",
        "gravatar_id": "", "url": api, "html_url": html,
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": u["type"], "site_admin": False,
    }


def comment_json(base: str, c: dict) -> dict:
    repo = c["repo"]
    return {
        "url": f"{base}/repos/{repo}/issues/comments/{c['id']}",
        "html_url": f"https://github.com/{repo}/issues/{c['issue']}#issuecomment-{c['id']}",
        "issue_url": f"{base}/repos/{repo}/issues/{c['issue']}",
        "id": c["id"],
        "node_id": node_id("IC", c["id"]),
        "user": user_json(base, c["user"]),
        "created_at": c["created_at"],
        "updated_at": c["updated_at"],
        "author_association": c["author_association"],
        "body": c["body"],
        "reactions": {
            "url": f"{base}/repos/{repo}/issues/comments/{c['id']}/reactions",
            "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0,
            "heart": 0, "rocket": 0, "eyes": 0,
        },
        "performed_via_github_app": None,
    }


def deployment_json(base: str, d: dict) -> dict:
    repo = d["repo"]
    url = f"{base}/repos/{repo}/deployments/{d['id']}"
    return {
        "url": url, "id": d["id"], "node_id": node_id("DE", d["id"]), "sha": d["sha"],
        "ref": d["ref"], "task": d["task"], "payload": d["payload"],
        "original_environment": d["original_environment"], "environment": d["environment"],
        "description": d["description"], "creator": user_json(base, BOT),
        "created_at": d["created_at"], "updated_at": d["updated_at"],
        "statuses_url": f"{url}/statuses", "repository_url": f"{base}/repos/{repo}",
        "transient_environment": d["transient_environment"],
        "production_environment": d["production_environment"],
        "performed_via_github_app": None,
    }


def status_json(base: str, d: dict, s: dict) -> dict:
    repo = d["repo"]
    durl = f"{base}/repos/{repo}/deployments/{d['id']}"
    return {
        "url": f"{durl}/statuses/{s['id']}", "id": s["id"], "node_id": node_id("DES", s["id"]),
        "state": s["state"], "creator": user_json(base, BOT), "description": s["description"],
        "environment": s["environment"], "target_url": s["log_url"],
        "created_at": s["created_at"], "updated_at": s["created_at"],
        "deployment_url": durl, "repository_url": f"{base}/repos/{repo}",
        "environment_url": s["environment_url"], "log_url": s["log_url"],
        "performed_via_github_app": None,
    }


def fake_sha(ref: str) -> str:
    if re.fullmatch(r"[0-9a-f]{40}", ref or ""):
        return ref
    return hashlib.sha1(f"ref:{ref}".encode()).hexdigest()


class Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK
    # add ~40 ms to every response.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "fake-github"
    state: State = None
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("fake-github: " + (fmt % args) + "\n")

    # -- plumbing ---------------------------------------------------------------------
    def read_body(self) -> bytes:
        # Read once per request: error paths call it again to drain what is left, so that a
        # kept-alive connection stays in step.
        if getattr(self, "_body", None) is None:
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if length else b""
        return self._body

    def json_body(self):
        raw = self.read_body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise ApiError(400, "Problems parsing JSON")
        if not isinstance(data, dict):
            raise ApiError(400, "Problems parsing JSON")
        return data

    def send(self, status, obj=None, headers=()):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("X-GitHub-Request-Id", uuid.uuid4().hex[:16].upper())
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        self._status = status

    @property
    def base(self) -> str:
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        return f"http://{host}"

    def do_GET(self):
        self.dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_GET

    def dispatch(self):
        self._status = None
        self._body = None
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, dict(urllib.parse.parse_qsl(split.query))
        t = time.time()
        try:
            if path.startswith("/__fake/"):
                return self.control(path)
            try:
                if path == "/_apis/oidc/token":
                    self.oidc(query)
                elif path.startswith("/repos/"):
                    self.check_auth(path)
                    self.api(path, query)
                elif path == "/user" and self.command == "GET":
                    self.check_auth(path)
                    self.authenticated_user()
                else:
                    raise ApiError(404, "Not Found")
            except ApiError as e:
                self.read_body()  # keep the connection usable
                self.send(e.status, e.body)
            finally:
                with self.state.lock:
                    self.state.requests.append({
                        "method": self.command, "path": path, "query": query,
                        "status": self._status, "t": t,
                    })
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- auth ---------------------------------------------------------------------------
    def bearer(self, schemes):
        auth = self.headers.get("Authorization") or ""
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() in schemes:
            return value.strip()
        return None

    def check_auth(self, path):
        got = self.bearer(("bearer", "token"))
        with self.state.lock:
            identity = self.state.tokens.get(got) if got is not None else None
        if identity is not None:
            self.identity = identity
            return
        with self.state.lock:
            self.state.auth_failures += 1
            self.state.auth_failure_log.append({
                "method": self.command, "path": path,
                "reason": "missing" if not self.headers.get("Authorization") else "wrong",
            })
        raise ApiError(401, "Bad credentials")

    # -- OIDC -----------------------------------------------------------------------------
    def oidc(self, query):
        st = self.state
        got = self.bearer(("bearer",))
        ok = got is not None and got == st.oidc_request_token
        audience = query.get("audience")
        record = {"audience": audience, "auth_ok": ok, "api_version": query.get("api-version"),
                  "query": query, "t": time.time()}
        if not ok:
            record["reason"] = "missing" if not self.headers.get("Authorization") else "wrong"
            with st.lock:
                st.oidc_requests.append(record)
            self.send(401, {"message": "Unauthorized: the request token is missing or invalid"})
            return
        token = st.oidc_token or self.make_jwt(audience)
        record["token_sha256"] = hashlib.sha256(token.encode()).hexdigest()
        record["token"] = token  # test-side only: lets a test look for it in process output
        with st.lock:
            st.oidc_requests.append(record)
        self.send(200, {"count": 1, "value": token})

    def make_jwt(self, audience):
        now = int(time.time())
        with self.state.lock:
            extra = dict(self.state.config["oidc_claims"])
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
            "aud": audience or "https://github.com/octo-org",
            "ref": "refs/heads/main", "repository": "octo-org/octo-repo",
            "repository_owner": "octo-org", "run_id": "1", "event_name": "push",
            "iss": "https://token.actions.githubusercontent.com",
            "nbf": now - 5, "iat": now, "exp": now + 300,
        }
        claims.update(extra)
        header = {"typ": "JWT", "alg": "RS256", "x5t": "fake", "kid": "fake"}
        signing = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                   + b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = b64url(hashlib.sha256(signing.encode()).digest() * 8)
        return f"{signing}.{sig}"

    # -- REST API -------------------------------------------------------------------------
    def api(self, path, query):
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        # parts: repos, owner, repo, ...
        if len(parts) < 4:
            raise ApiError(404, "Not Found")
        repo = f"{parts[1]}/{parts[2]}"
        rest = parts[3:]
        m = self.command
        if rest[0] == "issues":
            if self.state.config["comments_forbidden"]:
                raise ApiError(403, "Resource not accessible by integration")
            if len(rest) == 3 and rest[2] == "comments" and rest[1].isdigit():
                issue = int(rest[1])
                if m == "GET":
                    return self.list_comments(repo, issue, query)
                if m == "POST":
                    return self.create_comment(repo, issue)
            if len(rest) == 3 and rest[1] == "comments" and rest[2].isdigit():
                cid = int(rest[2])
                if m == "GET":
                    return self.get_comment(repo, cid)
                if m == "PATCH" or (m == "POST" and self.state.config["accept_post_for_patch"]):
                    return self.edit_comment(repo, cid)
                if m == "DELETE":
                    return self.delete_comment(repo, cid)
        elif rest[0] == "deployments":
            if self.state.config["deployments_forbidden"]:
                raise ApiError(403, "Resource not accessible by integration")
            if len(rest) == 1:
                if m == "GET":
                    return self.list_deployments(repo, query)
                if m == "POST":
                    return self.create_deployment(repo)
            if len(rest) >= 2 and rest[1].isdigit():
                did = int(rest[1])
                if len(rest) == 2 and m == "GET":
                    return self.get_deployment(repo, did)
                if len(rest) == 2 and m == "DELETE":
                    return self.delete_deployment(repo, did)
                if len(rest) == 3 and rest[2] == "statuses":
                    if m == "GET":
                        return self.list_statuses(repo, did, query)
                    if m == "POST":
                        return self.create_status(repo, did)
                if len(rest) == 4 and rest[2] == "statuses" and rest[3].isdigit() and m == "GET":
                    return self.get_status(repo, did, int(rest[3]))
        elif rest[0] == "commits" and len(rest) == 3 and rest[2] == "pulls" and m == "GET":
            return self.pulls_of_commit(repo, rest[1], query)
        elif rest[0] == "pulls" and len(rest) == 2 and rest[1].isdigit() and m == "GET":
            return self.get_pull(repo, int(rest[1]))
        raise ApiError(404, "Not Found")

    def authenticated_user(self):
        """GET /user: the token's user; installation tokens can't call it (403)."""
        if self.identity["kind"] == INSTALLATION:
            raise ApiError(403, "Resource not accessible by integration",
                           {"documentation_url": "https://docs.github.com/rest/users/users"
                                                 "#get-the-authenticated-user",
                            "status": "403"})
        self.send(200, user_json(self.base, self.identity["user"]))

    def get_pull(self, repo, number):
        """`GET /repos/{o}/{r}/pulls/{n}` (used by `deploy-action gc`): a seeded PR with the
        fields GitHub's "Get a pull request" answer has that gc reads (`state`, `closed_at`,
        `merged_at`, `number`, `head.sha`); 404 for an unknown number, as GitHub answers."""
        with self.state.lock:
            found = [p for p in self.state.pulls if p["repo"] == repo and p["number"] == number]
        if not found:
            raise ApiError(404, "Not Found")
        p = found[-1]
        closed = "2024-01-01T00:00:00Z" if p["state"] == "closed" else None
        self.send(200, {
            "id": 90_000 + number, "number": number, "state": p["state"],
            "title": f"PR {number}", "head": {"sha": p["head_sha"], "ref": "feature"},
            "html_url": f"https://github.com/{repo}/pull/{number}",
            "closed_at": closed, "merged_at": None,
        })

    def pulls_of_commit(self, repo, sha, query):
        """`GET /repos/{o}/{r}/commits/{sha}/pulls`: the seeded PRs (open and closed) whose head
        is `sha`, as GitHub lists them."""
        with self.state.lock:
            pulls = [p for p in self.state.pulls if p["repo"] == repo and p["head_sha"] == sha]
        items = [{
            "id": 90_000 + p["number"], "number": p["number"], "state": p["state"],
            "title": f"PR {p['number']}", "head": {"sha": p["head_sha"], "ref": "feature"},
            "html_url": f"https://github.com/{repo}/pull/{p['number']}",
        } for p in sorted(pulls, key=lambda p: p["number"])]
        chunk, headers = self.paginate(items, query)
        self.send(200, chunk, headers)

    def paginate(self, items, query):
        def num(name, default, lo, hi):
            try:
                return max(lo, min(hi, int(query.get(name, default))))
            except ValueError:
                return default
        per_page = num("per_page", 30, 1, 100)
        page = num("page", 1, 1, 10**9)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        links = []
        if last > 1:
            path = urllib.parse.urlsplit(self.path).path

            def url(p):
                q = dict(query)
                q["page"] = str(p)
                return f"{self.base}{path}?{urllib.parse.urlencode(q)}"
            if page > 1:
                links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
            if page < last:
                links.append(f'<{url(page + 1)}>; rel="next"')
                links.append(f'<{url(last)}>; rel="last"')
            if page > 1:
                links.append(f'<{url(1)}>; rel="first"')
        headers = [("Link", ", ".join(links))] if links else []
        return chunk, headers

    # comments
    def list_comments(self, repo, issue, query):
        with self.state.lock:
            items = sorted((c for c in self.state.comments.values()
                            if c["repo"] == repo and c["issue"] == issue), key=lambda c: c["id"])
            chunk, headers = self.paginate(items, query)
            out = [comment_json(self.base, c) for c in chunk]
        self.send(200, out, headers)

    def create_comment(self, repo, issue):
        body = self.json_body().get("body")
        if not isinstance(body, str) or not body:
            raise ApiError(422, "Validation Failed",
                           {"errors": [{"resource": "IssueComment", "code": "missing_field",
                                        "field": "body"}]})
        with self.state.lock:
            user = self.identity["user"]
            c = self.add_comment(repo, issue, body, user,
                                 "NONE" if user["type"] == "Bot" else "MEMBER")
            out = comment_json(self.base, c)
        self.send(201, out, [("Location", out["url"])])

    def add_comment(self, repo, issue, body, user, association, created=None):
        st = self.state
        cid = st.next_comment
        st.next_comment += 1
        ts = created or st.now()
        c = {"id": cid, "repo": repo, "issue": issue, "body": body, "user": user,
             "author_association": association, "created_at": ts, "updated_at": ts,
             "edits": 0, "bodies": [body]}
        st.comments[cid] = c
        return c

    def find_comment(self, repo, cid):
        c = self.state.comments.get(cid)
        if c is None or c["repo"] != repo:
            raise ApiError(404, "Not Found")
        return c

    def get_comment(self, repo, cid):
        with self.state.lock:
            out = comment_json(self.base, self.find_comment(repo, cid))
        self.send(200, out)

    def edit_comment(self, repo, cid):
        body = self.json_body().get("body")
        if not isinstance(body, str) or not body:
            raise ApiError(422, "Validation Failed",
                           {"errors": [{"resource": "IssueComment", "code": "missing_field",
                                        "field": "body"}]})
        with self.state.lock:
            c = self.find_comment(repo, cid)
            c["body"] = body
            c["edits"] += 1
            c["bodies"].append(body)
            c.setdefault("edited_by", []).append(self.identity["user"]["login"])
            c["updated_at"] = self.state.now()
            out = comment_json(self.base, c)
        self.send(200, out)

    def delete_comment(self, repo, cid):
        with self.state.lock:
            c = self.find_comment(repo, cid)
            del self.state.comments[cid]
            self.state.deleted_comments.append(c)
        self.send(204)

    # deployments
    def find_deployment(self, repo, did):
        d = self.state.deployments.get(did)
        if d is None or d["repo"] != repo:
            raise ApiError(404, "Not Found")
        return d

    def create_deployment(self, repo):
        req = self.json_body()
        ref = req.get("ref")
        if not isinstance(ref, str) or not ref:
            raise ApiError(422, "Invalid request.\n\n\"ref\" wasn't supplied.")
        env = req.get("environment") or "production"
        for key in ("transient_environment", "production_environment", "auto_merge"):
            if key in req and not isinstance(req[key], bool):
                raise ApiError(422, f"Invalid request.\n\nFor '{key}', {req[key]!r} is not a "
                                    "boolean.")
        if "required_contexts" in req and not isinstance(req["required_contexts"], list):
            raise ApiError(422, "Invalid request.\n\nFor 'required_contexts', not an array.")
        payload = req.get("payload", {})
        if isinstance(payload, str):
            try:
                payload = json.loads(payload) if payload else {}
            except ValueError:
                pass
        st = self.state
        with st.lock:
            did = st.next_deployment
            st.next_deployment += 1
            ts = st.now()
            d = {
                "id": did, "repo": repo, "ref": ref, "sha": req.get("sha") or fake_sha(ref),
                "task": req.get("task") or "deploy", "payload": payload,
                "environment": env, "original_environment": env,
                "description": req.get("description"),
                "transient_environment": bool(req.get("transient_environment", False)),
                "production_environment": bool(req.get("production_environment",
                                                       env == "production")),
                "created_at": ts, "updated_at": ts, "statuses": [], "request": req,
            }
            st.deployments[did] = d
            out = deployment_json(self.base, d)
        self.send(201, out)

    def list_deployments(self, repo, query):
        with self.state.lock:
            items = [d for d in self.state.deployments.values() if d["repo"] == repo]
            for key in ("environment", "ref", "sha", "task"):
                if query.get(key):
                    items = [d for d in items if d[key] == query[key]]
            items.sort(key=lambda d: d["id"], reverse=True)
            chunk, headers = self.paginate(items, query)
            out = [deployment_json(self.base, d) for d in chunk]
        self.send(200, out, headers)

    def get_deployment(self, repo, did):
        with self.state.lock:
            out = deployment_json(self.base, self.find_deployment(repo, did))
        self.send(200, out)

    def delete_deployment(self, repo, did):
        with self.state.lock:
            d = self.find_deployment(repo, did)
            same_env = [x for x in self.state.deployments.values()
                        if x["repo"] == repo and x["environment"] == d["environment"]]
            latest = d["statuses"][-1]["state"] if d["statuses"] else None
            if latest != "inactive" and len(same_env) > 1:
                raise ApiError(422, "We cannot delete an active deployment unless it is the only "
                                    "deployment in a given environment.")
            del self.state.deployments[did]
        self.send(204)

    def create_status(self, repo, did):
        req = self.json_body()
        state = req.get("state")
        if state not in STATUS_STATES:
            raise ApiError(422, "Validation Failed",
                           {"errors": [{"resource": "DeploymentStatus", "code": "custom",
                                        "field": "state",
                                        "message": "state is not included in the list"}]})
        st = self.state
        with st.lock:
            d = self.find_deployment(repo, did)
            env = req.get("environment") or d["environment"]
            s = self.add_status(d, state, env, req)
            if env != d["environment"]:
                d["environment"] = env
            if state == "success" and req.get("auto_inactive", True) is not False:
                # GitHub: "adds a new inactive status to all prior non-transient,
                # non-production environment deployments with the same repository and
                # environment name" (only those that reached success).
                for other in st.deployments.values():
                    if (other["repo"] == repo and other["id"] < did
                            and other["environment"] == env and other["statuses"]
                            and other["statuses"][-1]["state"] != "inactive"
                            and any(x["state"] == "success" for x in other["statuses"])):
                        self.add_status(other, "inactive", env, {"auto": True})
            out = status_json(self.base, d, s)
        self.send(201, out)

    def add_status(self, d, state, env, req):
        st = self.state
        sid = st.next_status
        st.next_status += 1
        ts = st.now()
        s = {"id": sid, "state": state, "environment": env,
             "description": req.get("description") or "",
             "log_url": req.get("log_url") or req.get("target_url") or "",
             "environment_url": req.get("environment_url") or "",
             "auto_inactive": req.get("auto_inactive"), "automatic": bool(req.get("auto")),
             "created_at": ts}
        d["statuses"].append(s)
        d["updated_at"] = ts
        return s

    def list_statuses(self, repo, did, query):
        with self.state.lock:
            d = self.find_deployment(repo, did)
            items = sorted(d["statuses"], key=lambda s: s["id"], reverse=True)
            chunk, headers = self.paginate(items, query)
            out = [status_json(self.base, d, s) for s in chunk]
        self.send(200, out, headers)

    def get_status(self, repo, did, sid):
        with self.state.lock:
            d = self.find_deployment(repo, did)
            for s in d["statuses"]:
                if s["id"] == sid:
                    out = status_json(self.base, d, s)
                    break
            else:
                raise ApiError(404, "Not Found")
        self.send(200, out)

    # -- control API ------------------------------------------------------------------
    def control(self, path):
        st = self.state
        try:
            req = self.json_body() if self.command in ("POST", "PUT") else {}
        except ApiError as e:
            return self.send(400, {"error": e.body["message"]})
        if path == "/__fake/state" and self.command == "GET":
            return self.send(200, self.snapshot())
        if path == "/__fake/reset" and self.command == "POST":
            with st.lock:
                st.clear()
            return self.send(200, {"ok": True})
        if path == "/__fake/config":
            if self.command == "POST":
                unknown = set(req) - set(DEFAULT_CONFIG)
                if unknown:
                    return self.send(400, {"error": f"unknown config fields {sorted(unknown)}; "
                                                    f"known: {sorted(DEFAULT_CONFIG)}"})
                with st.lock:
                    st.config.update(req)
            with st.lock:
                return self.send(200, st.config)
        if path == "/__fake/tokens" and self.command == "POST":
            # {"token": T, "login": "octocat", "type": "User"} (GET /user answers it), or
            # "installation": true for another app's installation token ("<slug>[bot]").
            token, login = req.get("token"), req.get("login")
            if not isinstance(token, str) or not token or not isinstance(login, str):
                return self.send(400, {"error": "need {\"token\": T, \"login\": L, "
                                                "\"type\": \"User\"|\"Bot\", "
                                                "\"installation\": bool}"})
            kind = INSTALLATION if req.get("installation") else USER
            user = {"login": login, "id": 8_000_000 + len(st.tokens),
                    "type": req.get("type") or ("Bot" if kind == INSTALLATION else "User")}
            with st.lock:
                st.tokens[token] = {"user": user, "kind": kind}
            return self.send(201, {"login": login, "kind": kind})
        if path == "/__fake/pulls" and self.command == "POST":
            pulls = req.get("pulls")
            ok = isinstance(pulls, list) and all(
                isinstance(p, dict) and isinstance(p.get("repo"), str)
                and isinstance(p.get("number"), int) and isinstance(p.get("head_sha"), str)
                and p.get("state", "open") in ("open", "closed") for p in pulls)
            if not ok:
                return self.send(400, {"error": "need {\"pulls\": [{\"repo\": \"o/r\", "
                                                "\"number\": N, \"head_sha\": SHA, "
                                                "\"state\": \"open\"|\"closed\"}]}"})
            with st.lock:
                st.pulls.extend({**p, "state": p.get("state", "open")} for p in pulls)
            return self.send(201, {"pulls": len(st.pulls)})
        if path == "/__fake/seed" and self.command == "POST":
            repo, issue = req.get("repo"), req.get("issue")
            if not isinstance(repo, str) or "/" not in repo or not isinstance(issue, int):
                return self.send(400, {"error": "need {\"repo\": \"o/r\", \"issue\": N, "
                                                "\"comments\": K}"})
            bodies = req.get("bodies")
            count = int(req.get("comments", len(bodies) if bodies else 0))
            ids = []
            with st.lock:
                base_ts = time.time() - 86400
                for i in range(count):
                    user = SEED_USERS[i % len(SEED_USERS)]
                    if req.get("user"):
                        user = {"login": req["user"], "id": 9_000_000 + len(req["user"]),
                                "type": "User"}
                    body = bodies[i] if bodies and i < len(bodies) else (
                        f"Seeded comment {i + 1} by {user['login']}")
                    c = self.add_comment(repo, issue, body, user, "CONTRIBUTOR",
                                         created=iso(base_ts + 60 * i))
                    ids.append(c["id"])
            return self.send(201, {"ids": ids})
        self.send(404, {"error": f"no control endpoint {self.command} {path}"})

    def snapshot(self):
        st = self.state
        with st.lock:
            comments: dict = {}
            for c in sorted(st.comments.values(), key=lambda c: c["id"]):
                comments.setdefault(c["repo"], {}).setdefault(str(c["issue"]), []).append({
                    "id": c["id"], "body": c["body"], "user": c["user"]["login"],
                    "created_at": c["created_at"], "updated_at": c["updated_at"],
                    "edits": c["edits"], "bodies": list(c["bodies"]),
                    "edited_by": list(c.get("edited_by", [])),
                })
            deployments: dict = {}
            for d in sorted(st.deployments.values(), key=lambda d: d["id"]):
                item = {k: v for k, v in d.items() if k not in ("repo",)}
                item["statuses"] = [dict(s) for s in d["statuses"]]
                item["state"] = d["statuses"][-1]["state"] if d["statuses"] else None
                deployments.setdefault(d["repo"], []).append(item)
            return {
                "comments": comments,
                "deleted_comments": [{"id": c["id"], "repo": c["repo"], "issue": c["issue"],
                                      "body": c["body"]} for c in st.deleted_comments],
                "deployments": deployments,
                "oidc_requests": list(st.oidc_requests),
                "auth_failures": st.auth_failures,
                "auth_failure_log": list(st.auth_failure_log),
                "requests": list(st.requests),
                "config": dict(st.config),
            }


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--token", required=True, help="the GitHub token the API accepts")
    ap.add_argument("--oidc-request-token", required=True,
                    help="ACTIONS_ID_TOKEN_REQUEST_TOKEN the OIDC endpoint accepts")
    ap.add_argument("--oidc-token", default=None,
                    help="ID token to hand out (default: a generated fake JWT)")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args(argv)
    Handler.state = State(args.token, args.oidc_request_token, args.oidc_token)
    Handler.verbose = args.verbose
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


if __name__ == "__main__":
    main()
