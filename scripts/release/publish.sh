#!/usr/bin/env bash
# The publishing half of .github/workflows/release.yml, through GitHub's REST API with curl:
#
#   scripts/release/publish.sh publish DIST_DIR    # the release of $TAG with every file of DIST_DIR
#   scripts/release/publish.sh move-major-tag      # v1 -> $SHA, for a final version only
#
# Environment: TAG (v1.2.3 or v1.2.3-rc.1), SHA (the tagged commit), GH_TOKEN (contents: write),
# GITHUB_REPOSITORY, GITHUB_API_URL (the runner sets both; GHES has its own API URL).
#
# `publish` creates the release as a draft, uploads every asset with its content type to the
# release's upload_url, checks what GitHub stored, and only then publishes it: a user never sees
# a release with half of its assets (install.sh would otherwise build from source on a 404).
# A pre-release (a tag with '-') is published as such and never becomes "latest".
# `move-major-tag` points v<major> at SHA (create or force-update), unless a newer final release
# of the same major exists: a backport release must not take v1 backwards.
set -euo pipefail

: "${TAG:?TAG is not set}" "${GH_TOKEN:?GH_TOKEN is not set}" "${GITHUB_REPOSITORY:?}"
api="${GITHUB_API_URL:-https://api.github.com}"
api="${api%/}"
repo="${GITHUB_REPOSITORY}"

fail() {
  printf '::error::release %s: %s\n' "${TAG}" "$*"
  exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf -- "${tmp}"' EXIT
body="${tmp}/body"
status=''
# call METHOD URL [curl args...]: sets $status, the response body is in $body. The token goes
# through a header file, never on curl's command line (visible in ps).
printf 'Authorization: Bearer %s\n' "${GH_TOKEN}" >"${tmp}/auth"
call() {
  local method="$1" url="$2"
  shift 2
  [[ "${url}" == http* ]] || url="${api}${url}"
  status="$(curl --silent --show-error --retry 3 --retry-connrefused --connect-timeout 20 \
    --max-time 600 -X "${method}" -H "@${tmp}/auth" \
    -H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' \
    --output "${body}" --write-out '%{http_code}' "$@" -- "${url}")" ||
    fail "${method} ${url}: network error"
}
# expect STATUS... : fail with GitHub's message unless $status is one of them.
expect() {
  local s
  for s in "$@"; do
    [[ "${status}" == "${s}" ]] && return 0
  done
  fail "${last_call:-request} answered HTTP ${status}: $(jq -c '{message, errors}' "${body}" 2>/dev/null || head -c 500 "${body}")"
}

prerelease=false
case "${TAG}" in *-*) prerelease=true ;; esac

content_type() {
  case "$1" in
    *.tar.xz) echo application/x-xz ;;
    *.tar.gz) echo application/gzip ;;
    *.sha256 | SHA256SUMS) echo 'text/plain; charset=utf-8' ;;
    *) echo application/octet-stream ;;
  esac
}

publish() {
  local dist="${1:?usage: publish DIST_DIR}" id upload file name stored
  shopt -s nullglob
  local files=("${dist}"/*)
  [[ ${#files[@]} -gt 0 ]] || fail "nothing to publish in ${dist}"

  last_call="GET release ${TAG}"
  call GET "/repos/${repo}/releases/tags/${TAG}"
  expect 200 404
  if [[ "${status}" == 200 ]]; then
    fail "release ${TAG} is already published ($(jq -r .html_url "${body}")); assets of a published release are never replaced: cut a new version instead"
  fi
  # A draft left by an earlier, failed run of this tag: start over.
  last_call="GET releases"
  call GET "/repos/${repo}/releases?per_page=100"
  expect 200
  for id in $(jq -r --arg tag "${TAG}" '.[] | select(.draft and .tag_name == $tag) | .id' "${body}"); do
    last_call="DELETE draft ${id}"
    call DELETE "/repos/${repo}/releases/${id}"
    expect 204
    echo "deleted the draft ${id} of an earlier run"
  done

  last_call="POST release ${TAG}"
  jq -n --arg tag "${TAG}" --arg sha "${SHA:-}" --argjson pre "${prerelease}" \
    '{tag_name: $tag, name: $tag, draft: true, prerelease: $pre, generate_release_notes: true,
      make_latest: (if $pre then "false" else "true" end)}
     + (if $sha != "" then {target_commitish: $sha} else {} end)' >"${tmp}/create.json"
  call POST "/repos/${repo}/releases" -H 'Content-Type: application/json' --data-binary "@${tmp}/create.json"
  expect 201
  id="$(jq -r .id "${body}")"
  upload="$(jq -r .upload_url "${body}")"
  upload="${upload%%\{*}" # RFC 6570 template: ...assets{?name,label}

  for file in "${files[@]}"; do
    name="${file##*/}"
    last_call="upload ${name}"
    call POST "${upload}?name=$(jq -rn --arg n "${name}" '$n | @uri')" \
      -H "Content-Type: $(content_type "${name}")" --data-binary "@${file}"
    expect 201
    stored="$(jq -r .size "${body}")"
    [[ "${stored}" == "$(wc -c <"${file}" | tr -d ' ')" ]] ||
      fail "GitHub stored ${stored} bytes of ${name}, which has $(wc -c <"${file}")"
    echo "uploaded ${name} ($(content_type "${name}"), ${stored} bytes)"
  done

  last_call="publish release ${id}"
  call PATCH "/repos/${repo}/releases/${id}" -H 'Content-Type: application/json' --data-binary '{"draft":false}'
  expect 200
  echo "published $(jq -r .html_url "${body}") (prerelease: ${prerelease})"
}

move_major_tag() {
  local major="${TAG%%.*}" newest
  : "${SHA:?SHA is not set}"
  [[ "${prerelease}" == false ]] || fail "a pre-release never moves ${major}"
  # The newest final release of this major; a backport (v1.2.9 after v1.3.0) leaves v1 alone.
  last_call="GET releases"
  call GET "/repos/${repo}/releases?per_page=100"
  expect 200
  newest="$(jq -r --arg major "${major}." '.[] | select((.draft | not) and (.prerelease | not)
    and (.tag_name | startswith($major)) and (.tag_name | test("^v[0-9]+\\.[0-9]+\\.[0-9]+$"))) | .tag_name' "${body}" |
    { cat; echo "${TAG}"; } | sort -V | tail -n 1)"
  if [[ "${newest}" != "${TAG}" ]]; then
    echo "::notice::${major} stays where it is: ${newest} is newer than ${TAG}"
    return 0
  fi
  last_call="GET ref tags/${major}"
  call GET "/repos/${repo}/git/ref/tags/${major}"
  expect 200 404
  if [[ "${status}" == 200 ]]; then
    last_call="PATCH ref tags/${major}"
    call PATCH "/repos/${repo}/git/refs/tags/${major}" -H 'Content-Type: application/json' \
      --data-binary "$(jq -cn --arg sha "${SHA}" '{sha: $sha, force: true}')"
    expect 200
  else
    last_call="POST ref tags/${major}"
    call POST "/repos/${repo}/git/refs" -H 'Content-Type: application/json' \
      --data-binary "$(jq -cn --arg sha "${SHA}" --arg ref "refs/tags/${major}" '{ref: $ref, sha: $sha}')"
    expect 201
  fi
  [[ "$(jq -r .object.sha "${body}")" == "${SHA}" ]] || fail "tag ${major} did not move to ${SHA}"
  echo "${major} -> ${SHA} (${TAG})"
}

case "${1:-}" in
  publish) publish "${2:-dist}" ;;
  move-major-tag) move_major_tag ;;
  *)
    echo "usage: scripts/release/publish.sh publish DIST_DIR | move-major-tag" >&2
    exit 2
    ;;
esac
