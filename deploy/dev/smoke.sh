#!/usr/bin/env bash
# Smoke test of `make run` as a user runs it: start it, use the token and URL it prints to
# submit a generation and poll it to `succeeded`; then the release smoke of seed 001
# (deploy/smoke.sh) with both runtime flags turned off as docs/operations.md does it, and
# back to their defaults after; then stop everything with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/../.."

log=$(mktemp)
setsid make run >"$log" 2>&1 &
group=$!
api_bin="${CARGO_TARGET_DIR:-target}/debug/almanac-api"
flags_set=false
stop() {
  if $flags_set; then
    for flag in CALENDAR_SERVICE_ENABLED PUBLISH_SERVICE_ENABLED; do
      "$api_bin" flags reset "$flag" --note "release smoke done" >/dev/null || true
    done
  fi
  kill -TERM -- "-$group" 2>/dev/null || true
  wait "$group" 2>/dev/null || true
  rm -f "$log"
}
trap stop EXIT

for _ in $(seq 600); do
  grep -q "Press Ctrl-C" "$log" && break
  if ! kill -0 "$group" 2>/dev/null; then cat "$log"; echo "smoke: make run exited early" >&2; exit 1; fi
  sleep 0.5
done
grep -q "Press Ctrl-C" "$log" || { cat "$log"; echo "smoke: make run did not come up" >&2; exit 1; }

token=$(sed -n "s/^  export TOKEN='\(.*\)'$/\1/p" "$log")
base=$(sed -n 's|^  API docs: *\(.*\)/docs$|\1|p' "$log")
curl -fsS "$base/readyz" >/dev/null
# It said the first build takes a while, and it names the app's address last, after the
# rest of what it prints, once the API answers.
grep -q "the first build takes several minutes" "$log" \
  || { cat "$log"; echo "smoke: make run did not say the first build takes minutes" >&2; exit 1; }
grep -A2 "Press Ctrl-C" "$log" | grep -q "Almanac is ready: $base/app/" \
  || { cat "$log"; echo "smoke: make run did not name the app's address last" >&2; exit 1; }
curl -fsS -o /dev/null "$base/app/" || { echo "smoke: the app's address does not answer" >&2; exit 1; }

text=$(printf 'Photosynthesis turns light into chemical energy in plants. %.0s' $(seq 20))
accepted=$(curl -fsS -X POST "$base/api/ai/generations" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d "{\"source_text\": \"$text\"}")
id=$(sed -n 's/.*"generation_id":"\([^"]*\)".*/\1/p' <<<"$accepted")
[ -n "$id" ] || { echo "smoke: unexpected answer: $accepted" >&2; exit 1; }

for _ in $(seq 100); do
  status=$(curl -fsS "$base/api/ai/generations/$id" -H "Authorization: Bearer $token" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
  [ "$status" = succeeded ] && break
  [ "$status" = failed ] && { echo "smoke: generation failed" >&2; exit 1; }
  sleep 0.2
done
[ "$status" = succeeded ] || { echo "smoke: generation $id did not finish (status $status)" >&2; exit 1; }
echo "smoke: make run served generation $id end to end"

# The README's curl session as written, after the two `export` lines make run printed (in
# place of the README's own), as its reader pastes them.
printed=$(grep -E "^  export (ALMANAC|TOKEN)=" "$log" | sed 's/^  //')
session=$(awk '/^## A curl session/ { on = 1 } on && /^```sh$/ { inside = 1; next }
  inside && /^```$/ { exit } inside && !/^export (ALMANAC|TOKEN)=/' README.md)
[ "$(wc -l <<<"$printed")" = 2 ] && [ -n "$session" ] \
  || { echo "smoke: no curl session in the README, or make run printed no exports" >&2; exit 1; }
said=$(bash -euo pipefail -c "$printed
$session" 2>&1) || { echo "$said"; echo "smoke: the README's curl session failed" >&2; exit 1; }
for expected in '7 event: entry' '1 event: done' '"connected"' '"dry_run"' '"published"'; do
  grep -qF -- "$expected" <<<"$said" \
    || { echo "$said"; echo "smoke: the README's curl session did not say $expected" >&2; exit 1; }
done
echo "smoke: the README's curl session ran as written"

# Release: ship with the flags off (the runbook's commands), smoke, and check the API
# applied them first. `make run` found its database as services.sh says.
eval "$(deploy/dev/services.sh)"
flags_set=true
for flag in CALENDAR_SERVICE_ENABLED PUBLISH_SERVICE_ENABLED; do
  "$api_bin" flags set "$flag" off --note "release smoke" >/dev/null
done
# `make run` signs with the development secret (ALMANAC_DEV=true).
admin=$(ALMANAC_DEV=true "$api_bin" token --service-role --ttl 600)
for _ in $(seq 50); do
  applied=$(curl -fsS "$base/admin/flags" -H "Authorization: Bearer $admin" | jq -r '[.data.items[].state] | join(",")')
  [ "$applied" = off,off ] && break
  sleep 0.1
done
[ "$applied" = off,off ] || { echo "smoke: the API did not apply the flags (it says $applied)" >&2; exit 1; }
bash deploy/smoke.sh "$base" "$token"
