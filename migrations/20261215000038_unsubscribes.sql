-- One-click unsubscribe (issue 37): an address that unsubscribed from a theme's digest is
-- removed from its schedule and kept here, so that later edits of the schedule cannot add
-- it back until the owner clears it. Kept by theme (a schedule deleted and made again
-- still respects it); addresses in lowercase.
create table email_suppressions (
    theme_id    uuid not null references themes (id) on delete cascade,
    user_id     uuid not null,
    address     text not null check (address = lower(address) and char_length(address) <= 254),
    created_at  timestamptz not null default now(),
    primary key (theme_id, address)
);

alter table email_suppressions enable row level security;
create policy email_suppressions_owner on email_suppressions
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select, delete on email_suppressions to almanac_app;
