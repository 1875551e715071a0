-- Where a user is told what needs them (an endpoint disabled, a channel about to expire):
-- the `email` claim of their token (Supabase's tokens carry it), kept when a request shows
-- a new one. Only the API and the workers read it: row-level security with no policy.
create table user_contacts (
    user_id     uuid primary key,
    email       text not null check (length(email) between 3 and 320),
    updated_at  timestamptz not null default now()
);

alter table user_contacts enable row level security;
revoke all on user_contacts from almanac_app;
