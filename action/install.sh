#!/usr/bin/env bash
# Installs the deploy-action binary for this runner, and cargo-lambda when a Rust build needs it.
#
# Order of preference for the binary:
#   1. the runner's tool cache: $RUNNER_TOOL_CACHE/deploy-action/<version>/<arch>/deploy-action,
#      used only when the actions/tool-cache marker <arch>.complete sits next to it;
#   2. the release asset deploy-action-<target>.tar.xz of the action's own version, verified
#      against deploy-action-<target>.tar.xz.sha256 from the same release, checked for its layout
#      and architecture, its build provenance attestation verified with `gh attestation verify`
#      where gh can (else a notice says only the checksum was verified), then put in the cache;
#   3. a build from the action's own source (cargo build --release --locked) when no release
#      matches: a branch or fork ref, `uses: ./`, or a 404.
#
# Inputs (environment): INPUT_COMMAND, INPUT_BUILD, INPUT_SOURCE, INPUT_ARTIFACT,
# DEPLOY_ACTION_REF / DEPLOY_ACTION_REPOSITORY (github.action_ref / github.action_repository),
# plus the runner's GITHUB_ACTION_PATH, GITHUB_ACTION_REF, GITHUB_ACTION_REPOSITORY,
# GITHUB_SERVER_URL, RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP, GITHUB_PATH,
# GITHUB_OUTPUT.
# DEPLOY_ACTION_ATTESTATION_TOKEN (the github-token input) is kept for gh alone;
# DEPLOY_ACTION_VERIFY_ATTESTATION=false skips the attestation check (e.g. a GHES mirror of the
# action without attestations), with a notice.
# Test hook: DEPLOY_ACTION_RELEASE_BASE_URL replaces "$GITHUB_SERVER_URL/<repo>/releases/download";
# it may be plain http only when it points at 127.0.0.1.
# Outputs (GITHUB_OUTPUT): bin (absolute path of the binary), extra-path (dir to prepend to PATH
# for the run step, or empty).
set -CeEuo pipefail
IFS=$'\n\t'

# Nothing this script runs (curl, tar, cargo and build scripts, pip) needs a token; gh, which
# verifies the attestation, gets this one explicitly and nothing else sees it.
attestation_token="${DEPLOY_ACTION_ATTESTATION_TOKEN:-}"
unset DEPLOY_ACTION_ATTESTATION_TOKEN GH_TOKEN GITHUB_ENTERPRISE_TOKEN GH_ENTERPRISE_TOKEN
unset GITHUB_TOKEN INPUT_GITHUB_TOKEN DEPLOY_GITHUB_TOKEN ACTIONS_RUNTIME_TOKEN \
  ACTIONS_ID_TOKEN_REQUEST_TOKEN ACTIONS_ID_TOKEN_REQUEST_URL \
  AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

readonly CARGO_LAMBDA_VERSION=1.9.2
# cargo-lambda only asks for ziglang>=0.10, and a new Zig can break linking; 0.14.0 is the Zig that
# cargo-lambda 1.9.2's own CI builds with.
readonly ZIGLANG_VERSION=0.14.0
readonly TOOL=deploy-action

bail() {
  printf '::error::deploy-action install: %s\n' "$*"
  exit 1
}
warn() {
  printf '::warning::deploy-action install: %s\n' "$*"
}
notice() {
  printf '::notice::deploy-action install: %s\n' "$*"
}
info() {
  printf >&2 'deploy-action install: %s\n' "$*"
}
# retry CMD...: up to 5 attempts with growing pauses; transient network failures are common on
# shared runners, and curl's own --retry does not cover every failure (e.g. DNS, resets mid-body).
retry() {
  local i
  for i in 1 2 3 4; do
    if "$@"; then
      return 0
    fi
    info "attempt ${i} failed: $*; retrying in $((i * 2))s"
    sleep "$((i * 2))"
  done
  "$@"
}

action_path="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set; run this script from action.yml}"
action_path="${action_path%/}"

# ---- platform ---------------------------------------------------------------------------------
runner_os="${RUNNER_OS:-}"
if [[ -z "${runner_os}" ]]; then
  case "$(uname -s)" in
    Linux) runner_os=Linux ;;
    Darwin) runner_os=macOS ;;
    *) runner_os="$(uname -s)" ;;
  esac
fi
runner_arch="${RUNNER_ARCH:-}"
if [[ -z "${runner_arch}" ]]; then
  case "$(uname -m)" in
    x86_64 | amd64) runner_arch=X64 ;;
    aarch64 | arm64) runner_arch=ARM64 ;;
    *) runner_arch="$(uname -m)" ;;
  esac
fi
# Linux assets are glibc binaries linked against glibc 2.17 (see RELEASING.md).
case "${runner_os}/${runner_arch}" in
  Linux/X64) target=x86_64-unknown-linux-gnu ;;
  Linux/ARM64) target=aarch64-unknown-linux-gnu ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  *) bail "unsupported runner ${runner_os}/${runner_arch}: release binaries exist for Linux and macOS on X64 and ARM64" ;;
esac
# actions/tool-cache names architectures like Node's os.arch().
case "${runner_arch}" in
  X64) cache_arch=x64 ;;
  ARM64) cache_arch=arm64 ;;
esac
# What the binary's header must say (see binary_kind).
case "${target}" in
  x86_64-unknown-linux-gnu) want_kind="ELF x86_64" ;;
  aarch64-unknown-linux-gnu) want_kind="ELF aarch64" ;;
  x86_64-apple-darwin) want_kind="Mach-O x86_64" ;;
  aarch64-apple-darwin) want_kind="Mach-O arm64" ;;
esac

# ---- version and release tag ------------------------------------------------------------------
# The package version in the action's own Cargo.toml is the version of the code at this ref.
package_version="$(
  awk '
    /^\[/ { in_package = ($0 == "[package]") }
    in_package && /^version[ \t]*=/ {
      sub(/^version[ \t]*=[ \t]*"/, ""); sub(/".*$/, ""); print; exit
    }
  ' "${action_path}/Cargo.toml" 2>/dev/null || true
)"
if [[ ! "${package_version}" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]]; then
  bail "cannot read the package version from ${action_path}/Cargo.toml"
fi

# Which release holds this ref's binary? Only a version tag or a commit pinned by SHA maps to one:
#   v1.2.3              -> release v1.2.3
#   v1 / v1.2 (moving)  -> release v<package version>, when that version is within v1 / v1.2
#   40-hex commit SHA   -> release v<package version> (a SHA pin of a release commit)
#   branch, empty (uses: ./), anything else -> none: build from source
# The runner leaves GITHUB_ACTION_REF / GITHUB_ACTION_REPOSITORY empty inside composite actions
# (actions/runner#2473), so action.yml passes ${{ github.action_ref }} and
# ${{ github.action_repository }} in explicitly; the action's checkout path
# (.../_actions/<owner>/<repo>/<ref>) is the last resort.
action_ref="${DEPLOY_ACTION_REF:-${GITHUB_ACTION_REF:-}}"
action_repository="${DEPLOY_ACTION_REPOSITORY:-${GITHUB_ACTION_REPOSITORY:-}}"
if [[ -z "${action_ref}" && "${action_path}" =~ /_actions/([^/]+)/([^/]+)/([^/]+)$ ]]; then
  action_repository="${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
  action_ref="${BASH_REMATCH[3]}"
fi
release_tag=''
# Why there is no release to download; reported only if the tool cache has no binary either.
no_release_reason="ref '${action_ref:-<local>}' is not a release tag"
if [[ "${action_ref}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]]; then
  release_tag="${action_ref}"
  if [[ "${action_ref}" != "v${package_version}" ]]; then
    warn "ref ${action_ref} carries package version ${package_version}; using release ${action_ref}"
  fi
elif [[ "${action_ref}" =~ ^v[0-9]+(\.[0-9]+)?$ ]]; then
  if [[ "v${package_version}." == "${action_ref}."* ]]; then
    release_tag="v${package_version}"
  else
    no_release_reason="ref ${action_ref} does not match package version ${package_version}"
  fi
elif [[ "${action_ref}" =~ ^[0-9a-f]{40}$ ]]; then
  release_tag="v${package_version}"
fi
version="${release_tag#v}"
version="${version:-${package_version}}"

# ---- tool cache -------------------------------------------------------------------------------
tool_cache="${RUNNER_TOOL_CACHE:-}"
if [[ -z "${tool_cache}" ]]; then
  tool_cache="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/tool_cache"
fi
cache_dir="${tool_cache}/${TOOL}/${version}/${cache_arch}"
cache_marker="${cache_dir}.complete"

# sha256_of FILE: prints the hex digest. Call require_sha256 first, in the main shell, since a
# bail inside $(...) would only leave the subshell.
sha256_tool=''
require_sha256() {
  if type -P sha256sum >/dev/null; then
    sha256_tool=sha256sum
  elif type -P shasum >/dev/null; then
    # GitHub's macOS runners have shasum but not GNU coreutils' sha256sum.
    sha256_tool=shasum
  else
    # Fail closed: never install a binary that could not be verified.
    bail "neither sha256sum nor shasum is available, so the download cannot be verified"
  fi
}
sha256_of() {
  case "${sha256_tool}" in
    sha256sum) sha256sum "$1" | awk '{print $1}' ;;
    shasum) shasum -a 256 "$1" | awk '{print $1}' ;;
  esac
}

work_dir=''
cleanup() {
  if [[ -n "${work_dir}" ]]; then
    rm -rf -- "${work_dir}"
  fi
}
trap cleanup EXIT

# download URL FILE: prints the HTTP status; fails only on transport errors (after retries).
curl_proto="=https"
download() {
  local url="$1" out="$2" status
  status="$(
    curl --proto "${curl_proto}" --proto-redir "${curl_proto}" --tlsv1.2 \
      --silent --show-error --location --retry 5 --retry-connrefused \
      --connect-timeout 20 --max-time 300 \
      --output "${out}" --write-out '%{http_code}' -- "${url}"
  )" || return 1
  printf '%s' "${status}"
}

# binary_kind FILE: "ELF x86_64", "ELF aarch64", "Mach-O x86_64", "Mach-O arm64", or what else the
# first bytes say. Read from the header, so nothing downloaded runs before it is known to be a
# binary for this runner (with qemu's binfmt handlers, which docker/setup-qemu-action installs, a
# binary for another architecture would otherwise run, emulated).
binary_kind() {
  local h
  h="$(od -An -tx1 -N20 -- "$1" 2>/dev/null | tr -d ' \n')"
  case "${h}" in
    7f454c4602*)
      # ELFCLASS64; e_machine (bytes 18-19, little-endian): 0x3e x86-64, 0xb7 AArch64.
      case "${h:36:4}" in
        3e00) echo "ELF x86_64" ;;
        b700) echo "ELF aarch64" ;;
        *) echo "ELF machine 0x${h:38:2}${h:36:2}" ;;
      esac
      ;;
    7f454c46*) echo "32-bit ELF" ;;
    cffaedfe*)
      # MH_MAGIC_64; cputype (bytes 4-7, little-endian): 0x01000007 x86_64, 0x0100000c arm64.
      case "${h:8:8}" in
        07000001) echo "Mach-O x86_64" ;;
        0c000001) echo "Mach-O arm64" ;;
        *) echo "Mach-O cputype ${h:8:8}" ;;
      esac
      ;;
    2321*) echo "a script (#!)" ;;
    '') echo "an empty file" ;;
    *) echo "not a binary (starts with ${h:0:8})" ;;
  esac
}

# require_glibc: the Linux assets need glibc 2.17 or newer (the floor they are linked against).
require_glibc() {
  local v loader
  [[ "${runner_os}" == Linux ]] || return 0
  v="$(getconf GNU_LIBC_VERSION 2>/dev/null || true)"
  if [[ "${v}" =~ ^glibc\ ([0-9]+)\.([0-9]+) ]]; then
    if ((BASH_REMATCH[1] < 2 || (BASH_REMATCH[1] == 2 && BASH_REMATCH[2] < 17))); then
      bail "the ${target} release binary needs glibc 2.17 or newer, and this runner has ${v}; use a newer image, or a branch ref to build from source"
    fi
    return 0
  fi
  case "${target}" in
    x86_64-*) loader=/lib64/ld-linux-x86-64.so.2 ;;
    *) loader=/lib/ld-linux-aarch64.so.1 ;;
  esac
  if [[ ! -e "${loader}" ]]; then
    bail "the ${target} release binary needs glibc (2.17 or newer), and this runner has none (a musl-based container such as Alpine?); run the job on a glibc-based image, or use a branch ref to build from source"
  fi
}

# verify_attestation FILE ASSET: `gh attestation verify` against the action's repository and its
# release workflow; a failure refuses the asset. Where gh cannot check, a notice says plainly that
# only the checksum was verified. Sets verified_by.
verified_by="the SHA-256 checksum from the same release"
verify_attestation() {
  local file="$1" asset="$2" why='' out host
  if [[ "${DEPLOY_ACTION_VERIFY_ATTESTATION:-true}" == false ]]; then
    why="DEPLOY_ACTION_VERIFY_ATTESTATION=false"
  elif ! type -P gh >/dev/null; then
    why="gh is not on this runner"
  elif ! gh attestation verify --help >/dev/null 2>&1; then
    why="this gh ($(gh --version 2>/dev/null | sed -n 1p)) has no 'attestation verify' command"
  elif [[ -z "${attestation_token}" ]]; then
    why="gh needs a token and the github-token input is empty"
  elif [[ -z "${action_repository}" ]]; then
    why="the action's repository is unknown"
  fi
  if [[ -n "${why}" ]]; then
    notice "verified ${asset} against the SHA-256 checksum of release ${release_tag} only; its build provenance attestation was not checked (${why})"
    return 0
  fi
  host="${GITHUB_SERVER_URL:-https://github.com}"
  host="${host#*://}"
  host="${host%%/*}"
  info "verifying the build provenance attestation of ${asset} (gh attestation verify)"
  if ! out="$(GH_TOKEN="${attestation_token}" GH_HOST="${host}" GH_PROMPT_DISABLED=1 \
    gh attestation verify "${file}" --repo "${action_repository}" \
    --signer-workflow "${action_repository}/.github/workflows/release.yml" 2>&1)"; then
    rm -rf -- "${work_dir}"
    work_dir=''
    bail "the build provenance attestation of ${asset} from release ${release_tag} does not verify, so it was not built by ${action_repository}'s release workflow (or the release was replaced); nothing was installed. gh said: ${out//$'\n'/ }"
  fi
  verified_by="its build provenance attestation (gh attestation verify) and the SHA-256 checksum"
}

# require_xz: the assets are .tar.xz (xz is 5.4 MB where gzip is 8.5 MB; README, "Measured").
# GNU tar (Linux runners) unpacks them with the xz program; bsdtar (macOS runners) reads xz itself.
# Called once the release is known to have the asset: without a release the build fallback
# needs no xz, with one a missing xz must fail rather than build around the release.
require_xz() {
  [[ "$(tar --version 2>/dev/null)" == *bsdtar* ]] && return 0
  type -P xz >/dev/null && return 0
  rm -rf -- "${work_dir}"
  work_dir=''
  bail "unpacking ${asset} needs xz, which is not on this runner's PATH; install it before this step (package xz-utils on Debian/Ubuntu: sudo apt-get install -y xz-utils; xz on Fedora/RHEL/Alpine/Arch)"
}

# fetch_release: installs the release binary into the cache, or sets release_missing=1 when the
# release has no such asset. Always called outside any `if`/`||`, so that `set -e` stays in force.
release_missing=''
fetch_release() {
  local base asset url status expected actual member kind
  require_sha256
  require_glibc
  if [[ -n "${DEPLOY_ACTION_RELEASE_BASE_URL:-}" ]]; then
    base="${DEPLOY_ACTION_RELEASE_BASE_URL%/}"
  else
    if [[ -z "${action_repository}" ]]; then
      no_release_reason="the action's repository is unknown"
      release_missing=1
      return 0
    fi
    base="${GITHUB_SERVER_URL:-https://github.com}/${action_repository}/releases/download"
  fi
  case "${base}" in
    https://*) curl_proto="=https" ;;
    # Plain http only for a test server on loopback.
    http://127.0.0.1:* | http://127.0.0.1/*)
      if [[ -z "${DEPLOY_ACTION_RELEASE_BASE_URL:-}" ]]; then
        bail "refusing plain http download from ${base}"
      fi
      curl_proto="=http"
      ;;
    *) bail "refusing to download from ${base}: only https (or http://127.0.0.1 for tests) is allowed" ;;
  esac

  asset="${TOOL}-${target}.tar.xz"
  url="${base}/${release_tag}/${asset}"
  work_dir="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/deploy-action-install.XXXXXXXX")"

  info "downloading ${url}"
  if ! status="$(retry download "${url}" "${work_dir}/${asset}")"; then
    bail "could not download ${url} (network error after retries)"
  fi
  case "${status}" in
    200) ;;
    404)
      no_release_reason="release ${release_tag} has no asset ${asset} (HTTP 404)"
      rm -rf -- "${work_dir}"
      work_dir=''
      release_missing=1
      return 0
      ;;
    *) bail "downloading ${url} failed with HTTP ${status}" ;;
  esac
  require_xz
  if ! status="$(retry download "${url}.sha256" "${work_dir}/${asset}.sha256")"; then
    bail "could not download ${url}.sha256 (network error after retries)"
  fi
  if [[ "${status}" != 200 ]]; then
    # A release with a binary but no checksum is broken or tampered with: do not build around it.
    bail "release ${release_tag} has ${asset} but its checksum file ${asset}.sha256 answered HTTP ${status}"
  fi

  expected="$(awk 'NR == 1 { print tolower($1) }' "${work_dir}/${asset}.sha256")"
  if [[ ! "${expected}" =~ ^[0-9a-f]{64}$ ]]; then
    rm -rf -- "${work_dir}"
    bail "${asset}.sha256 does not hold a SHA-256 checksum"
  fi
  actual="$(sha256_of "${work_dir}/${asset}")"
  if [[ "${actual}" != "${expected}" ]]; then
    rm -rf -- "${work_dir}"
    work_dir=''
    bail "checksum mismatch for ${asset} from release ${release_tag}: expected ${expected}, got ${actual}; the download was deleted and nothing was installed"
  fi
  info "verified sha256 ${actual} of ${asset}"

  # The archive must hold exactly one regular file, deploy-action, at its top level.
  member="$(tar -tJf "${work_dir}/${asset}")" || bail "${asset} is not a readable tar.xz archive"
  case "${member}" in
    "${TOOL}" | "./${TOOL}") ;;
    *) bail "${asset} must contain only ${TOOL}, found: ${member//$'\n'/, }" ;;
  esac
  mkdir "${work_dir}/x"
  tar --no-same-owner -xJf "${work_dir}/${asset}" -C "${work_dir}/x" "${member}" ||
    bail "${asset} is truncated or corrupt: tar could not extract ${TOOL}"
  if [[ -L "${work_dir}/x/${TOOL}" || ! -f "${work_dir}/x/${TOOL}" ]]; then
    bail "${TOOL} in ${asset} is not a regular file"
  fi
  kind="$(binary_kind "${work_dir}/x/${TOOL}")"
  if [[ "${kind}" != "${want_kind}" ]]; then
    rm -rf -- "${work_dir}"
    work_dir=''
    bail "${asset} from release ${release_tag} holds ${kind}, not the ${want_kind} binary this ${runner_os}/${runner_arch} runner needs; the asset is wrong or was tampered with, and nothing was installed"
  fi
  verify_attestation "${work_dir}/${asset}" "${asset}"

  # Install into the cache; the marker goes last so a half-written dir is never used.
  rm -rf -- "${cache_dir}" "${cache_marker}"
  mkdir -p -- "${cache_dir}"
  mv -- "${work_dir}/x/${TOOL}" "${cache_dir}/${TOOL}"
  chmod 0755 "${cache_dir}/${TOOL}"
  if ! "${cache_dir}/${TOOL}" --version >/dev/null 2>&1; then
    rm -rf -- "${cache_dir}"
    bail "the downloaded ${TOOL} (${target}) does not run on this runner"
  fi
  : >|"${cache_marker}"
  rm -rf -- "${work_dir}"
  work_dir=''
  info "verified ${asset} by ${verified_by}"
}

build_from_source() {
  local build_target bin_dir
  if ! type -P cargo >/dev/null; then
    bail "no release binary to install (${no_release_reason}) and cargo is not installed to build one; use a release tag such as v${package_version%%.*}, or install Rust before this step"
  fi
  notice "building deploy-action ${package_version} from source (${no_release_reason}); this takes a few minutes"
  build_target="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/deploy-action-build"
  printf '::group::cargo build --release --locked\n' >&2
  CARGO_TARGET_DIR="${build_target}" cargo build --release --locked \
    --manifest-path "${action_path}/Cargo.toml" --bin "${TOOL}" >&2 ||
    bail "cargo build of deploy-action from ${action_path} failed"
  printf '::endgroup::\n' >&2
  # Not put into the tool cache: a build from an arbitrary ref must not pass for a release.
  bin_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/deploy-action-bin"
  mkdir -p -- "${bin_dir}"
  install -m 0755 "${build_target}/release/${TOOL}" "${bin_dir}/${TOOL}"
  bin_path="${bin_dir}/${TOOL}"
}

bin_path=''
if [[ -f "${cache_marker}" && -x "${cache_dir}/${TOOL}" ]]; then
  info "using ${TOOL} ${version} (${cache_arch}) from the tool cache"
  bin_path="${cache_dir}/${TOOL}"
elif [[ -n "${release_tag}" ]]; then
  fetch_release
  if [[ -z "${release_missing}" ]]; then
    bin_path="${cache_dir}/${TOOL}"
    info "installed ${TOOL} ${release_tag} (${target}) into the tool cache"
  else
    build_from_source
  fi
else
  build_from_source
fi

# ---- cargo-lambda -----------------------------------------------------------------------------
# Needed only when this command builds a Rust app and the runner lacks it.
extra_path=''
command_input="${INPUT_COMMAND:-deploy}"
build_input="${INPUT_BUILD:-auto}"
source_dir="${INPUT_SOURCE:-.}"
needs_cargo_lambda=''
if [[ -z "${INPUT_ARTIFACT:-}" ]] && [[ "${command_input}" == deploy || "${command_input}" == package ]]; then
  if [[ "${build_input}" == rust ]] || [[ "${build_input}" == auto && -f "${source_dir}/Cargo.toml" ]]; then
    needs_cargo_lambda=1
  fi
fi
if [[ -n "${needs_cargo_lambda}" ]] && ! type -P cargo-lambda >/dev/null; then
  venv="${tool_cache}/cargo-lambda/${CARGO_LAMBDA_VERSION}/${cache_arch}"
  if [[ ! -f "${venv}.complete" || ! -x "${venv}/bin/cargo-lambda" ]]; then
    type -P python3 >/dev/null || bail "a Rust build needs cargo-lambda, and installing it needs python3"
    printf '::group::pip install cargo-lambda==%s\n' "${CARGO_LAMBDA_VERSION}" >&2
    rm -rf -- "${venv}" "${venv}.complete"
    python3 -m venv -- "${venv}" >&2 || bail "python3 -m venv ${venv} failed"
    retry "${venv}/bin/python" -m pip install --disable-pip-version-check --quiet \
      "cargo-lambda==${CARGO_LAMBDA_VERSION}" "ziglang==${ZIGLANG_VERSION}" >&2 ||
      bail "pip install cargo-lambda==${CARGO_LAMBDA_VERSION} ziglang==${ZIGLANG_VERSION} failed"
    printf '::endgroup::\n' >&2
    : >|"${venv}.complete"
  fi
  extra_path="${venv}/bin"
  info "using cargo-lambda ${CARGO_LAMBDA_VERSION} from ${extra_path}"
fi

# ---- hand over --------------------------------------------------------------------------------
bin_dir="${bin_path%/*}"
if [[ -n "${GITHUB_PATH:-}" ]]; then
  # Later steps of the job can call deploy-action (e.g. `deploy-action status`).
  printf '%s\n' "${bin_dir}" >>"${GITHUB_PATH}"
fi
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  {
    printf 'bin=%s\n' "${bin_path}"
    printf 'extra-path=%s\n' "${extra_path}"
  } >>"${GITHUB_OUTPUT}"
fi
info "deploy-action is ${bin_path}"
