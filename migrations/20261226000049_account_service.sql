-- Where a channel's API is served, for a platform whose accounts live on many hosts: a
-- Bluesky account's PDS, named in the DID document its session answer carries. Null for
-- the platforms with one API host (their `<PREFIX>_API_BASE_URL`).
alter table platform_accounts add column service_url text
    check (service_url is null or (char_length(service_url) <= 2048 and service_url ~ '^https?://'));
