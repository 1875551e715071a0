-- An organic week being planned: its seeds and options as the user left them (seed 003's
-- shapes), kept server-side so that a reload or another device finds them.
create table organic_week_drafts (
    user_id         uuid not null,
    brand_id        text not null,
    week_start      date not null,
    draft           jsonb not null,
    updated_at      timestamptz not null default now(),
    primary key (user_id, brand_id, week_start),
    foreign key (user_id, brand_id) references brand_profiles (user_id, id) on delete cascade
);

alter table organic_week_drafts enable row level security;
create policy organic_week_drafts_owner on organic_week_drafts
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select, insert, update, delete on organic_week_drafts to almanac_app;
