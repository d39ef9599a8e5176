#!/usr/bin/env bash
# Checks the parts of the install scripts that do not need root or the network: finding the Debian
# mirror in apt's configuration, in both source formats, and the python3.14 root's version pin. Prints "N passed, N failed".
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../install-arm64-toolchain.sh
source "$HERE/install-arm64-toolchain.sh"
set +e
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { # name expected actual
  if [[ "$2" == "$3" ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $1: want '$2' got '$3'"; fi
}

cat >"$tmp/a.sources" <<'X'
# comment
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security

Types: deb-src deb
URIs:
 http://second.example/debian
 http://third.example/debian
Suites: bookworm-updates
 bookworm
Components: main
X
check "deb822 skips disabled, security, takes first URI" http://second.example/debian "$(deb822_uri "$tmp/a.sources" bookworm)"
check "deb822 no match" "" "$(deb822_uri "$tmp/a.sources" trixie)"
printf 'Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n' >"$tmp/src.sources"
check "deb822 deb-src only" "" "$(deb822_uri "$tmp/src.sources" bookworm)"

cat >"$tmp/sources.list" <<'X'
# deb http://commented.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib
X
check "one-line with options" http://mirror.example/debian "$(oneline_uri "$tmp/sources.list" bookworm)"

mkdir -p "$tmp/apt/sources.list.d"
cp "$tmp/sources.list" "$tmp/apt/"
check "sources.list fallback" http://mirror.example/debian "$(debian_mirror "$tmp/apt" bookworm)"
cp "$tmp/a.sources" "$tmp/apt/sources.list.d/"
check ".sources preferred" http://second.example/debian "$(debian_mirror "$tmp/apt" bookworm)"
check "override" http://override.example/debian "$(DEPLOY_DEBIAN_MIRROR=http://override.example/debian debian_mirror "$tmp/apt")"
check "none found fails" "1" "$( (debian_mirror "$tmp/empty" bookworm >/dev/null 2>&1); echo $?)"

# make_root's version pin, with a stand-in debootstrap that "downloads" one small package.
fakedeb() { # name version dir
  mkdir -p "$3/pkg/DEBIAN" "$3/pkg/usr/bin"
  printf 'Package: %s\nVersion: %s\nArchitecture: arm64\nMaintainer: t <t@t>\nDescription: t\n' "$1" "$2" >"$3/pkg/DEBIAN/control"
  printf '#!/bin/sh\n' >"$3/pkg/usr/bin/$1"; chmod +x "$3/pkg/usr/bin/$1"
  dpkg-deb --build "$3/pkg" "$3/${1}_${2}_arm64.deb" >/dev/null
}
debootstrap() { # --foreign --arch --variant --include suite target mirror [script]
  mkdir -p "$6/var/cache/apt/archives"; cp "$debs/"*.deb "$6/var/cache/apt/archives/"
}
nice() { shift 2; "$@"; }
# (Not $tmp inside: make_root has a local of that name.)
debs="$tmp/debs"; mkdir -p "$debs"; fakedeb python3.14 3.14.8-1 "$debs"
TOOLS="$tmp/tools"; export TOOLS
check "pinned version accepted" "0" "$( (DEPLOY_DEBIAN_MIRROR=http://m.example make_root "$tmp/tools/r1" forky python3.14 sid 3.14.8-1 2>/dev/null); echo $?)"
check "root made" "yes" "$([[ -x "$tmp/tools/r1/usr/bin/python3.14" ]] && echo yes)"
out="$( (DEPLOY_DEBIAN_MIRROR=http://m.example make_root "$tmp/tools/r2" forky python3.14 sid 3.14.7-2) 2>&1)"
check "a newer revision of the minor used, and said" "1" "$([[ "$out" == *"forky now has python3.14 3.14.8-1 (this script was written against 3.14.7-2)"* ]] && echo 1)"
check "root made with it" "yes" "$([[ -x "$tmp/tools/r2/usr/bin/python3.14" ]] && echo yes)"
out="$( (DEPLOY_DEBIAN_MIRROR=http://m.example make_root "$tmp/tools/r3" forky python3.14 sid 3.15.0-1) 2>&1)"
check "another minor refused" "1" "$([[ "$out" == *"forky now has python3.14 3.14.8-1, this script pins 3.15.0-1"* ]] && echo 1)"
check "no root left on refusal" "no" "$([[ -e "$tmp/tools/r3" ]] && echo yes || echo no)"

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
