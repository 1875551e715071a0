-- A platform account's `platform` was held to a list (seed 003's five platforms), so a
-- new publishing platform needed a migration naming it. The list moves to the code that
-- writes the rows: the organic library accepts seed 003's platforms (its request's enum),
-- a channel's connect or import the registry's (`publish::Platforms`). The column keeps
-- the shape every platform name has (the `platforms` table's).
alter table platform_accounts drop constraint platform_accounts_platform_check;
alter table platform_accounts add constraint platform_accounts_platform_name
    check (platform ~ '^[a-z][a-z0-9_]{0,39}$');
