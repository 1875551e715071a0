-- The publishing platforms: one row per adapter, written by the registry
-- (`publish::Platforms`) when the API starts (`store::publish::register_platforms`). A
-- connect's `state` names one of them, held by a foreign key instead of a CHECK list, so a
-- new platform is its adapter, registered, with no migration listing platforms.
create table platforms (
    name          text primary key check (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    label         text not null,
    registered_at timestamptz not null default now()
);

insert into platforms (name, label) select distinct platform, platform from oauth_states;

alter table oauth_states drop constraint oauth_states_platform_check;
alter table oauth_states add constraint oauth_states_platform_registered
    foreign key (platform) references platforms (name);

grant select on platforms to almanac_app;
