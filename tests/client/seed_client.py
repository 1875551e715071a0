"""A client written from the seeds' text alone (../shared/seeds/), not from the OpenAPI document.

Usage: seed_client.py <base url> <token> <worker pid>

Each flow sends what its seed says a client sends (the seed's paths, headers and bodies, and
nothing else: no `Accept`, no `Prefer`) and reads what the seed says comes back. It uses the
standard library only, as a client of the seeds' era would use `fetch`. Where a seed needs data
it does not say how to create (seed 003's brand library, seed 004's theme), the client creates
it through Almanac's own endpoints, and says so. The one step no seed client takes, making a
week fail, is `make_week_fail`: it freezes the only worker (its pid is given) while the brand
goes, so the week's run is gone when the worker takes it.

Every flow prints `ok <seed> <what>` as it passes; any difference from the seed is an
assertion error naming what was sent and what came back.
"""

import http.client
import json
import os
import signal
import sys
import time
import urllib.parse

BASE, TOKEN, WORKER_PID = sys.argv[1], sys.argv[2], int(sys.argv[3])
_url = urllib.parse.urlsplit(BASE)
SEED_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def connection():
    return http.client.HTTPConnection(_url.hostname, _url.port, timeout=60)


def send(method, path, body=None, headers=None):
    """One request; returns (status, headers, parsed JSON or text or None)."""
    conn = connection()
    payload = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=payload, headers=SEED_HEADERS if headers is None else headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    content_type = response.getheader("Content-Type", "")
    if raw and "json" in content_type:
        parsed = json.loads(raw)
    else:
        parsed = raw.decode() if raw else None
    return response.status, response, parsed


def open_stream(method, path, body):
    """Sends a request with the seed's headers and returns the open response."""
    conn = connection()
    conn.request(method, path, body=json.dumps(body).encode(), headers=SEED_HEADERS)
    return conn.getresponse()


def sse_events(response):
    """Seed 000's stream as (event, data) pairs; comment lines are keep-alives, skipped."""
    event, data = "message", []
    while True:
        line = response.readline()
        if not line:
            return
        line = line.decode().rstrip("\r\n")
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)


def ndjson_lines(response):
    """Seed 003's stream: one JSON object a line."""
    while True:
        line = response.readline()
        if not line:
            return
        if line.strip():
            yield json.loads(line)


def ok(seed, what):
    print(f"ok {seed} {what}", flush=True)


# ---------------------------------------------------------------------------------------------
# Seed 000: POST /v1/ai/calendar, a streaming endpoint with the { data, error, meta } envelope.
# ---------------------------------------------------------------------------------------------


def calendar_run(body):
    """Posts a calendar request with only the seed's headers; returns (entries, diffs, final)."""
    response = open_stream("POST", "/v1/ai/calendar", body)
    assert response.status == 200, (response.status, response.read())
    content_type = response.getheader("Content-Type", "")
    assert content_type.startswith("text/event-stream"), content_type
    entries, diffs, frames = [], [], []
    for event, frame in sse_events(response):
        # Every frame is the standard envelope.
        assert {"data", "error", "meta"} <= frame.keys(), (event, frame)
        frames.append(frame)
        if frame["meta"].get("done"):
            break
        if event == "entry":
            entries.append(frame["data"])
        elif event == "diff":
            diffs.append(frame["data"])
    response.close()
    assert frames and frames[-1]["meta"].get("done") is True, f"no final frame: {frames[-3:]}"
    assert all(not f["meta"].get("done") for f in frames[:-1]), "one final frame, last"
    return entries, diffs, frames[-1]


def seed_000():
    body = {
        "channels": ["Instagram", "TikTok"],
        "cadence": "daily",
        "start": "2027-01-04T09:00:00Z",
        "end": "2027-01-10",
    }
    entries, diffs, final = calendar_run(body)
    assert final["error"] is None, final
    summary = final["data"]
    assert summary["status"] == "succeeded", summary
    calendar_id = summary["calendarId"]
    assert isinstance(calendar_id, str) and calendar_id, summary
    # Both channels, every day from the 4th to the 10th, both ends included.
    days = sorted({e["date"] for e in entries})
    assert days == [f"2027-01-{d:02}" for d in range(4, 11)], days
    assert {e["channel"] for e in entries} == {"instagram", "tiktok"}, entries
    assert len(entries) == summary["entries"] == 14, (len(entries), summary)
    assert len({e["key"] for e in entries}) == len(entries), "each entry once"
    assert diffs == [], "a first run has no diff"
    for field in ("latencyMs", "tokens", "calendarId"):
        assert field in summary, (field, summary)
    ok("000", f"streamed {len(entries)} entries then a final frame with meta.done")

    # Regeneration with the calendar's id: a diff of added, updated and removed.
    again = dict(body, calendarId=calendar_id, end="2027-01-12")
    entries2, diffs2, final2 = calendar_run(again)
    assert final2["error"] is None and final2["data"]["status"] == "succeeded", final2
    assert final2["data"]["calendarId"] == calendar_id, final2
    assert len(diffs2) == 1, diffs2
    diff = diffs2[0]
    for kind in ("added", "updated", "removed"):
        assert isinstance(diff[kind], list), (kind, diff)
    # A change is {id, key, conflict, before, after}: the entry before and after it.
    added_days = sorted({c["after"]["date"] for c in diff["added"]})
    assert added_days == ["2027-01-11", "2027-01-12"], diff["added"]
    assert len(diff["added"]) == 4, diff["added"]
    assert diff["removed"] == [], diff["removed"]
    assert all(c["before"] is None for c in diff["added"]), diff["added"]
    old_keys = {e["key"] for e in entries}
    assert {c["key"] for c in diff["updated"]} <= old_keys, diff["updated"]
    assert len(entries2) == 18, len(entries2)
    ok("000", f"regenerated: {len(diff['added'])} added, {len(diff['updated'])} updated, 0 removed")

    # The envelope's error on a payload the seed's DTO refuses.
    status, _, refused = send("POST", "/v1/ai/calendar", dict(body, cadence="hourly"))
    assert status == 400, (status, refused)
    assert refused["data"] is None and refused["error"]["code"], refused
    # A calendarId that is not the caller's is not found, whatever its shape.
    status, _, missing = send("POST", "/v1/ai/calendar", dict(body, calendarId="cal-42"))
    assert status == 404, (status, missing)
    ok("000", "refusals in the envelope")


# ---------------------------------------------------------------------------------------------
# Seed 002: POST /api/ai/generations, 202 {generation_id, status: pending}, then poll.
# ---------------------------------------------------------------------------------------------


def seed_002():
    source_text = ("Photosynthesis turns light into chemical energy in plants. " * 20)[:1000]
    assert len(source_text) == 1000
    status, _, accepted = send("POST", "/api/ai/generations", {"source_text": source_text})
    assert status == 202, (status, accepted)
    assert accepted["status"] == "pending", accepted
    generation_id = accepted["generation_id"]
    deadline = time.monotonic() + 60
    while True:
        status, _, generation = send("GET", f"/api/ai/generations/{generation_id}")
        assert status == 200, (status, generation)
        if generation["status"] in ("succeeded", "failed"):
            break
        assert generation["status"] in ("pending", "running"), generation
        assert time.monotonic() < deadline, f"still {generation['status']}"
        time.sleep(0.1)
    assert generation["status"] == "succeeded", generation
    assert generation["ai_metadata"], generation
    ok("002", "submitted and polled to succeeded")

    status, _, refused = send("POST", "/api/ai/generations", {"source_text": "too short"})
    assert status == 400, (status, refused)
    status, _, refused = send(
        "POST",
        "/api/ai/generations",
        {"source_text": source_text},
        headers={"Content-Type": "application/json"},
    )
    assert status == 401, (status, refused)
    ok("002", "400 for a short text, 401 without a token")


# ---------------------------------------------------------------------------------------------
# Seed 003: POST /api/organic/generate-calendar, an NDJSON stream of four event types.
# ---------------------------------------------------------------------------------------------

EXAMPLE = {
    "brandProfileId": "brand_123",
    "weekStart": "2026-01-26",
    "timezone": "America/Los_Angeles",
    "platformAccountIds": {"instagram": "ig_123", "linkedin": "li_456"},
    "placements": [
        {
            "placementId": "seed-2026-01-26-trend-101",
            "trendId": "trend-101",
            "dayId": "2026-01-26",
            "scheduledAt": "2026-01-26T17:00:00.000Z",
            "timeLabel": "9:00 AM",
            "platform": "instagram",
            "accountId": "ig_123",
            "seedSource": "trend",
            "desiredFormat": "reel",
        }
    ],
    "options": {
        "schedulePreset": "beta-launch",
        "includeNewsletter": True,
        "language": "en-US",
        "guidancePrompt": "Highlight the sustainability angle this week.",
        "preferredPlatforms": ["instagram", "linkedin"],
    },
}

SEED_003_TYPES = {"progress", "placement", "error", "complete"}


def create_library():
    """The brand, its accounts, the trend and an asset the example names. The seed does not
    say how they are made; these are Almanac's library endpoints."""
    for path, body in [
        ("/api/organic/brands", {"id": "brand_123", "name": "Leafy", "timezone": "America/Los_Angeles"}),
        ("/api/organic/brands/brand_123/accounts", {"platform": "instagram", "accountId": "ig_123"}),
        ("/api/organic/brands/brand_123/accounts", {"platform": "linkedin", "accountId": "li_456"}),
        (
            "/api/organic/trends",
            {"id": "trend-101", "kind": "trend", "title": "Sustainable swaps", "keywords": ["sustainability"]},
        ),
        (
            "/api/organic/assets",
            {"id": "asset_991", "kind": "video", "title": "Swap montage", "tags": ["sustainability"]},
        ),
    ]:
        status, _, answer = send("POST", path, body)
        assert status == 201, (path, status, answer)


def week_lines(response):
    assert response.status == 200, (response.status, response.read())
    lines = list(ndjson_lines(response))
    response.close()
    assert lines, "an empty stream"
    for line in lines:
        assert line["type"] in SEED_003_TYPES, line
    assert lines[-1]["type"] == "complete", lines[-3:]
    assert [l["type"] for l in lines].count("complete") == 1, "one complete"
    return lines


def make_week_fail(response_opened):
    """Harness, not seed: freezes the worker, opens the week, deletes its brand, thaws the
    worker. The worker then finds the week's run gone, and the week fails."""
    os.kill(WORKER_PID, signal.SIGSTOP)
    try:
        response = response_opened()
        status, _, answer = send("DELETE", "/api/organic/brands/brand_123")
        assert status == 204, (status, answer)
    finally:
        os.kill(WORKER_PID, signal.SIGCONT)
    return response


def seed_003():
    create_library()
    response = open_stream("POST", "/api/organic/generate-calendar", EXAMPLE)
    assert response.getheader("Content-Type", "").startswith("application/x-ndjson"), response.getheaders()
    lines = week_lines(response)
    types = [l["type"] for l in lines]
    assert "error" not in types, [l for l in lines if l["type"] == "error"]
    stages = {l.get("stage") for l in lines if l["type"] == "progress"}
    assert {"analyzing", "drafting", "finalizing"} <= stages, stages
    for line in lines:
        if line["type"] == "progress":
            assert isinstance(line["completed"], int) and isinstance(line["total"], int), line
    placements = [l["placement"] for l in lines if l["type"] == "placement"]
    ids = [p["placementId"] for p in placements]
    assert len(ids) == len(set(ids)), "each placement once"
    seeded = next(p for p in placements if p["placementId"] == "seed-2026-01-26-trend-101")
    assert seeded["schedule"]["dayId"] == "2026-01-26", seeded
    assert seeded["schedule"]["scheduledAt"] == "2026-01-26T17:00:00.000Z", seeded
    assert seeded["platform"] == {"name": "instagram", "accountId": "ig_123"}, seeded
    assert seeded["seed"] == {"trendId": "trend-101", "source": "trend"}, seeded
    assert seeded["content"]["type"] == "reel", seeded
    assert seeded["creative"]["assetIds"] == ["asset_991"], seeded
    hashtags = seeded["copy"]["hashtags"]
    assert {"high", "medium", "low"} <= hashtags.keys() and seeded["copy"]["caption"], seeded
    ok("003", f"the example streamed {len(placements)} placements then complete")

    # A week made to fail: exactly one error line, without placementId, right before complete.
    lines = week_lines(make_week_fail(lambda: open_stream("POST", "/api/organic/generate-calendar", EXAMPLE)))
    errors = [l for l in lines if l["type"] == "error"]
    assert len(errors) == 1, lines
    assert lines[-2] is errors[0], lines[-3:]
    assert "placementId" not in errors[0], errors[0]
    assert errors[0]["message"] and errors[0].get("code"), errors[0]
    assert not any(l["type"] == "placement" for l in lines), lines
    ok("003", f"a failed week said so: error {errors[0]['code']} then complete")


# ---------------------------------------------------------------------------------------------
# Seed 004: the theme's schedule (GET/PUT/DELETE /api/v1/themes/:id/schedule), then its email.
# ---------------------------------------------------------------------------------------------


def seed_004():
    # The seed's tests begin with a theme; Almanac's POST /api/v1/themes makes one.
    status, _, theme = send(
        "POST",
        "/api/v1/themes",
        {"name": "Tea", "sources": [{"type": "text", "value": "Matcha is whisked green tea. Chai is spiced tea."}]},
    )
    assert status == 201, (status, theme)
    path = f"/api/v1/themes/{theme['id']}/schedule"
    # The seed's E2E sends this header too.
    e2e_headers = dict(SEED_HEADERS, **{"X-Requested-With": "XMLHttpRequest"})

    status, _, schedule = send("GET", path)
    assert (status, schedule) == (200, None), (status, schedule)
    ok("004", "get_schedule_returns_null_when_none")

    status, _, schedule = send(
        "PUT",
        path,
        {"enabled": True, "days": ["mon", "fri"], "time_utc": "09:00", "emails": ["test@example.com"]},
        headers=e2e_headers,
    )
    assert status == 200, (status, schedule)
    assert schedule["days"] == ["mon", "fri"], schedule
    for field, kind in [
        ("id", str),
        ("theme_id", str),
        ("enabled", bool),
        ("days", list),
        ("time_utc", str),
        ("emails", list),
    ]:
        assert isinstance(schedule[field], kind), (field, schedule)
    assert schedule["theme_id"] == theme["id"] and schedule["last_run_at"] is None, schedule
    ok("004", "upsert_schedule_creates_schedule")

    for refused in [
        {"enabled": True, "days": ["mon"], "time_utc": "09:00", "emails": ["not-an-email"]},
        {"enabled": True, "days": ["funday"], "time_utc": "09:00", "emails": []},
        {"enabled": True, "days": ["mon"], "time_utc": "24:00", "emails": []},
        {"enabled": True, "days": ["mon"], "time_utc": "09:00", "emails": [f"r{i}@example.com" for i in range(4)]},
    ]:
        status, _, answer = send("PUT", path, refused)
        assert status == 422, (refused, status, answer)
    ok("004", "invalid emails, days, time and too many emails are 422")

    status, _, answer = send("GET", path, headers={})
    assert status == 401, (status, answer)
    ok("004", "schedule_requires_auth")

    status, _, answer = send("DELETE", path)
    assert status == 204, (status, answer)
    status, _, schedule = send("GET", path)
    assert (status, schedule) == (200, None), (status, schedule)
    ok("004", "delete_schedule_returns_204")

    # Due now, every day from midnight: the scheduler generates and emails it once.
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    recipients = ["ana@example.com", "ben@example.com"]
    status, _, schedule = send(
        "PUT", path, {"enabled": True, "days": every_day, "time_utc": "00:00", "emails": recipients}
    )
    assert status == 200, (status, schedule)
    deliveries_path = f"/api/v1/themes/{theme['id']}/deliveries"
    deadline = time.monotonic() + 60
    while True:
        status, _, deliveries = send("GET", deliveries_path)
        assert status == 200, (status, deliveries)
        if len(deliveries) == len(recipients) and all(d["status"] == "sent" for d in deliveries):
            break
        assert not any(d["status"] == "failed" for d in deliveries), deliveries
        assert time.monotonic() < deadline, deliveries
        time.sleep(0.2)
    for delivery in deliveries:
        status, response, email = send("GET", delivery["email_url"])
        assert status == 200 and response.getheader("Content-Type") == "message/rfc822", status
        assert f"To: {delivery['recipient']}" in email, email[:400]
    status, _, schedule = send("GET", path)
    assert schedule["last_run_at"] is not None, schedule
    ok("004", f"the schedule ran: {len(deliveries)} emails, one per recipient")


FLOWS = {"000": seed_000, "002": seed_002, "003": seed_003, "004": seed_004}

if __name__ == "__main__":
    for name in sys.argv[4:] or FLOWS:
        FLOWS[name]()
