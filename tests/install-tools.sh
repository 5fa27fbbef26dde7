#!/usr/bin/env bash
# Installs what the binding tests need beyond Rust, idempotently: nothing is fetched
# when a tool is already there. Called by tests/run.sh (the README's test command), so
# `bash tests/run.sh` works on a machine with only Rust; .ci/run calls tests/run.sh
# unchanged.
#
#   - kotlinc: npm's `kotlin-compiler` package (global install; needs node and npm,
#     installed from Debian when missing);
#   - JNA: Debian's `libjna-java` (/usr/share/java/jna.jar), after `apt-get update`;
#   - java 17+ and python3: Debian packages, when missing;
#   - Apache httpd with mod_dav and htpasswd: Debian's `apache2` (the WebDAV mailbox
#     test); optional: without it that one test is skipped, saying so.
#
# System packages need root. Not root (or no apt-get): nothing is installed and the
# script says exactly what to install, then fails; $KOTLINC and $JNA_JAR point at tools
# installed elsewhere. CARAVAN_NO_INSTALL=1 never installs (only checks).
#
# Prints, on its last line of stdout, `KOTLINC=<path> JNA_JAR=<path>` for the caller.
set -euo pipefail

log() { echo "install-tools: $*" >&2; }

is_root=0
[[ $(id -u) -eq 0 ]] && is_root=1
can_apt=0
[[ $is_root -eq 1 ]] && command -v apt-get >/dev/null 2>&1 && can_apt=1
[[ ${CARAVAN_NO_INSTALL:-0} == 1 ]] && can_apt=0 && is_root=0

apt_updated=0
apt_install() {
  if [[ $can_apt -ne 1 ]]; then
    return 1
  fi
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()

# ----- python3 and java --------------------------------------------------------------
if ! command -v python3 >/dev/null 2>&1; then
  apt_install python3 || missing+=("python3 (apt-get install -y python3)")
fi
java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local v
  v="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
  [[ -n $v && $v -ge 17 ]]
}
if ! java_ok; then
  apt_install openjdk-17-jdk-headless || missing+=("java 17+ (apt-get install -y openjdk-17-jdk-headless)")
fi

# ----- kotlinc -------------------------------------------------------------------------
find_kotlinc() {
  if [[ -n ${KOTLINC:-} ]]; then
    echo "$KOTLINC"
  elif command -v kotlinc >/dev/null 2>&1; then
    command -v kotlinc
  elif command -v npm >/dev/null 2>&1 && [[ -x "$(npm root -g 2>/dev/null)/kotlin-compiler/bin/kotlinc" ]]; then
    echo "$(npm root -g 2>/dev/null)/kotlin-compiler/bin/kotlinc"
  fi
}
kotlinc="$(find_kotlinc)"
if [[ -z $kotlinc || ! -x $kotlinc ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm || true
  fi
  if command -v npm >/dev/null 2>&1 && [[ ${CARAVAN_NO_INSTALL:-0} != 1 ]] \
     && { [[ $is_root -eq 1 ]] || [[ -w "$(npm root -g 2>/dev/null)" ]]; }; then
    log "npm install -g kotlin-compiler"
    npm install -g --no-audit --no-fund --loglevel=error kotlin-compiler >/dev/null
  fi
  kotlinc="$(find_kotlinc)"
  [[ -n $kotlinc && -x $kotlinc ]] \
    || missing+=("kotlinc (npm install -g kotlin-compiler, or set KOTLINC)")
fi

# ----- JNA -----------------------------------------------------------------------------
jna="${JNA_JAR:-/usr/share/java/jna.jar}"
if [[ ! -f $jna ]]; then
  if [[ -z ${JNA_JAR:-} ]]; then
    apt_install libjna-java || true
  fi
  [[ -f $jna ]] || missing+=("JNA (apt-get update && apt-get install -y libjna-java, or set JNA_JAR)")
fi

# ----- Apache httpd with mod_dav (the WebDAV mailbox's real-server test) ----------------
# cli/tests/webdav.rs starts it on 127.0.0.1 with its own configuration; tests/run.sh
# makes that test fail (not skip) when Apache is here. Not installable (not root, no
# apt): the test says it was skipped, and nothing else depends on it.
if [[ ! -x /usr/sbin/apache2 || ! -f /usr/lib/apache2/modules/mod_dav.so ]] || ! command -v htpasswd >/dev/null 2>&1; then
  apt_install apache2 apache2-utils \
    || log "could not install apache2 (apt-get install -y apache2): the WebDAV mailbox test against Apache will be SKIPPED"
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $is_root -eq 0 ]]; then
    log "not root (or CARAVAN_NO_INSTALL=1): cannot install system packages."
  fi
  log "the binding tests need, and could not find or install:"
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "KOTLINC=$kotlinc JNA_JAR=$jna"
