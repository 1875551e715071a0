#!/usr/bin/env bash
# Installs what the end-to-end tests need beyond Rust, Postgres and Redis: the MCP SDK
# (`mcp`, pinned, in a virtual environment: the MCP server's tests), openapi-spec-validator
# (pinned, in a virtual environment: the served document is valid OpenAPI 3.0), moto's S3 server
# (pinned, in a virtual environment: the media store's `s3://` form), Python's
# `icalendar` and `vobject` (pinned; two independent RFC 5545 parsers for the calendar export
# and feed tests), `aiosmtpd` (a
# real SMTP server for the email tests), `openapi-python-client` (pinned; the generated
# client test), Schemathesis (pinned, in a virtual environment: the fuzzer gate), a headless browser (Debian's `chromium`) for the EventSource test, and
# `redis-server` itself (tests that restart Redis run their own), `promtool` (Debian's
# `prometheus`: the alert rules' unit tests), `kubernetes-validate` (pinned, from PyPI: the
# Kubernetes manifests against the Kubernetes schemas), `standardwebhooks` (pinned, from PyPI:
# the Standard Webhooks reference verifier, which checks every delivery's signature) and `jq` (the release smoke,
# deploy/smoke.sh). Does nothing when present.
set -euo pipefail

# Schemathesis, pinned with the hypothesis it works with (6.170 breaks its coverage phase),
# in a virtual environment of its own so that its dependencies meet no others.
fuzz_venv="$HOME/.cache/almanac-fuzz-venv"
fuzz_pins=(schemathesis==4.32.5 hypothesis==6.149.1)
if ! "$fuzz_venv/bin/python" -c 'import importlib.metadata as m, sys
sys.exit(not (m.version("schemathesis") == "4.32.5" and m.version("hypothesis") == "6.149.1"))' 2>/dev/null; then
  echo "test-deps: installing ${fuzz_pins[*]} (the fuzzer gate) into $fuzz_venv" >&2
  python3 -m venv "$fuzz_venv"
  "$fuzz_venv/bin/python" -m pip install --quiet "${fuzz_pins[@]}"
fi

# A virtual environment of its own at $1 holding the pinned package $2==$3 ($4: what it is
# for), made when it does not hold exactly that version.
pinned_venv() {
  local venv=$1 package=$2 version=$3 purpose=$4
  if ! "$venv/bin/python" -c "import importlib.metadata as m, sys
sys.exit(m.version('$package') != '$version')" 2>/dev/null; then
    echo "test-deps: installing $package==$version ($purpose) into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet "$package==$version"
  fi
}

# The official MCP SDK: the MCP server's tests drive it as an agent would.
pinned_venv "$HOME/.cache/almanac-mcp-venv" mcp 2.3.0 "the MCP SDK"
# A strict OpenAPI 3.0 validator: the served document must pass it.
pinned_venv "$HOME/.cache/almanac-openapi-venv" openapi-spec-validator 0.9.0 "a strict OpenAPI validator"
# Anki's own library: the apkg export is imported by it.
pinned_venv "$HOME/.cache/almanac-anki-venv" anki 26.9.3 "Anki's library"
# moto's S3 server: the media store's `s3://` form is tested against it.
moto_venv="$HOME/.cache/almanac-moto-venv"
if ! "$moto_venv/bin/python" -c 'import importlib.metadata as m, sys, flask_cors
sys.exit(m.version("moto") != "5.2.5")' 2>/dev/null; then
  echo "test-deps: installing moto[server]==5.2.5 (a local S3 server) into $moto_venv" >&2
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/python" -m pip install --quiet "moto[server]==5.2.5"
fi

# module to import = package to install from PyPI
for pair in icalendar=icalendar aiosmtpd=aiosmtpd \
  openapi_python_client=openapi-python-client==0.29.1 \
  kubernetes_validate=kubernetes-validate==1.37.0 \
  standardwebhooks=standardwebhooks==1.1.0 vobject=vobject==0.9.9; do
  module=${pair%%=*}
  package=${pair#*=}
  if ! python3 -c "import $module" 2>/dev/null; then
    echo "test-deps: installing Python's $package for the end-to-end tests" >&2
    python3 -m pip install --quiet --user "$package" 2>/dev/null \
      || python3 -m pip install --quiet --user --break-system-packages "$package"
  fi
done

packages=()
command -v redis-server >/dev/null || packages+=(redis-server)
command -v promtool >/dev/null || packages+=(prometheus)
command -v jq >/dev/null || packages+=(jq)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || packages+=(chromium)
command -v chromedriver >/dev/null || packages+=(chromium-driver)
if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "test-deps: install ${packages[*]} (the tests need them)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "test-deps: run as root or install Debian's ${packages[*]} (the tests need them)" >&2
    exit 0
  fi
fi
echo "test-deps: installing ${packages[*]} (Debian packages) for the tests" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null 2>&1 \
  || { $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null; }
