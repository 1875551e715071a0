-- The web app's browser sessions: the page never holds a token. `POST /app/session` (a
-- pasted token) or `POST /app/dev-login` opens one and sets the `almanac_session` cookie,
-- whose 256-bit random id is stored only as its SHA-256 digest. A session carries its user
-- and ends at its token's expiry (at most 7 days), or when `DELETE /app/session` ends it.
-- Only the API's own connection reads it: row-level security is on with no policy, so a
-- user's transaction (role almanac_app) sees no session at all.
create table web_sessions (
    id_digest   bytea primary key check (octet_length(id_digest) = 32),
    user_id     uuid not null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null
);

create index web_sessions_user on web_sessions (user_id, created_at);
create index web_sessions_expiry on web_sessions (expires_at);

alter table web_sessions enable row level security;
revoke all on web_sessions from almanac_app;
