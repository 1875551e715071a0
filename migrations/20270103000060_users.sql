-- People with an account (issue "People sign in"). A person's id is the `sub` of the
-- Supabase tokens they call with, and the session's user when they sign in by an emailed
-- link or single sign-on. `email` is set only by a used sign-in link or a verified single
-- sign-on email, never by a token's claim (`user_contacts` keeps the claim, for notices to
-- people who only ever call with a token). Addresses are kept lower-case and trimmed.
create table users (
    id                uuid primary key,
    email             text unique
                      check (email = lower(btrim(email)) and length(email) between 3 and 320),
    name              text check (length(name) between 1 and 100),
    language          text check (language in ('en', 'fr')),
    display_timezone  text check (length(display_timezone) between 1 and 64),
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now()
);

-- A person reads and edits their own row (`GET /v1/me`, `PATCH /v1/me`); the sign-in
-- routes and the workers use the owner's connection.
alter table users enable row level security;
grant select, insert, update on users to almanac_app;
create policy users_own on users
    using (id = app_user_id())
    with check (id = app_user_id());

-- Emailed sign-in links: the link's 256-bit token is kept only as its SHA-256 digest,
-- valid until `expires_at` (`SIGN_IN_TTL_MINUTES`) and used once. `user_id` is the account
-- it signs in to; null when the address has none yet and the sign-up rule let it have one
-- (the account is made when the link is used).
create table sign_in_tokens (
    digest      bytea primary key check (octet_length(digest) = 32),
    email       text not null check (email = lower(btrim(email)) and length(email) between 3 and 320),
    user_id     uuid,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    used_at     timestamptz
);

create index sign_in_tokens_expiry on sign_in_tokens (expires_at);
create index sign_in_tokens_email on sign_in_tokens (email) where used_at is null;

alter table sign_in_tokens enable row level security;
revoke all on sign_in_tokens from almanac_app;

-- Addresses invited to have an account (`almanac-api invite --email`): with
-- `SIGN_UP=invite` only they and existing users are sent a link. The account's id is
-- reserved here; the address becomes the account's when a link to it is used.
create table sign_up_invitations (
    email       text primary key check (email = lower(btrim(email)) and length(email) between 3 and 320),
    user_id     uuid not null references users (id) on delete cascade,
    created_at  timestamptz not null default now()
);

alter table sign_up_invitations enable row level security;
revoke all on sign_up_invitations from almanac_app;

-- Single sign-on identities: a person is found by the issuer and subject of their ID
-- token, linked to an existing account by a verified email on their first sign-in only.
create table oidc_identities (
    iss           text not null check (length(iss) between 1 and 2048),
    sub           text not null check (length(sub) between 1 and 255),
    user_id       uuid not null references users (id) on delete cascade,
    created_at    timestamptz not null default now(),
    last_seen_at  timestamptz not null default now(),
    primary key (iss, sub)
);

create index oidc_identities_user on oidc_identities (user_id);

alter table oidc_identities enable row level security;
revoke all on oidc_identities from almanac_app;
