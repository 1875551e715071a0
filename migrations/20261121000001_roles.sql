-- Roles for row-level security (ARCHITECTURE.md section 3).
--
-- almanac_app: the role user requests switch to (SET LOCAL ROLE inside a transaction).
-- It has no BYPASSRLS and does not own tables, so every policy applies to it.
-- Workers connect as the owner of the schema (the service role) and are not bound by the
-- user policies.
--
-- Roles are cluster-wide and several databases (tests) may migrate at once, so creation
-- tolerates a concurrent creator.
do $$
begin
    if not exists (select from pg_roles where rolname = 'almanac_app') then
        begin
            create role almanac_app nologin nobypassrls;
        exception when duplicate_object or unique_violation then
            null;
        end;
    end if;
end
$$;

-- The connecting (owner) role must be able to SET ROLE almanac_app.
do $$
begin
    execute format('grant almanac_app to %I', current_user);
exception when duplicate_object or unique_violation or invalid_grant_operation then
    null;
end
$$;

grant usage on schema public to almanac_app;

-- The authenticated user of the current transaction, as Supabase's auth.uid().
create or replace function app_user_id() returns uuid
    language sql stable
    as $$ select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;

grant execute on function app_user_id() to almanac_app;
