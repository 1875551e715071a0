#!/usr/bin/env bash
# Runs one API and one worker in the foreground for `make run` (Ctrl-C stops both).
# Expects DATABASE_URL and REDIS_URL (from services.sh) and built debug binaries.
set -euo pipefail

bin="${ALMANAC_BIN_DIR:-${CARGO_TARGET_DIR:-target}/debug}"
export LOG_FORMAT=${LOG_FORMAT:-pretty}
export RUST_LOG=${RUST_LOG:-info}
export FETCH_ALLOW_PRIVATE_NETWORKS=${FETCH_ALLOW_PRIVATE_NETWORKS:-true}
# The web app's "Sign in as a new user" button: development only, never set elsewhere.
export DEV_LOGIN=${DEV_LOGIN:-true}
# Digests go to .data/outbox as .eml files (the web app opens them) unless a real
# provider is configured.
if [ -z "${EMAIL_PROVIDER:-}${SMTP_URL:-}${RESEND_API_KEY:-}" ]; then
  export EMAIL_PROVIDER=outbox
fi
# Anyone may sign in by an emailed link here (the outbox holds it; the sign-in page opens
# it). In production the default is `invite`.
export SIGN_UP=${SIGN_UP:-open}
# A development machine: without JWT_SECRET the binaries sign with a development secret
# (in production they refuse to start without a strong one).
export ALMANAC_DEV=${ALMANAC_DEV:-true}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if [ -z "${API_ADDR:-}" ]; then
  port=8080
  while port_open 127.0.0.1 "$port"; do port=$((port + 1)); done
  [ "$port" = 8080 ] || echo "run: port 8080 is taken; using $port" >&2
  export API_ADDR="127.0.0.1:$port"
fi
if [ -z "${METRICS_ADDR:-}" ]; then
  port=9464
  while port_open 127.0.0.1 "$port"; do port=$((port + 1)); done
  export METRICS_ADDR="127.0.0.1:$port"
fi
if [ -z "${WORKER_METRICS_ADDR:-}" ]; then
  port=9091
  while port_open 127.0.0.1 "$port"; do port=$((port + 1)); done
  export WORKER_METRICS_ADDR="127.0.0.1:$port"
fi

# Publishing: without any platform's app credentials, the API serves a fake of every
# platform under /sandbox (PLATFORM_SANDBOX; `make run` builds the binaries with the
# `sandbox` feature that has them), so that channels can be connected, dry-run and published
# to on this machine; nothing is posted anywhere.
# Which platforms have their app's credentials is the registry's to say (the one list).
if [ -z "${PLATFORM_SANDBOX:-}" ] && [ -z "$("$bin/almanac-api" platforms --configured)" ]; then
  export PLATFORM_SANDBOX=true
fi
if [ "${PLATFORM_SANDBOX:-}" = true ]; then
  export PUBLISH_SERVICE_ENABLED=${PUBLISH_SERVICE_ENABLED:-true}
  publishing="a sandbox: every platform a fake served by the API, nothing posted"
else
  publishing="the platforms configured"
fi

# Channels' tokens are sealed with TOKEN_ENCRYPTION_KEY: a development key is made once
# and kept under .data/ (never committed), so connected channels survive a restart.
if [ -z "${TOKEN_ENCRYPTION_KEY:-}" ]; then
  mkdir -p .data
  [ -s .data/token.key ] || head -c 32 /dev/urandom | base64 > .data/token.key
  TOKEN_ENCRYPTION_KEY=$(cat .data/token.key)
  export TOKEN_ENCRYPTION_KEY
fi

"$bin/almanac-api" migrate

# Which AI provider answers: the one named, else a key picks OpenAI-compatible, else offline.
if [ -n "${AI_PROVIDER:-}" ]; then provider=$AI_PROVIDER
elif [ -n "${AI_API_KEY:-}${OPENROUTER_API_KEY:-}" ]; then provider=openai
else provider="offline templates; set AI_API_KEY or OPENROUTER_API_KEY for a real model"; fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$bin/almanac-worker" & pids+=($!)
"$bin/almanac-api" serve & pids+=($!)

base="http://$API_ADDR"
# Ready once the API answers its readiness check (Postgres and Redis reached), not merely
# once its port is open: the address printed last works when it is read.
ready() {
  if command -v curl >/dev/null; then curl -fsS -o /dev/null "$base/readyz" 2>/dev/null
  else (exec 3<>"/dev/tcp/${API_ADDR%:*}/${API_ADDR##*:}") 2>/dev/null; fi
}
for _ in $(seq 300); do
  ready && break
  sleep 0.1
done

user=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || python3 -c 'import uuid; print(uuid.uuid4())')
token=$("$bin/almanac-api" token --user "$user" --ttl 86400)
text=$(printf 'Photosynthesis turns light into chemical energy in plants. %.0s' $(seq 20))

cat <<MSG

Almanac is running (AI provider: $provider).
  Publishing to $publishing.
  API docs:  $base/docs
  OpenAPI:   $base/openapi.json
  Metrics:   http://$METRICS_ADDR/metrics   worker: http://$WORKER_METRICS_ADDR/metrics

Try it (a dev token for user $user, valid 24 h; the README's curl session starts here):
  export ALMANAC='$base'
  export TOKEN='$token'
  curl -s -X POST \$ALMANAC/api/ai/generations \\
    -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
    -d '{"source_text": "$text"}'
  curl -s \$ALMANAC/api/ai/generations -H "Authorization: Bearer \$TOKEN"

Press Ctrl-C to stop.

  Almanac is ready: $base/app/   (sign in with the development button)

MSG

wait -n "${pids[@]}"
