-- Personal API keys (issue 53): a script, a CI job or an agent signs in with a key of its
-- own, `alm_` and 43 base64url characters (256 random bits), shown once at creation. Only
-- its SHA-256 digest is kept, with the first 8 characters after `alm_` (`prefix`) so that
-- its owner can tell keys apart. A key carries scopes (`read`, `write`, `publish`) and an
-- optional expiry; deleting it revokes it at once (every API process looks keys up here).
-- `last_used_at` is written at most once a minute per key.
create table api_keys (
    id            uuid primary key,
    user_id       uuid not null,
    name          text not null check (char_length(name) between 1 and 100),
    digest        bytea not null unique check (octet_length(digest) = 32),
    prefix        text not null check (prefix ~ '^alm_[A-Za-z0-9_-]{8}$'),
    scopes        text[] not null
                  check (cardinality(scopes) between 1 and 3
                         and scopes <@ array['read', 'write', 'publish']),
    created_at    timestamptz not null default now(),
    last_used_at  timestamptz,
    expires_at    timestamptz
);

create index api_keys_user on api_keys (user_id, created_at);

-- The owner lists, adds and deletes their keys in their own transaction; the API's own
-- connection finds a key by its digest before it knows the user.
alter table api_keys enable row level security;
create policy api_keys_owner on api_keys
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select, insert, delete on api_keys to almanac_app;
