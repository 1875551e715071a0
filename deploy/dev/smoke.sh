#!/usr/bin/env bash
# Smoke test of `make run` as a user runs it: start it, use the token and URL it prints to
# submit a generation, poll it to `succeeded`, then stop everything with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/../.."

log=$(mktemp)
setsid make run >"$log" 2>&1 &
group=$!
stop() {
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

text=$(printf 'Photosynthesis turns light into chemical energy in plants. %.0s' $(seq 20))
accepted=$(curl -fsS -X POST "$base/api/ai/generations" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d "{\"source_text\": \"$text\"}")
id=$(sed -n 's/.*"generation_id":"\([^"]*\)".*/\1/p' <<<"$accepted")
[ -n "$id" ] || { echo "smoke: unexpected answer: $accepted" >&2; exit 1; }

for _ in $(seq 100); do
  status=$(curl -fsS "$base/api/ai/generations/$id" -H "Authorization: Bearer $token" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
  [ "$status" = succeeded ] && { echo "smoke: make run served generation $id end to end"; exit 0; }
  [ "$status" = failed ] && { echo "smoke: generation failed" >&2; exit 1; }
  sleep 0.2
done
echo "smoke: generation $id did not finish (status $status)" >&2
exit 1
