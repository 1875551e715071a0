#!/usr/bin/env bash
# The release smoke of seed 001 ("Ship flags off; run smoke"), against any deployment:
#
#   deploy/smoke.sh BASE_URL TOKEN
#
# TOKEN is a user's bearer token (a smoke user's: the run leaves two small calendars in
# its account and disconnects the channels it connects). It expects both runtime flags off
# (docs/operations.md, "Release sequence") and checks what seed 001 promises then:
#   1. calendar generation takes the legacy path, and two runs of one request stream the
#      same calendar apart from ids and times;
#   2. two exports of one saved calendar (ICS, CSV, JSON) are byte-identical;
#   3. a real publish request is answered with a deterministic dry run
#      (`reason: PUBLISH_DISABLED`): twice the same intents apart from ids and times,
#      every one `dry_run`, and no platform is called (the channels hold a made-up token).
# Needs curl and jq. Exits non-zero, saying what differed, on the first failure.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BASE_URL TOKEN" >&2
  exit 2
fi
base=${1%/}
token=$2
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "smoke: $tool is required" >&2; exit 2; }
done
work=$(mktemp -d)
channels=()
cleanup() {
  for channel in "${channels[@]}"; do
    curl -sS -o /dev/null -X DELETE -H "Authorization: Bearer $token" "$base/v1/channels/$channel" || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "smoke: FAILED: $*" >&2
  exit 1
}

# call METHOD PATH [JSON]: the body on stdout; fails on a status >= 400.
call() {
  local method=$1 path=$2 body=${3:-}
  local args=(-sS -X "$method" -H "Authorization: Bearer $token" -o "$work/body" -w '%{http_code}')
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  local status
  status=$(curl "${args[@]}" "$base$path") || fail "$method $path: no answer"
  [ "$status" -lt 400 ] || fail "$method $path answered $status: $(cat "$work/body")"
  cat "$work/body"
}

# Ids and times differ from run to run; everything else must not.
normalise='walk(if type == "object" then del(.createdAt, .updatedAt, .latencyMs, .requestId)
  elif type == "string" and test("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
  then "<id>" else . end)'

ready=$(curl -sS -o /dev/null -w '%{http_code}' "$base/readyz") || fail "$base does not answer"
[ "$ready" = 200 ] || fail "$base/readyz answered $ready (Postgres or Redis unreachable)"

# 1. Calendar generation, flag off: the legacy stream, deterministic.
request='{"channels": ["tiktok", "instagram"], "cadence": "daily", "start": "2031-03-03",
  "end": "2031-03-05", "constraints": {"topic": "release smoke", "timezone": "UTC", "timesOfDay": ["09:00"]}}'
for run in 1 2; do
  curl -sS -N -X POST "$base/v1/ai/calendar" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -H 'Accept: application/x-ndjson' \
    --max-time 60 --data "$request" >"$work/calendar$run.ndjson" || fail "calendar run $run"
  done_line=$(jq -c 'select(.type == "done")' "$work/calendar$run.ndjson")
  [ -n "$done_line" ] || fail "calendar run $run has no final frame: $(tail -c 500 "$work/calendar$run.ndjson")"
  mode=$(jq -r '.meta.mode' <<<"$done_line")
  [ "$mode" = legacy ] || fail "calendar generation took the $mode path: turn CALENDAR_SERVICE_ENABLED off first"
  [ "$(jq -r '.status' <<<"$done_line")" = succeeded ] || fail "calendar run $run: $done_line"
  jq -c "select(.type == \"entry\") | $normalise" "$work/calendar$run.ndjson" >"$work/entries$run"
done
[ -s "$work/entries1" ] || fail "the calendar stream held no entries"
cmp -s "$work/entries1" "$work/entries2" \
  || fail "two legacy runs of one request differ: $(diff "$work/entries1" "$work/entries2" | head -5)"
calendar=$(jq -r 'select(.type == "done") | .data.calendarId' "$work/calendar2.ndjson")
entries=$(wc -l <"$work/entries1")
echo "smoke: calendar generation (legacy) streamed the same $entries entries twice"

# 2. Exports are never gated, and the same calendar exports to the same bytes.
for format in ics csv json; do
  for n in 1 2; do call GET "/v1/calendars/$calendar/export?format=$format" >"$work/export$n.$format"; done
  cmp -s "$work/export1.$format" "$work/export2.$format" || fail "two $format exports of calendar $calendar differ"
done
echo "smoke: two exports of calendar $calendar are byte-identical (ics, csv, json)"

# 3. Publishing, flag off: a real request becomes a deterministic dry run, no adapter called.
for platform in tiktok instagram; do
  connected=$(call POST /v1/channels "{\"platform\": \"$platform\", \"accountId\": \"smoke-$platform\",
    \"accessToken\": \"smoke-token-not-valid-anywhere\", \"expiresIn\": 3600}")
  channels+=("$(jq -r '.data.id' <<<"$connected")")
done
call GET "/v1/calendars/$calendar" >"$work/saved.json"
for entry in $(jq -r '.data.entries[] | .id + "," + .channel' "$work/saved.json"); do
  media=https://cdn.example.com/smoke.jpg
  [ "${entry#*,}" = tiktok ] && media=https://cdn.example.com/smoke.mp4
  call PATCH "/v1/calendars/$calendar/entries/${entry%,*}" "{\"mediaUrl\": \"$media\"}" >/dev/null
done
for run in 1 2; do
  call POST "/v1/calendars/$calendar/publish" '{"all": true, "dryRun": false}' >"$work/publish$run.json"
  answer=$(jq -c '.data | {dryRun, reason, spooled}' "$work/publish$run.json")
  [ "$answer" = '{"dryRun":true,"reason":"PUBLISH_DISABLED","spooled":false}' ] \
    || fail "publish answered $answer: turn PUBLISH_SERVICE_ENABLED off first"
  statuses=$(jq -r '[.data.intents[].status] | unique | join(",")' "$work/publish$run.json")
  [ "$statuses" = dry_run ] || fail "publish intents are $statuses, not all dry_run: $(jq -c '[.data.intents[].error]' "$work/publish$run.json")"
  jq -S "$normalise | .data.intents" "$work/publish$run.json" >"$work/intents$run"
done
cmp -s "$work/intents1" "$work/intents2" \
  || fail "two dry runs differ: $(diff "$work/intents1" "$work/intents2" | head -5)"
intents=$(jq '.data.intents | length' "$work/publish1.json")
echo "smoke: publish answered the same $intents dry-run intents twice (PUBLISH_DISABLED)"
echo "smoke: ok"
