-- Webhook endpoints: where a user's events are delivered (Standard Webhooks). The secret
-- is sealed like a channel's tokens (publish::crypto, TOKEN_ENCRYPTION_KEY) and never read
-- back by the API after it is first shown; during a rotation the previous secret signs too,
-- until `previous_secret_until`.
create table webhook_endpoints (
    id                      uuid primary key,
    user_id                 uuid not null,
    url                     text not null check (length(url) <= 2048),
    events                  text[] not null check (cardinality(events) between 1 and 20),
    description             text check (length(description) <= 500),
    secret                  bytea not null,
    previous_secret         bytea,
    previous_secret_until   timestamptz,
    disabled_at             timestamptz,
    disabled_reason         text,
    created_at              timestamptz not null default now(),
    updated_at              timestamptz not null default now()
);
create index webhook_endpoints_user on webhook_endpoints (user_id, created_at);

alter table webhook_endpoints enable row level security;
create policy webhook_endpoints_owner on webhook_endpoints
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select, insert, update, delete on webhook_endpoints to almanac_app;
