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

# ---- releases, git refs and attestations (issue 21) -------------------------------------------
# What .github/workflows/release.yml and action/install.sh use, as GitHub documents it:
#   POST   /repos/{o}/{r}/releases                       create (draft or published)
#   GET    /repos/{o}/{r}/releases, /releases/{id}, /releases/tags/{tag}, /releases/{id}/assets
#   PATCH  /repos/{o}/{r}/releases/{id}                  e.g. publish a draft
#   DELETE /repos/{o}/{r}/releases/{id}, /releases/assets/{id}
#   POST   {upload_url}?name=&label=  (GHES-style /api/uploads/repos/..., as uploads.github.com)
#   GET    /repos/{o}/{r}/releases/assets/{id}           JSON, or the bytes with
#                                                        Accept: application/octet-stream
#   GET    /{o}/{r}/releases/download/{tag}/{name}       the public download (no token)
#   GET    /repos/{o}/{r}/git/ref/tags/{t}, POST /git/refs, PATCH /git/refs/tags/{t}
#   POST   /repos/{o}/{r}/attestations, GET /repos/{o}/{r}/attestations/sha256:{hex}
# https://docs.github.com/rest/releases/releases, .../releases/assets, .../git/refs,
# .../users/attestations (the repository variant).
# Control: POST /__fake/refs {"repo", "refs": {"refs/tags/v1.2.3": sha}} (what `git push` of a tag
# does); the state snapshot gains "releases", "refs", "ref_updates" and "attestations".
UPLOADS_PREFIX = "/api/uploads/repos/"


class ReleasesState:
    def clear_releases(self):
        self.releases: dict[int, dict] = {}
        self.refs: dict[str, dict[str, str]] = {}
        self.ref_updates: list[dict] = []
        self.attestations: list[dict] = []
        self.next_release = 5_000_001
        self.next_asset = 6_000_001


def release_json(base: str, r: dict) -> dict:
    repo = r["repo"]
    api = f"{base}/repos/{repo}/releases/{r['id']}"
    # Drafts have no public tag page yet: GitHub shows them as "untagged-<hash>".
    html_tag = r["tag_name"] if not r["draft"] else f"untagged-{hashlib.sha1(str(r['id']).encode()).hexdigest()[:20]}"
    return {
        "url": api, "assets_url": f"{api}/assets",
        "upload_url": f"{base}{UPLOADS_PREFIX}{repo}/releases/{r['id']}/assets{{?name,label}}",
        "html_url": f"{base}/{repo}/releases/tag/{html_tag}",
        "id": r["id"], "node_id": node_id("RE", r["id"]), "author": user_json(base, BOT),
        "tag_name": r["tag_name"], "target_commitish": r["target_commitish"],
        "name": r["name"], "body": r["body"], "draft": r["draft"],
        "prerelease": r["prerelease"], "immutable": False,
        "created_at": r["created_at"], "published_at": r["published_at"],
        "tarball_url": f"{base}/repos/{repo}/tarball/{r['tag_name']}",
        "zipball_url": f"{base}/repos/{repo}/zipball/{r['tag_name']}",
        "assets": [asset_json(base, r, a) for a in r["assets"]],
    }


def asset_json(base: str, r: dict, a: dict) -> dict:
    repo = r["repo"]
    tag = r["tag_name"] if not r["draft"] else "untagged"
    return {
        "url": f"{base}/repos/{repo}/releases/assets/{a['id']}",
        "browser_download_url": f"{base}/{repo}/releases/download/{tag}/{a['name']}",
        "id": a["id"], "node_id": node_id("RA", a["id"]), "name": a["name"],
        "label": a["label"], "state": "uploaded", "content_type": a["content_type"],
        "size": len(a["data"]), "digest": f"sha256:{hashlib.sha256(a['data']).hexdigest()}",
        "download_count": a["downloads"], "created_at": a["created_at"],
        "updated_at": a["created_at"], "uploader": user_json(base, BOT),
    }


class ReleasesHandler:
    def releases_api(self, repo, rest, query):
        m = self.command
        st = self.state
        if rest[0] == "git":
            return self.git_refs(repo, rest[1:])
        if rest[0] == "attestations":
            return self.attestations_api(repo, rest[1:])
        # rest[0] == "releases"
        if len(rest) == 1:
            if m == "POST":
                return self.create_release(repo)
            if m == "GET":
                with st.lock:
                    items = sorted((r for r in st.releases.values() if r["repo"] == repo),
                                   key=lambda r: r["id"], reverse=True)
                    chunk, headers = self.paginate(items, query)
                    out = [release_json(self.base, r) for r in chunk]
                return self.send(200, out, headers)
        if len(rest) == 3 and rest[1] == "tags" and m == "GET":
            # "Get a published release with the specified tag name": drafts are not found.
            with st.lock:
                found = [r for r in st.releases.values()
                         if r["repo"] == repo and r["tag_name"] == rest[2] and not r["draft"]]
                if not found:
                    raise ApiError(404, "Not Found")
                out = release_json(self.base, found[0])
            return self.send(200, out)
        if len(rest) == 3 and rest[1] == "assets" and rest[2].isdigit():
            return self.one_asset(repo, int(rest[2]))
        if len(rest) >= 2 and rest[1].isdigit():
            rid = int(rest[1])
            with st.lock:
                r = st.releases.get(rid)
                if r is None or r["repo"] != repo:
                    raise ApiError(404, "Not Found")
                if len(rest) == 2 and m == "GET":
                    return self.send(200, release_json(self.base, r))
                if len(rest) == 2 and m == "DELETE":
                    del st.releases[rid]
                    return self.send(204)
                if len(rest) == 3 and rest[2] == "assets" and m == "GET":
                    return self.send(200, [asset_json(self.base, r, a) for a in r["assets"]])
            if len(rest) == 2 and m == "PATCH":
                return self.update_release(repo, rid)
        raise ApiError(404, "Not Found")

    def create_release(self, repo):
        req = self.json_body()
        tag = req.get("tag_name")
        if not isinstance(tag, str) or not tag:
            raise ApiError(422, "Validation Failed", {"errors": [
                {"resource": "Release", "code": "missing_field", "field": "tag_name"}]})
        for key in ("draft", "prerelease", "generate_release_notes"):
            if key in req and not isinstance(req[key], bool):
                raise ApiError(422, f"Invalid request.\n\nFor '{key}', {req[key]!r} is not a "
                                    "boolean.")
        st = self.state
        with st.lock:
            if any(r["repo"] == repo and r["tag_name"] == tag for r in st.releases.values()):
                raise ApiError(422, "Validation Failed", {"errors": [
                    {"resource": "Release", "code": "already_exists", "field": "tag_name"}]})
            refs = st.refs.setdefault(repo, {})
            commitish = req.get("target_commitish") or "main"
            # GitHub creates a missing tag from target_commitish when the release is published.
            if f"refs/tags/{tag}" not in refs and not req.get("draft"):
                refs[f"refs/tags/{tag}"] = fake_sha(commitish)
            rid = st.next_release
            st.next_release += 1
            draft = bool(req.get("draft", False))
            body = req.get("body") or ""
            if req.get("generate_release_notes"):
                body = (body + "\n\n" if body else "") + f"**Full Changelog**: {tag}"
            ts = st.now()
            r = {"id": rid, "repo": repo, "tag_name": tag, "target_commitish": commitish,
                 "name": req.get("name") or tag, "body": body, "draft": draft,
                 "prerelease": bool(req.get("prerelease", False)),
                 "make_latest": req.get("make_latest", "true"),
                 "created_at": ts, "published_at": None if draft else ts, "assets": [],
                 "request": req}
            st.releases[rid] = r
            out = release_json(self.base, r)
        self.send(201, out, [("Location", out["url"])])

    def update_release(self, repo, rid):
        req = self.json_body()
        st = self.state
        with st.lock:
            r = st.releases.get(rid)
            if r is None or r["repo"] != repo:
                raise ApiError(404, "Not Found")
            for key in ("name", "body", "prerelease", "make_latest", "tag_name"):
                if key in req:
                    r[key] = req[key]
            if r["draft"] and req.get("draft") is False:
                r["draft"] = False
                r["published_at"] = st.now()
                st.refs.setdefault(repo, {}).setdefault(f"refs/tags/{r['tag_name']}",
                                                        fake_sha(r["target_commitish"]))
            out = release_json(self.base, r)
        self.send(200, out)

    def one_asset(self, repo, aid):
        st = self.state
        with st.lock:
            for r in st.releases.values():
                for a in r["assets"]:
                    if a["id"] == aid and r["repo"] == repo:
                        break
                else:
                    continue
                break
            else:
                raise ApiError(404, "Not Found")
            if self.command == "DELETE":
                r["assets"].remove(a)
                return self.send(204)
            if self.command != "GET":
                raise ApiError(404, "Not Found")
            if "application/octet-stream" in (self.headers.get("Accept") or ""):
                a["downloads"] += 1
                return self.send_bytes(200, a["data"], "application/octet-stream")
            out = asset_json(self.base, r, a)
        self.send(200, out)

    def releases_outside_api(self, path, query):
        """The uploads host and the public download URLs: outside /repos/ on GitHub too."""
        if path.startswith(UPLOADS_PREFIX):
            self.check_auth(path)
            parts = path[len(UPLOADS_PREFIX):].strip("/").split("/")
            if (self.command != "POST" or len(parts) != 5 or parts[2] != "releases"
                    or not parts[3].isdigit() or parts[4] != "assets"):
                raise ApiError(404, "Not Found")
            return self.upload_asset(f"{parts[0]}/{parts[1]}", int(parts[3]), query)
        # /{owner}/{repo}/releases/download/{tag}/{name}: public, no token needed.
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if self.command not in ("GET", "HEAD") or len(parts) != 6 or parts[2:4] != ["releases", "download"]:
            raise ApiError(404, "Not Found")
        repo, tag, name = f"{parts[0]}/{parts[1]}", parts[4], parts[5]
        st = self.state
        with st.lock:
            for r in st.releases.values():
                if r["repo"] == repo and r["tag_name"] == tag and not r["draft"]:
                    for a in r["assets"]:
                        if a["name"] == name:
                            a["downloads"] += 1
                            data = a["data"]
                            break
                    else:
                        continue
                    break
            else:
                # github.com answers a missing asset with a plain 404 page.
                return self.send_bytes(404, b"Not Found", "text/plain; charset=utf-8")
        self.send_bytes(200, data, "application/octet-stream")

    def upload_asset(self, repo, rid, query):
        name = query.get("name")
        ctype = self.headers.get("Content-Type")
        data = self.read_body()
        if not name:
            raise ApiError(422, "Validation Failed", {"errors": [
                {"resource": "ReleaseAsset", "code": "missing_field", "field": "name"}]})
        if not ctype:
            # The docs: "The Content-Type header is required" (the asset's media type).
            raise ApiError(422, "Validation Failed", {"errors": [
                {"resource": "ReleaseAsset", "code": "missing_field", "field": "content_type"}]})
        if not data:
            raise ApiError(422, "Validation Failed", {"errors": [
                {"resource": "ReleaseAsset", "code": "custom", "field": "size",
                 "message": "size must be greater than 0"}]})
        st = self.state
        with st.lock:
            r = st.releases.get(rid)
            if r is None or r["repo"] != repo:
                raise ApiError(404, "Not Found")
            # "If you upload an asset with the same filename as another uploaded asset, you'll
            # receive an error and must delete the old file before you can re-upload."
            if any(a["name"] == name for a in r["assets"]):
                raise ApiError(422, "Validation Failed", {"errors": [
                    {"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}]})
            a = {"id": st.next_asset, "name": name, "label": query.get("label") or "",
                 "content_type": ctype, "data": data, "downloads": 0, "created_at": st.now()}
            st.next_asset += 1
            r["assets"].append(a)
            out = asset_json(self.base, r, a)
        self.send(201, out)

    def send_bytes(self, status, data, ctype):
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()
        self._status = status

    def git_refs(self, repo, rest):
        m = self.command
        st = self.state
        if m == "GET" and len(rest) >= 2 and rest[0] == "ref":
            ref = "refs/" + "/".join(rest[1:])
            with st.lock:
                sha = st.refs.get(repo, {}).get(ref)
            if sha is None:
                raise ApiError(404, "Not Found")
            return self.send(200, self.ref_json(repo, ref, sha))
        if m == "POST" and rest == ["refs"]:
            req = self.json_body()
            ref, sha = req.get("ref"), req.get("sha")
            if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
                raise ApiError(422, "Reference name must start with 'refs/' and have at least "
                                    "two slashes.")
            if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{40}", sha):
                raise ApiError(422, "Object does not exist")
            with st.lock:
                refs = st.refs.setdefault(repo, {})
                if ref in refs:
                    raise ApiError(422, "Reference already exists")
                refs[ref] = sha
                st.ref_updates.append({"repo": repo, "ref": ref, "sha": sha, "old": None,
                                       "method": "POST", "force": None})
            return self.send(201, self.ref_json(repo, ref, sha))
        if m == "PATCH" and len(rest) >= 3 and rest[0] == "refs":
            req = self.json_body()
            ref = "refs/" + "/".join(rest[1:])
            sha = req.get("sha")
            if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{40}", sha):
                raise ApiError(422, "Object does not exist")
            with st.lock:
                refs = st.refs.setdefault(repo, {})
                if ref not in refs:
                    raise ApiError(422, "Reference does not exist")
                # No commit graph here, so a non-forced update cannot be checked for being a
                # fast-forward; moving a tag backwards or sideways needs force=true on GitHub.
                if req.get("force") is not True and ref.startswith("refs/tags/"):
                    raise ApiError(422, "Update is not a fast forward")
                st.ref_updates.append({"repo": repo, "ref": ref, "sha": sha, "old": refs[ref],
                                       "method": "PATCH", "force": req.get("force")})
                refs[ref] = sha
            return self.send(200, self.ref_json(repo, ref, sha))
        raise ApiError(404, "Not Found")

    def ref_json(self, repo, ref, sha):
        return {"ref": ref, "node_id": node_id("REF", int(sha[:8], 16)),
                "url": f"{self.base}/repos/{repo}/git/{ref}",
                "object": {"sha": sha, "type": "commit",
                           "url": f"{self.base}/repos/{repo}/git/commits/{sha}"}}

    def attestations_api(self, repo, rest):
        st = self.state
        if self.command == "POST" and not rest:
            bundle = self.json_body().get("bundle")
            if not isinstance(bundle, dict):
                raise ApiError(422, "Validation Failed", {"errors": [
                    {"resource": "Attestation", "code": "missing_field", "field": "bundle"}]})
            try:
                statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
                subjects = [{"name": s["name"], "sha256": s["digest"]["sha256"]}
                            for s in statement["subject"]]
            except (KeyError, TypeError, ValueError):
                raise ApiError(422, "Invalid bundle: no in-toto statement with subjects")
            with st.lock:
                aid = len(st.attestations) + 1
                st.attestations.append({"id": aid, "repo": repo, "subjects": subjects,
                                        "predicate_type": statement.get("predicateType"),
                                        "bundle": bundle})
            return self.send(201, {"id": aid})
        if self.command == "GET" and len(rest) == 1 and rest[0].startswith("sha256:"):
            digest = rest[0].split(":", 1)[1]
            with st.lock:
                found = [{"bundle": a["bundle"], "repository_id": 1, "bundle_url": None}
                         for a in st.attestations
                         if a["repo"] == repo and any(s["sha256"] == digest for s in a["subjects"])]
            if not found:
                raise ApiError(404, "Not Found")
            return self.send(200, {"attestations": found})
        raise ApiError(404, "Not Found")

    def seed_refs(self, req):
        repo, refs = req.get("repo"), req.get("refs")
        if (not isinstance(repo, str) or "/" not in repo or not isinstance(refs, dict)
                or not all(isinstance(k, str) and k.startswith("refs/")
                           and isinstance(v, str) and re.fullmatch(r"[0-9a-f]{40}", v)
                           for k, v in refs.items())):
            return self.send(400, {"error": "need {\"repo\": \"o/r\", \"refs\": "
                                            "{\"refs/tags/v1.2.3\": \"<40 hex>\"}}"})
        with self.state.lock:
            self.state.refs.setdefault(repo, {}).update(refs)
        return self.send(201, {"refs": self.state.refs[repo]})

    def releases_snapshot(self):
        st = self.state
        releases: dict = {}
        for r in sorted(st.releases.values(), key=lambda r: r["id"]):
            releases.setdefault(r["repo"], []).append({
                "id": r["id"], "tag_name": r["tag_name"], "name": r["name"], "draft": r["draft"],
                "prerelease": r["prerelease"], "make_latest": r["make_latest"],
                "target_commitish": r["target_commitish"], "published_at": r["published_at"],
                "request": r["request"],
                "assets": [{"id": a["id"], "name": a["name"], "label": a["label"],
                            "content_type": a["content_type"], "size": len(a["data"]),
                            "sha256": hashlib.sha256(a["data"]).hexdigest(),
                            "downloads": a["downloads"]} for a in r["assets"]],
            })
        return {
            "releases": releases,
            "refs": copy.deepcopy(st.refs),
            "ref_updates": list(st.ref_updates),
            "attestations": [{k: v for k, v in a.items() if k != "bundle"}
                             for a in st.attestations],
        }


# Who a token acts as. The `--token` is an installation token like the Actions GITHUB_TOKEN:
# it writes as `github-actions[bot]` (type Bot), and GET /user answers it 403 "Resource not
# accessible by integration" (GitHub REST docs, "Get the authenticated user" is not available
# to GitHub App installation tokens; GITHUB_TOKEN's comments show user.login
# `github-actions[bot]`, user.type `Bot`). Tokens added through /__fake/tokens act as a user
# (GET /user → 200) or as another app's bot.
INSTALLATION = "installation"
USER = "user"


class State(ReleasesState):
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
        self.clear_releases()

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


class Handler(ReleasesHandler, BaseHTTPRequestHandler):
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
                elif path.startswith(UPLOADS_PREFIX) or "/releases/download/" in path:
                    self.releases_outside_api(path, query)
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
        if rest[0] in ("releases", "git", "attestations"):
            return self.releases_api(repo, rest, query)
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
        if path == "/__fake/refs" and self.command == "POST":
            return self.seed_refs(req)
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
                **self.releases_snapshot(),
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
