-- Who last changed a row people edit together: `user_id` stays the person who made it,
-- `updated_by` is the person on whose behalf it last changed (a request's caller, or the
-- person whose job a worker runs). Rows made before this migration read as changed by
-- their maker.
create function stamp_updated_by() returns trigger
    language plpgsql
    as $$
begin
    new.updated_by := coalesce(app_user_id(), new.updated_by, new.user_id);
    return new;
end $$;

do $$
declare
    t text;
begin
    foreach t in array array[
        'brand_profiles', 'calendar_entries', 'calendars', 'cards', 'creative_assets',
        'evergreen_collections', 'organic_placements', 'organic_trends',
        'organic_week_drafts', 'platform_accounts', 'theme_schedules', 'themes',
        'webhook_endpoints'
    ] loop
        execute format('alter table %I add column updated_by uuid', t);
        execute format('update %I set updated_by = user_id', t);
        execute format('alter table %I alter column updated_by set not null', t);
        execute format(
            'create trigger %I before insert or update on %I for each row '
            'execute function stamp_updated_by()', t || '_updated_by', t);
    end loop;
end $$;
