#!/usr/bin/env bash
# Installs the real peers the interop tests (crate `swim-interop`) run against,
# on Debian 12 as root (CI) — idempotent, safe to run again:
#   * Go and the `serf` agent from Debian testing (pinned low, so nothing else
#     is upgraded unless named);
#   * memberlist 0.5.0 and its dependencies as Go *source*, from Debian's
#     -dev packages downloaded and unpacked (never installed: installing
#     golang-github-hashicorp-memberlist-dev pulls ~200 packages including an
#     openssl that breaks the system's) into $SWIM_INTEROP_DIR (default
#     /opt/swim-interop), so the Go test peer in interop/go-peer builds offline
#     in GOPATH mode.
set -euo pipefail

DIR="${SWIM_INTEROP_DIR:-/opt/swim-interop}"
SUITE=forky
GO_SRC_PKGS=(
  golang-github-hashicorp-memberlist-dev
  golang-github-armon-go-metrics-dev
  golang-github-google-btree-dev
  golang-github-hashicorp-go-msgpack-dev
  golang-github-hashicorp-go-multierror-dev
  golang-github-hashicorp-go-sockaddr-dev
  golang-github-miekg-dns-dev
  golang-github-hashicorp-errwrap-dev
  golang-golang-x-net-dev
  golang-golang-x-sys-dev
  golang-github-hashicorp-go-immutable-radix-dev
  golang-github-hashicorp-golang-lru-dev
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

have_go() { command -v go >/dev/null 2>&1 && go version >/dev/null 2>&1; }
have_serf() { command -v serf >/dev/null 2>&1; }
have_src() {
  [ -f "$DIR/gocode/src/github.com/hashicorp/memberlist/memberlist.go" ] &&
    [ -f "$DIR/.complete" ] && [ "$(cat "$DIR/.complete")" = "${GO_SRC_PKGS[*]}" ]
}

if have_go && have_serf && have_src; then
  echo "install-interop-peers: already installed ($(go version); serf at $(command -v serf); sources in $DIR)"
  exit 0
fi

# The Debian mirror this machine already uses for its main archive (one-line
# or deb822 sources), so the script names no host of its own.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'tolower($1) == "uris:" && $2 !~ /security/ { print $2; exit }' "$f"
  done
}

export DEBIAN_FRONTEND=noninteractive
if ! grep -rqs "^deb .* $SUITE main" /etc/apt/sources.list.d/; then
  MIRROR="$(debian_mirror | grep -m1 'debian/*$' || true)"
  if [ -z "$MIRROR" ]; then
    echo "install-interop-peers: no Debian mirror found in /etc/apt/sources.list*" >&2
    exit 1
  fi
  echo "deb $MIRROR $SUITE main" | $SUDO tee /etc/apt/sources.list.d/$SUITE.list >/dev/null
fi
if [ ! -f /etc/apt/preferences.d/$SUITE.pref ]; then
  printf 'Package: *\nPin: release n=%s\nPin-Priority: 100\n' "$SUITE" |
    $SUDO tee /etc/apt/preferences.d/$SUITE.pref >/dev/null
fi
$SUDO apt-get update -qq

if ! have_go || ! have_serf; then
  $SUDO apt-get install -y -qq -t "$SUITE" --no-install-recommends golang-go serf
  # The package enables a serf.service; the tests start their own agents.
  if [ -d /run/systemd/system ]; then $SUDO systemctl disable --now serf.service >/dev/null 2>&1 || true; fi
fi

if ! have_src; then
  $SUDO mkdir -p "$DIR"
  tmp="$(mktemp -d)"
  chmod 0777 "$tmp" # apt-get download drops root to _apt
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq -t "$SUITE" "${GO_SRC_PKGS[@]}")
  $SUDO rm -rf "$DIR/root" "$DIR/gocode"
  for deb in "$tmp"/*.deb; do
    $SUDO dpkg -x "$deb" "$DIR/root"
  done
  $SUDO mv "$DIR/root/usr/share/gocode" "$DIR/gocode"
  $SUDO rm -rf "$DIR/root"
  echo "${GO_SRC_PKGS[*]}" | $SUDO tee "$DIR/.complete" >/dev/null
fi

echo "install-interop-peers: $(go version); serf: $(serf version | head -1); memberlist source in $DIR/gocode"
