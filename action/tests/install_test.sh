#!/usr/bin/env bash
# Tests action/install.sh against a fake release served by a real HTTP server on 127.0.0.1.
#
#   bash action/tests/install_test.sh            # all cases
#   bash action/tests/install_test.sh mismatch   # only cases whose name contains "mismatch"
#
# Needs bash, python3 (http.server, and venv/pip for the cargo-lambda case), curl, tar, xz, a C
# compiler (cc: the release binaries for this machine's own platform are real executables, since
# install.sh reads their header), and sha256sum or shasum.
# Prints "N passed, N failed" last and exits non-zero when a case failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
install_sh="${here}/../install.sh"
filter="${1:-}"

root="$(mktemp -d "${TMPDIR:-/tmp}/install-test.XXXXXXXX")"
server_pid=''
cleanup() {
  if [[ -n "${server_pid}" ]]; then
    kill "${server_pid}" 2>/dev/null || true
    wait "${server_pid}" 2>/dev/null || true
  fi
  [[ -n "${KEEP_TEST_DIR:-}" ]] || rm -rf -- "${root}"
}
trap cleanup EXIT

passed=0
failed=0
failures=()
current=''

# ---- fake releases ----------------------------------------------------------------------------
srv="${root}/srv"
mkdir -p "${srv}"
targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin)

# sha256_line FILE: "<hex>  <name>" like sha256sum, also where only shasum exists (macOS).
sha256_line() {
  if type -P sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi
}
# link_tools DIR TOOL...: a PATH dir holding only the given tools (those that exist here).
link_tools() {
  local dir="$1" tool
  shift
  mkdir -p "${dir}"
  for tool in "$@"; do
    if type -P "${tool}" >/dev/null; then
      ln -sf "$(type -P "${tool}")" "${dir}/${tool}"
    fi
  done
}
base_tools=(bash sh env awk sed tar xz curl mktemp rm mkdir mv chmod cat uname tr sleep install grep od head getconf)

# The target whose binaries run here. The assets of the other targets are header-only files (an
# ELF or Mach-O header of their architecture): install.sh accepts their header and then refuses
# them because they do not run, which is what a runner of another platform would see.
host_target=''
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) host_target=x86_64-unknown-linux-gnu ;;
  Linux/aarch64) host_target=aarch64-unknown-linux-gnu ;;
  Darwin/x86_64) host_target=x86_64-apple-darwin ;;
  Darwin/arm64) host_target=aarch64-apple-darwin ;;
esac
cat >"${root}/stub.c" <<'EOF'
#include <stdio.h>
int main(int c, char **v) {
  printf("deploy-action %s", MSG);
  for (int i = 1; i < c; i++) printf(" %s", v[i]);
  printf("\n");
  return 0;
}
EOF
# make_binary OUT TARGET MESSAGE: an executable for TARGET that prints "deploy-action MESSAGE ARGS"
# (the host's target), or a header-only file of TARGET's format and architecture.
make_binary() {
  if [[ "$2" == "${host_target}" ]]; then
    cc "-DMSG=\"$3\"" -o "$1" "${root}/stub.c"
  else
    python3 - "$1" "$2" <<'EOF'
import struct, sys
out, target = sys.argv[1], sys.argv[2]
if target.endswith("-linux-gnu"):
    machine = {"x86_64": 0x3E, "aarch64": 0xB7}[target.split("-")[0]]
    # e_ident: ELFCLASS64, little-endian, version 1; e_type ET_DYN; e_machine.
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HH", 3, machine)
else:
    cputype = {"x86_64": 0x01000007, "aarch64": 0x0100000C}[target.split("-")[0]]
    header = struct.pack("<Ii", 0xFEEDFACF, cputype)
with open(out, "wb") as f:
    f.write(header + bytes(64))
EOF
  fi
  chmod 0755 "$1"
}

# make_asset TAG TARGET [MARK]: a tarball holding a deploy-action script that names its target.
make_asset() {
  local tag="$1" target="$2" mark="${3:-release}" dir
  dir="${srv}/${tag}"
  mkdir -p "${dir}" "${root}/build/${tag}/${target}"
  make_binary "${root}/build/${tag}/${target}/deploy-action" "${target}" "${mark} ${tag} ${target}"
  tar -cJf "${dir}/deploy-action-${target}.tar.xz" -C "${root}/build/${tag}/${target}" deploy-action
  (cd "${dir}" && sha256_line "deploy-action-${target}.tar.xz" >"deploy-action-${target}.tar.xz.sha256")
}

for t in "${targets[@]}"; do
  make_asset v1.2.3 "${t}"
done
# v6.6.6: the checksum file does not match the tarball (a corrupted asset or checksum).
# v6.6.7: the tarball was swapped for another build, the checksum file is the genuine one.
make_asset v6.6.6 x86_64-unknown-linux-gnu
make_asset v6.6.7 x86_64-unknown-linux-gnu evil
cp "${srv}/v6.6.6/deploy-action-x86_64-unknown-linux-gnu.tar.xz.sha256" \
  "${srv}/v6.6.7/deploy-action-x86_64-unknown-linux-gnu.tar.xz.sha256"
printf '%064d  deploy-action-x86_64-unknown-linux-gnu.tar.xz\n' 0 \
  >"${srv}/v6.6.6/deploy-action-x86_64-unknown-linux-gnu.tar.xz.sha256"
# v7.0.0: binary but no checksum file.
make_asset v7.0.0 x86_64-unknown-linux-gnu
rm "${srv}/v7.0.0/deploy-action-x86_64-unknown-linux-gnu.tar.xz.sha256"
# v8.0.0: an archive with more than the binary in it (path traversal attempt).
mkdir -p "${srv}/v8.0.0" "${root}/build/v8.0.0/a"
printf '#!/bin/sh\necho pwned\n' >"${root}/build/v8.0.0/a/deploy-action"
printf 'x\n' >"${root}/build/v8.0.0/evil"
chmod 0755 "${root}/build/v8.0.0/a/deploy-action"
# GNU tar strips "../" when creating, so Python's tarfile writes the hostile member name.
python3 - "${root}/build/v8.0.0" "${srv}/v8.0.0/deploy-action-x86_64-unknown-linux-gnu.tar.xz" <<'EOF'
import sys, tarfile
src, dst = sys.argv[1], sys.argv[2]
with tarfile.open(dst, "w:xz") as t:
    t.add(f"{src}/a/deploy-action", arcname="deploy-action")
    t.add(f"{src}/evil", arcname="../evil")
EOF
(cd "${srv}/v8.0.0" && sha256_line deploy-action-x86_64-unknown-linux-gnu.tar.xz \
  >deploy-action-x86_64-unknown-linux-gnu.tar.xz.sha256)
# v9.0.0: the release exists but the asset is missing (404), as for a fork without releases.
mkdir -p "${srv}/v9.0.0"
# v10.0.0: the x86_64 asset holds an aarch64 binary, with a matching checksum.
make_asset v10.0.0 aarch64-unknown-linux-gnu
mv "${srv}/v10.0.0/deploy-action-aarch64-unknown-linux-gnu.tar.xz" "${srv}/v10.0.0/deploy-action-x86_64-unknown-linux-gnu.tar.xz"
rm "${srv}/v10.0.0/deploy-action-aarch64-unknown-linux-gnu.tar.xz.sha256"
(cd "${srv}/v10.0.0" && sha256_line deploy-action-x86_64-unknown-linux-gnu.tar.xz >deploy-action-x86_64-unknown-linux-gnu.tar.xz.sha256)
# v10.0.1: the asset was cut short in transfer or storage; the checksum file is the genuine one.
make_asset v10.0.1 x86_64-unknown-linux-gnu
head -c 100 "${srv}/v10.0.1/deploy-action-x86_64-unknown-linux-gnu.tar.xz" >"${root}/truncated"
mv "${root}/truncated" "${srv}/v10.0.1/deploy-action-x86_64-unknown-linux-gnu.tar.xz"
# v10.0.2: a truncated archive whose checksum file was made from it (a broken release build).
make_asset v10.0.2 x86_64-unknown-linux-gnu
# (Through a file: in a pipeline under pipefail, "xz -dc | head -c 700" fails with SIGPIPE, exit 141,
# whenever head exits before xz has written its last block.)
xz -dc "${srv}/v10.0.2/deploy-action-x86_64-unknown-linux-gnu.tar.xz" >"${root}/whole.tar"
head -c 700 "${root}/whole.tar" | xz -c >"${root}/truncated"
mv "${root}/truncated" "${srv}/v10.0.2/deploy-action-x86_64-unknown-linux-gnu.tar.xz"
(cd "${srv}/v10.0.2" && sha256_line deploy-action-x86_64-unknown-linux-gnu.tar.xz >deploy-action-x86_64-unknown-linux-gnu.tar.xz.sha256)
# v10.0.3: the binary sits in a directory inside the archive (a wrong layout).
mkdir -p "${srv}/v10.0.3" "${root}/build/v10.0.3/bin"
make_binary "${root}/build/v10.0.3/bin/deploy-action" x86_64-unknown-linux-gnu "nested"
tar -cJf "${srv}/v10.0.3/deploy-action-x86_64-unknown-linux-gnu.tar.xz" -C "${root}/build/v10.0.3" bin/deploy-action
(cd "${srv}/v10.0.3" && sha256_line deploy-action-x86_64-unknown-linux-gnu.tar.xz >deploy-action-x86_64-unknown-linux-gnu.tar.xz.sha256)

server_log="${root}/server.log"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "${srv}" >"${root}/server.out" 2>"${server_log}" &
server_pid=$!
port=''
for _ in $(seq 1 100); do
  port="$(sed -n '/.* port \([0-9][0-9]*\) .*/{s//\1/p;q;}' "${root}/server.out")"
  [[ -n "${port}" ]] && break
  sleep 0.1
done
if [[ -z "${port}" ]]; then
  echo "could not start the test HTTP server" >&2
  cat "${server_log}" >&2
  exit 1
fi
base_url="http://127.0.0.1:${port}"

# ---- the action under test --------------------------------------------------------------------
# make_action_path DIR VERSION: a copy of the action's layout with a Cargo.toml of that version.
make_action_path() {
  local dir="$1" version="$2"
  mkdir -p "${dir}/action"
  cp "${install_sh}" "${dir}/action/install.sh"
  cat >"${dir}/Cargo.toml" <<EOF
[package]
name = "deploy-action"
version = "${version}"

[dependencies]
version = "not this one"
EOF
}
action_path="${root}/action-1.2.3"
make_action_path "${action_path}" 1.2.3

# A PATH shim dir whose cargo stands in for a real build: it records its arguments and writes a
# binary where cargo would.
shim="${root}/shim"
mkdir -p "${shim}"
cat >"${shim}/cargo" <<'EOF'
#!/bin/sh
printf '%s\n' "$*" >>"${CARGO_SHIM_LOG:?}"
mkdir -p "${CARGO_TARGET_DIR:?}/release"
printf '#!/bin/sh\necho "deploy-action built-from-source $*"\n' >"${CARGO_TARGET_DIR}/release/deploy-action"
chmod 0755 "${CARGO_TARGET_DIR}/release/deploy-action"
EOF
chmod 0755 "${shim}/cargo"

# Case state, reset by begin().
case_dir=''
out=''
status=0

begin() {
  current="$1"
  case_dir="${root}/case-${current}"
  mkdir -p "${case_dir}/tool_cache" "${case_dir}/temp"
  : >"${case_dir}/github_path"
  : >"${case_dir}/github_output"
  : >"${case_dir}/cargo.log"
  : >"${server_log}"
  out="${case_dir}/out.log"
}

# run_install [VAR=VALUE...]: runs install.sh in a sealed environment plus the given variables.
run_install() {
  status=0
  env -i \
    PATH="${RUN_PATH:-${shim}:/usr/local/bin:/usr/bin:/bin}" \
    HOME="${case_dir}" \
    RUNNER_OS=Linux RUNNER_ARCH=X64 \
    RUNNER_TOOL_CACHE="${case_dir}/tool_cache" \
    RUNNER_TEMP="${case_dir}/temp" \
    GITHUB_PATH="${case_dir}/github_path" \
    GITHUB_OUTPUT="${case_dir}/github_output" \
    GITHUB_ACTION_PATH="${action_path}" \
    GITHUB_SERVER_URL=https://github.invalid \
    DEPLOY_ACTION_REPOSITORY=org/deploy-action \
    DEPLOY_ACTION_RELEASE_BASE_URL="${base_url}" \
    CARGO_SHIM_LOG="${case_dir}/cargo.log" \
    INPUT_COMMAND=deploy INPUT_BUILD=none INPUT_SOURCE=. \
    "$@" \
    bash --noprofile --norc "${action_path}/action/install.sh" >"${out}" 2>&1 || status=$?
}

check() {
  local what="$1"
  shift
  if "$@"; then
    return 0
  fi
  failures+=("${current}: ${what}")
  echo "  FAIL ${current}: ${what}" >&2
  return 1
}
# finish: counts the case once, after all its checks.
case_failed=0
expect() {
  check "$@" || case_failed=1
}
finish() {
  if [[ "${case_failed}" == 0 ]]; then
    passed=$((passed + 1))
    echo "ok   ${current}"
  else
    failed=$((failed + 1))
    echo "FAIL ${current} (log follows)"
    sed 's/^/     | /' "${out}"
  fi
  case_failed=0
}
selected() {
  [[ -z "${filter}" || "$1" == *"${filter}"* ]]
}

output_value() { sed -n "s/^$1=//p" "${case_dir}/github_output" | tail -n 1; }
requested() { grep -q "\"GET $1 HTTP" "${server_log}"; }
no_requests() { ! grep -q '"GET ' "${server_log}"; }
log_has() { grep -qF -- "$1" "${out}"; }
log_lacks() { ! grep -qF -- "$1" "${out}"; }
no_executables_under() { [[ -z "$(find "$@" -type f -perm -u+x 2>/dev/null)" ]]; }
bin_says() { [[ "$("$(output_value bin)" --version 2>/dev/null)" == *"$1"* ]]; }

# ---- cases ------------------------------------------------------------------------------------
for combo in Linux:X64:x86_64-unknown-linux-gnu:x64 Linux:ARM64:aarch64-unknown-linux-gnu:arm64 \
  macOS:X64:x86_64-apple-darwin:x64 macOS:ARM64:aarch64-apple-darwin:arm64; do
  IFS=: read -r os arch target cache_arch <<<"${combo}"
  name="asset-${os}-${arch}"
  selected "${name}" || continue
  begin "${name}"
  run_install RUNNER_OS="${os}" RUNNER_ARCH="${arch}" DEPLOY_ACTION_REF=v1.2.3
  cache="${case_dir}/tool_cache/deploy-action/1.2.3/${cache_arch}"
  expect "downloaded the ${target} asset" requested "/v1.2.3/deploy-action-${target}.tar.xz"
  expect "downloaded its checksum" requested "/v1.2.3/deploy-action-${target}.tar.xz.sha256"
  if [[ "${target}" == "${host_target}" ]]; then
    expect "exit 0" [ "${status}" = 0 ]
    expect "bin output is the tool-cache path" [ "$(output_value bin)" = "${cache}/deploy-action" ]
    expect "installed binary is the ${target} one" bin_says "${target}"
    expect "tool-cache marker written" [ -f "${cache}.complete" ]
    expect "bin dir added to GITHUB_PATH" grep -qxF "${cache}" "${case_dir}/github_path"
    expect "says plainly that only the checksum was verified" \
      log_has "::notice::deploy-action install: verified deploy-action-${target}.tar.xz against the SHA-256 checksum of release v1.2.3 only; its build provenance attestation was not checked (gh is not on this runner)"
  else
    # The header is right for ${os}/${arch}; this machine just cannot run it.
    expect "exit non-zero" [ "${status}" != 0 ]
    expect "header accepted, then refused as not running here" \
      log_has "::error::deploy-action install: the downloaded deploy-action (${target}) does not run on this runner"
    expect "no cache marker" [ ! -e "${cache}.complete" ]
  fi
  expect "temp files removed" no_executables_under "${case_dir}/temp"
  finish
done

if selected uname-fallback; then
  begin uname-fallback
  run_install RUNNER_OS= RUNNER_ARCH= DEPLOY_ACTION_REF=v1.2.3
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) want=x86_64-unknown-linux-gnu ;;
    Linux/aarch64) want=aarch64-unknown-linux-gnu ;;
    Darwin/x86_64) want=x86_64-apple-darwin ;;
    Darwin/arm64) want=aarch64-apple-darwin ;;
  esac
  expect "exit 0" [ "${status}" = 0 ]
  expect "picked ${want} from uname" requested "/v1.2.3/deploy-action-${want}.tar.xz"
  finish
fi

if selected unsupported-platform; then
  begin unsupported-platform
  run_install RUNNER_OS=Windows RUNNER_ARCH=X64 DEPLOY_ACTION_REF=v1.2.3
  expect "exit non-zero" [ "${status}" != 0 ]
  expect "::error:: names the runner" log_has "::error::deploy-action install: unsupported runner Windows/X64"
  expect "nothing downloaded" no_requests
  finish
fi

if selected tool-cache-hit; then
  begin tool-cache-hit
  cache="${case_dir}/tool_cache/deploy-action/1.2.3/x64"
  mkdir -p "${cache}"
  printf '#!/bin/sh\necho "deploy-action seeded"\n' >"${cache}/deploy-action"
  chmod 0755 "${cache}/deploy-action"
  : >"${cache}.complete"
  # An unreachable release URL: any download attempt would fail the case.
  run_install DEPLOY_ACTION_REF=v1.2.3 DEPLOY_ACTION_RELEASE_BASE_URL=http://127.0.0.1:1
  expect "exit 0" [ "${status}" = 0 ]
  expect "nothing downloaded" no_requests
  expect "uses the seeded binary" bin_says seeded
  expect "bin dir added to GITHUB_PATH" grep -qxF "${cache}" "${case_dir}/github_path"
  finish
fi

if selected tool-cache-hit-local-ref; then
  # `uses: ./` (no ref) finds the binary cached for the package version; this is what the act
  # scenarios rely on.
  begin tool-cache-hit-local-ref
  cache="${case_dir}/tool_cache/deploy-action/1.2.3/x64"
  mkdir -p "${cache}"
  printf '#!/bin/sh\necho "deploy-action seeded"\n' >"${cache}/deploy-action"
  chmod 0755 "${cache}/deploy-action"
  : >"${cache}.complete"
  run_install DEPLOY_ACTION_REF= DEPLOY_ACTION_REPOSITORY=
  expect "exit 0" [ "${status}" = 0 ]
  expect "uses the seeded binary" bin_says seeded
  expect "cargo not run" [ ! -s "${case_dir}/cargo.log" ]
  finish
fi

if selected tool-cache-incomplete; then
  # Without the .complete marker a cached dir may be half-written: download again.
  begin tool-cache-incomplete
  cache="${case_dir}/tool_cache/deploy-action/1.2.3/x64"
  mkdir -p "${cache}"
  printf '#!/bin/sh\necho "deploy-action half-written"\n' >"${cache}/deploy-action"
  chmod 0755 "${cache}/deploy-action"
  run_install DEPLOY_ACTION_REF=v1.2.3
  expect "exit 0" [ "${status}" = 0 ]
  expect "downloaded the release" requested "/v1.2.3/deploy-action-x86_64-unknown-linux-gnu.tar.xz"
  expect "replaced the half-written binary" bin_says "release v1.2.3"
  expect "marker written" [ -f "${cache}.complete" ]
  finish
fi

if selected checksum-mismatch; then
  for tag in v6.6.6 v6.6.7; do
    begin "checksum-mismatch-${tag}"
    run_install DEPLOY_ACTION_REF="${tag}"
    expect "exit non-zero" [ "${status}" != 0 ]
    expect "clear ::error::" log_has "::error::deploy-action install: checksum mismatch for deploy-action-x86_64-unknown-linux-gnu.tar.xz from release ${tag}"
    expect "nothing executable left in the tool cache" no_executables_under "${case_dir}/tool_cache"
    expect "nothing executable left in RUNNER_TEMP" no_executables_under "${case_dir}/temp"
    expect "no download left in RUNNER_TEMP" [ -z "$(ls -A "${case_dir}/temp")" ]
    expect "no cache marker" [ -z "$(find "${case_dir}/tool_cache" -name '*.complete')" ]
    expect "no bin output" [ -z "$(output_value bin)" ]
    expect "nothing added to GITHUB_PATH" [ ! -s "${case_dir}/github_path" ]
    expect "did not fall back to a build" [ ! -s "${case_dir}/cargo.log" ]
    finish
  done
fi

if selected missing-checksum; then
  begin missing-checksum
  run_install DEPLOY_ACTION_REF=v7.0.0
  expect "exit non-zero" [ "${status}" != 0 ]
  expect "::error:: names the checksum file" log_has "checksum file deploy-action-x86_64-unknown-linux-gnu.tar.xz.sha256 answered HTTP 404"
  expect "nothing executable left" no_executables_under "${case_dir}/tool_cache" "${case_dir}/temp"
  expect "did not fall back to a build" [ ! -s "${case_dir}/cargo.log" ]
  finish
fi

if selected unexpected-archive; then
  begin unexpected-archive
  run_install DEPLOY_ACTION_REF=v8.0.0
  expect "exit non-zero" [ "${status}" != 0 ]
  expect "::error:: says what the archive holds" log_has "must contain only deploy-action"
  expect "nothing executable left" no_executables_under "${case_dir}/tool_cache" "${case_dir}/temp"
  expect "nothing written beside the case dir" [ ! -e "${case_dir}/evil" ]
  expect "nothing written into RUNNER_TEMP" [ ! -e "${case_dir}/temp/evil" ]
  finish
fi

# refused: the expectations every refused asset shares (nothing installed, no fallback build).
refused() {
  expect "exit non-zero" [ "${status}" != 0 ]
  expect "nothing executable left in the tool cache" no_executables_under "${case_dir}/tool_cache"
  expect "nothing executable left in RUNNER_TEMP" no_executables_under "${case_dir}/temp"
  expect "no cache marker" [ -z "$(find "${case_dir}/tool_cache" -name '*.complete')" ]
  expect "no bin output" [ -z "$(output_value bin)" ]
  expect "did not fall back to a build" [ ! -s "${case_dir}/cargo.log" ]
}

if selected wrong-architecture; then
  begin wrong-architecture
  run_install DEPLOY_ACTION_REF=v10.0.0
  refused
  expect "::error:: names both architectures" log_has "::error::deploy-action install: deploy-action-x86_64-unknown-linux-gnu.tar.xz from release v10.0.0 holds ELF aarch64, not the ELF x86_64 binary this Linux/X64 runner needs"
  finish
fi

if selected truncated-download; then
  begin truncated-download
  run_install DEPLOY_ACTION_REF=v10.0.1
  refused
  expect "::error:: is the checksum mismatch" log_has "::error::deploy-action install: checksum mismatch for deploy-action-x86_64-unknown-linux-gnu.tar.xz from release v10.0.1"
  finish
fi

if selected truncated-archive; then
  begin truncated-archive
  run_install DEPLOY_ACTION_REF=v10.0.2
  refused
  expect "::error:: says the archive is broken" log_has "::error::deploy-action install: deploy-action-x86_64-unknown-linux-gnu.tar.xz is not a readable tar.xz archive"
  finish
fi

if selected nested-layout; then
  begin nested-layout
  run_install DEPLOY_ACTION_REF=v10.0.3
  refused
  expect "::error:: shows the layout" log_has "::error::deploy-action install: deploy-action-x86_64-unknown-linux-gnu.tar.xz must contain only deploy-action, found: bin/deploy-action"
  finish
fi

# GNU tar unpacks .tar.xz with the xz program: a runner without it is told which package to
# install, and does not build around an existing release.
if selected no-xz; then
  begin no-xz
  link_tools "${case_dir}/bin" "${base_tools[@]/xz/}" sha256sum shasum perl
  expect "the test PATH has no xz" [ ! -e "${case_dir}/bin/xz" ]
  RUN_PATH="${case_dir}/bin:${shim}" run_install DEPLOY_ACTION_REF=v1.2.3
  refused
  expect "downloaded the asset first" requested "/v1.2.3/deploy-action-x86_64-unknown-linux-gnu.tar.xz"
  expect "::error:: names the package" log_has "::error::deploy-action install: unpacking deploy-action-x86_64-unknown-linux-gnu.tar.xz needs xz, which is not on this runner's PATH; install it before this step (package xz-utils on Debian/Ubuntu"
  finish
fi

if selected no-xz-no-release; then
  begin no-xz-no-release
  link_tools "${case_dir}/bin" "${base_tools[@]/xz/}" sha256sum shasum perl
  RUN_PATH="${case_dir}/bin:${shim}" run_install DEPLOY_ACTION_REF=v9.0.0
  expect "exit 0" [ "${status}" = 0 ]
  expect "no release: built from source without xz" bin_says built-from-source
  finish
fi

if selected glibc-too-old; then
  begin glibc-too-old
  mkdir -p "${case_dir}/bin"
  printf '#!/bin/sh\necho "glibc 2.12"\n' >"${case_dir}/bin/getconf"
  chmod 0755 "${case_dir}/bin/getconf"
  RUN_PATH="${case_dir}/bin:${shim}:/usr/local/bin:/usr/bin:/bin" run_install DEPLOY_ACTION_REF=v1.2.3
  refused
  expect "::error:: names the glibc floor" log_has "needs glibc 2.17 or newer, and this runner has glibc 2.12"
  expect "nothing downloaded" no_requests
  finish
fi

# ---- build provenance: a stub gh records how it was called and answers as told ------------------
gh_stub="${root}/gh-stub"
mkdir -p "${gh_stub}"
cat >"${gh_stub}/gh" <<'STUB'
#!/bin/sh
if [ "$1 $2 $3" = "attestation verify --help" ]; then
  [ -z "${GH_STUB_NO_ATTESTATION:-}" ] || { echo 'unknown command "attestation" for "gh"' >&2; exit 1; }
  exit 0
fi
if [ "$1" = "--version" ]; then echo "gh version 2.23.0 (stub)"; exit 0; fi
printf '%s\n' "$*" >>"${GH_STUB_LOG:?}"
printf 'token=%s host=%s\n' "${GH_TOKEN:-}" "${GH_HOST:-}" >>"${GH_STUB_LOG}"
sha256sum "$3" | cut -d' ' -f1 >>"${GH_STUB_LOG}"
if [ -n "${GH_STUB_FAIL:-}" ]; then
  echo "Error: failed to fetch attestations from org/deploy-action: no attestations found" >&2
  exit 1
fi
echo "Loaded digest sha256:... for file://$3"
echo "✓ Verification succeeded!"
STUB
chmod 0755 "${gh_stub}/gh"
gh_path="${gh_stub}:${shim}:/usr/local/bin:/usr/bin:/bin"
asset_sha="$(sha256_line "${srv}/v1.2.3/deploy-action-x86_64-unknown-linux-gnu.tar.xz" | cut -d' ' -f1)"

if selected attestation-verified; then
  begin attestation-verified
  RUN_PATH="${gh_path}" run_install DEPLOY_ACTION_REF=v1.2.3 DEPLOY_ACTION_ATTESTATION_TOKEN=ghs_attest \
    GH_STUB_LOG="${case_dir}/gh.log" GH_TOKEN=ghs_other GITHUB_TOKEN=ghs_other
  expect "exit 0" [ "${status}" = 0 ]
  expect "gh verified against the repository and its release workflow" grep -qx \
    "attestation verify ${case_dir}/temp/deploy-action-install.[A-Za-z0-9]*/deploy-action-x86_64-unknown-linux-gnu.tar.xz --repo org/deploy-action --signer-workflow org/deploy-action/.github/workflows/release.yml" "${case_dir}/gh.log"
  expect "gh got the attestation token, for github.com" grep -qx "token=ghs_attest host=github.invalid" "${case_dir}/gh.log"
  expect "gh saw the downloaded asset" grep -qx "${asset_sha}" "${case_dir}/gh.log"
  expect "installed" bin_says "release v1.2.3"
  expect "says what it verified" log_has "verified deploy-action-x86_64-unknown-linux-gnu.tar.xz by its build provenance attestation (gh attestation verify) and the SHA-256 checksum"
  expect "no checksum-only notice" log_lacks "::notice::"
  finish
fi

if selected attestation-refused; then
  begin attestation-refused
  RUN_PATH="${gh_path}" run_install DEPLOY_ACTION_REF=v1.2.3 DEPLOY_ACTION_ATTESTATION_TOKEN=ghs_attest \
    GH_STUB_LOG="${case_dir}/gh.log" GH_STUB_FAIL=1
  refused
  expect "::error:: says the attestation does not verify" log_has "::error::deploy-action install: the build provenance attestation of deploy-action-x86_64-unknown-linux-gnu.tar.xz from release v1.2.3 does not verify"
  expect "::error:: quotes gh" log_has "no attestations found"
  expect "the token is not in the log" log_lacks ghs_attest
  finish
fi

if selected attestation-unchecked; then
  # gh without the attestation command, no token, or switched off: a notice says so plainly.
  begin attestation-unchecked
  for variant in "GH_STUB_NO_ATTESTATION=1:this gh (gh version 2.23.0 (stub)) has no 'attestation verify' command" \
    "DEPLOY_ACTION_ATTESTATION_TOKEN=:gh needs a token and the github-token input is empty" \
    "DEPLOY_ACTION_VERIFY_ATTESTATION=false:DEPLOY_ACTION_VERIFY_ATTESTATION=false"; do
    rm -rf "${case_dir}/tool_cache" && mkdir -p "${case_dir}/tool_cache"
    RUN_PATH="${gh_path}" run_install DEPLOY_ACTION_REF=v1.2.3 DEPLOY_ACTION_ATTESTATION_TOKEN=ghs_attest \
      GH_STUB_LOG="${case_dir}/gh.log" "${variant%%:*}"
    expect "${variant%%:*}: exit 0" [ "${status}" = 0 ]
    expect "${variant%%:*}: notice says why" log_has "its build provenance attestation was not checked (${variant#*:})"
  done
  expect "gh never asked to verify" [ ! -e "${case_dir}/gh.log" ]
  finish
fi

if selected not-found-builds; then
  begin not-found-builds
  run_install DEPLOY_ACTION_REF=v9.0.0
  expect "exit 0" [ "${status}" = 0 ]
  expect "tried the release first" requested "/v9.0.0/deploy-action-x86_64-unknown-linux-gnu.tar.xz"
  expect "::notice:: says it builds from source" log_has "::notice::deploy-action install: building deploy-action 1.2.3 from source"
  expect "::notice:: says why" log_has "release v9.0.0 has no asset deploy-action-x86_64-unknown-linux-gnu.tar.xz (HTTP 404)"
  expect "ran cargo build --release --locked" grep -q -- "build --release --locked --manifest-path ${action_path}/Cargo.toml" "${case_dir}/cargo.log"
  expect "bin is the source build" bin_says built-from-source
  expect "source build not put in the tool cache" [ -z "$(ls -A "${case_dir}/tool_cache")" ]
  expect "bin dir added to GITHUB_PATH" grep -qxF "${case_dir}/temp/deploy-action-bin" "${case_dir}/github_path"
  finish
fi

if selected branch-ref-builds; then
  begin branch-ref-builds
  run_install DEPLOY_ACTION_REF=main
  expect "exit 0" [ "${status}" = 0 ]
  expect "no download for a branch" no_requests
  expect "built from source" bin_says built-from-source
  finish
fi

if selected no-cargo; then
  begin no-cargo
  # Only the tools the script needs, so no cargo anywhere on PATH.
  link_tools "${case_dir}/bin" "${base_tools[@]}" sha256sum shasum perl
  RUN_PATH="${case_dir}/bin" run_install DEPLOY_ACTION_REF=main
  expect "exit non-zero" [ "${status}" != 0 ]
  expect "::error:: explains" log_has "cargo is not installed to build one"
  finish
fi

if selected moving-major-tag; then
  begin moving-major-tag
  run_install DEPLOY_ACTION_REF=v1
  expect "exit 0" [ "${status}" = 0 ]
  expect "v1 resolves to release v1.2.3" requested "/v1.2.3/deploy-action-x86_64-unknown-linux-gnu.tar.xz"
  expect "cached as 1.2.3" [ -f "${case_dir}/tool_cache/deploy-action/1.2.3/x64.complete" ]
  finish
fi

if selected major-tag-mismatch; then
  begin major-tag-mismatch
  run_install DEPLOY_ACTION_REF=v2
  expect "exit 0" [ "${status}" = 0 ]
  expect "no download" no_requests
  expect "built from source" bin_says built-from-source
  finish
fi

if selected sha-ref; then
  begin sha-ref
  run_install DEPLOY_ACTION_REF=0123456789abcdef0123456789abcdef01234567
  expect "exit 0" [ "${status}" = 0 ]
  expect "a SHA pin uses the package version's release" requested "/v1.2.3/deploy-action-x86_64-unknown-linux-gnu.tar.xz"
  finish
fi

if selected action-path-ref; then
  # GitHub leaves github.action_ref empty in some composite contexts; the checkout path
  # .../_actions/<owner>/<repo>/<ref> still names the ref.
  begin action-path-ref
  saved="${action_path}"
  action_path="${root}/_actions/org/deploy-action/v1.2.3"
  make_action_path "${action_path}" 1.2.3
  run_install DEPLOY_ACTION_REF= DEPLOY_ACTION_REPOSITORY=
  action_path="${saved}"
  expect "exit 0" [ "${status}" = 0 ]
  expect "ref taken from the action path" requested "/v1.2.3/deploy-action-x86_64-unknown-linux-gnu.tar.xz"
  finish
fi

if selected insecure-url; then
  begin insecure-url
  run_install DEPLOY_ACTION_REF=v1.2.3 DEPLOY_ACTION_RELEASE_BASE_URL=http://example.invalid/releases
  expect "exit non-zero" [ "${status}" != 0 ]
  expect "::error:: refuses plain http" log_has "only https (or http://127.0.0.1 for tests) is allowed"
  finish
fi

if selected no-sha-tool; then
  begin no-sha-tool
  link_tools "${case_dir}/bin" "${base_tools[@]}"
  RUN_PATH="${case_dir}/bin" run_install DEPLOY_ACTION_REF=v1.2.3
  expect "exit non-zero" [ "${status}" != 0 ]
  expect "fails closed" log_has "neither sha256sum nor shasum is available"
  expect "nothing executable left" no_executables_under "${case_dir}/tool_cache" "${case_dir}/temp"
  finish
fi

if selected shasum-fallback && type -P shasum >/dev/null; then
  begin shasum-fallback
  link_tools "${case_dir}/bin" "${base_tools[@]}" shasum perl
  RUN_PATH="${case_dir}/bin" run_install DEPLOY_ACTION_REF=v1.2.3
  expect "exit 0 with shasum only (as on macOS)" [ "${status}" = 0 ]
  expect "installed" bin_says "release v1.2.3"
  finish
fi

# ---- cargo-lambda -----------------------------------------------------------------------------
# A local wheel stands in for PyPI's cargo-lambda, so pip really installs it without a network.
if selected cargo-lambda; then
  wheels="${root}/wheels"
  mkdir -p "${wheels}"
  # make_wheel DIR NAME VERSION [SCRIPT]: a minimal valid wheel, optionally with one script.
  python3 - "${wheels}" <<'EOF'
import sys, zipfile, hashlib, base64

def make_wheel(out, dist, version, script=None):
    name = dist.replace("-", "_")
    files = {
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
        f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if script:
        files[f"{name}-{version}.data/scripts/{dist}"] = script
    record = []
    with zipfile.ZipFile(f"{out}/{name}-{version}-py3-none-any.whl", "w") as z:
        for p, body in files.items():
            data = body.encode()
            info = zipfile.ZipInfo(p, date_time=(2020, 1, 1, 0, 0, 0))
            # pip marks a file executable only when the mode says "regular file" too.
            info.external_attr = (0o100755 if "/scripts/" in p else 0o100644) << 16
            z.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{p},sha256={digest},{len(data)}")
        rec = f"{name}-{version}.dist-info/RECORD"
        record.append(f"{rec},,")
        z.writestr(rec, "\n".join(record) + "\n")

make_wheel(sys.argv[1], "cargo-lambda", "1.9.2", "#!/bin/sh\necho cargo-lambda 1.9.2 fake\n")
make_wheel(sys.argv[1], "ziglang", "0.14.0")
EOF
  seed_cache() {
    local cache="${case_dir}/tool_cache/deploy-action/1.2.3/x64"
    mkdir -p "${cache}"
    printf '#!/bin/sh\necho seeded\n' >"${cache}/deploy-action"
    chmod 0755 "${cache}/deploy-action"
    : >"${cache}.complete"
  }
  pip_env=(PIP_NO_INDEX=1 PIP_FIND_LINKS="${wheels}" PIP_CONFIG_FILE=/dev/null)

  begin cargo-lambda-rust-build
  seed_cache
  mkdir -p "${case_dir}/app" && : >"${case_dir}/app/Cargo.toml"
  run_install DEPLOY_ACTION_REF=v1.2.3 INPUT_BUILD=auto INPUT_SOURCE="${case_dir}/app" "${pip_env[@]}"
  venv="${case_dir}/tool_cache/cargo-lambda/1.9.2/x64"
  expect "exit 0" [ "${status}" = 0 ]
  expect "extra-path is the cargo-lambda venv" [ "$(output_value extra-path)" = "${venv}/bin" ]
  expect "pip installed cargo-lambda 1.9.2" [ "$("${venv}/bin/cargo-lambda" 2>/dev/null)" = "cargo-lambda 1.9.2 fake" ]
  expect "pip installed the pinned ziglang" "${venv}/bin/python" -c \
    'import importlib.metadata as m, sys; sys.exit(m.version("ziglang") != "0.14.0")'
  expect "venv marked complete" [ -f "${venv}.complete" ]
  finish

  begin cargo-lambda-not-needed
  seed_cache
  mkdir -p "${case_dir}/app" && : >"${case_dir}/app/Cargo.toml"
  for variant in "INPUT_BUILD=python" "INPUT_COMMAND=teardown" "INPUT_ARTIFACT=dist/app.zip" "INPUT_SOURCE=${case_dir}/nowhere"; do
    : >"${case_dir}/github_output"
    run_install DEPLOY_ACTION_REF=v1.2.3 INPUT_BUILD=auto INPUT_SOURCE="${case_dir}/app" "${variant}" "${pip_env[@]}"
    expect "${variant}: exit 0" [ "${status}" = 0 ]
    expect "${variant}: no cargo-lambda" [ -z "$(output_value extra-path)" ]
  done
  expect "no venv created" [ ! -e "${case_dir}/tool_cache/cargo-lambda" ]
  finish

  begin cargo-lambda-on-path
  seed_cache
  mkdir -p "${case_dir}/bin"
  printf '#!/bin/sh\necho present\n' >"${case_dir}/bin/cargo-lambda"
  chmod 0755 "${case_dir}/bin/cargo-lambda"
  RUN_PATH="${case_dir}/bin:${shim}:/usr/local/bin:/usr/bin:/bin" \
    run_install DEPLOY_ACTION_REF=v1.2.3 INPUT_BUILD=rust "${pip_env[@]}"
  expect "exit 0" [ "${status}" = 0 ]
  expect "uses the one on PATH" [ -z "$(output_value extra-path)" ]
  expect "no venv created" [ ! -e "${case_dir}/tool_cache/cargo-lambda" ]
  finish
fi

echo
for f in "${failures[@]+"${failures[@]}"}"; do
  echo "failed: ${f}"
done
echo "${passed} passed, ${failed} failed"
[[ "${failed}" == 0 ]]
