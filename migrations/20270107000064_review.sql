-- Review before publishing (docs/review.md).
--
-- `review_policies`: per connected channel (`channel_id`), else the workspace's (`channel_id`
-- null): `mode` `none` (publishing as before) or `always`, and up to three `steps`, each
-- `{name, approvers: {roles, userIds, guests}, required}` (`required`: how many of the step's
-- approvers must approve).
create table review_policies (
    id            uuid primary key,
    workspace_id  uuid not null default app_workspace_id(),
    user_id       uuid not null,
    channel_id    uuid references platform_accounts (id) on delete cascade,
    mode          text not null check (mode in ('none', 'always')),
    steps         jsonb not null default '[]' check (jsonb_typeof(steps) = 'array'
                      and jsonb_array_length(steps) <= 3),
    updated_by    uuid not null,
    updated_at    timestamptz not null default now()
);
create unique index review_policies_scope on review_policies
    (workspace_id, coalesce(channel_id, '00000000-0000-0000-0000-000000000000'::uuid));

alter table review_policies enable row level security;
create policy review_policies_workspace on review_policies
    using (workspace_id = app_workspace_id()) with check (workspace_id = app_workspace_id());
grant select, insert, update, delete on review_policies to almanac_app;

-- The policy that applies to `channel` in `workspace`: the channel's own, else the
-- workspace's; none (mode `none`, no steps) when neither is set.
create function review_policy(workspace uuid, channel uuid, out mode text, out steps jsonb)
    language sql stable
    as $$
    select coalesce(
               (select p.mode from review_policies p
                 where p.workspace_id = workspace and p.channel_id = channel),
               (select p.mode from review_policies p
                 where p.workspace_id = workspace and p.channel_id is null),
               'none'),
           coalesce(
               (select p.steps from review_policies p
                 where p.workspace_id = workspace and p.channel_id = channel),
               (select p.steps from review_policies p
                 where p.workspace_id = workspace and p.channel_id is null),
               '[]'::jsonb)
$$;
grant execute on function review_policy(uuid, uuid) to almanac_app;

-- The mode of the policy that applies to `channel` in `workspace` (as `review_policy`): a
-- single expression, so Postgres inlines it where an entry's or an intent's rows are read.
create function review_mode(workspace uuid, channel uuid) returns text
    language sql stable
    as $$
    select coalesce(
        (select p.mode from review_policies p
          where p.workspace_id = workspace and p.channel_id = channel),
        (select p.mode from review_policies p
          where p.workspace_id = workspace and p.channel_id is null),
        'none')
$$;
grant execute on function review_mode(uuid, uuid) to almanac_app;

-- An entry's connected channel: the one chosen, else its platform's only one in the
-- workspace (none when there are several or none).
create function entry_channel(p_workspace uuid, p_chosen uuid, p_platform text) returns uuid
    language sql stable
    as $$
    select coalesce(p_chosen,
        (select min(a.id::text)::uuid from platform_accounts a
          where a.workspace_id = p_workspace and a.platform = p_platform
         having count(*) = 1))
$$;
grant execute on function entry_channel(uuid, uuid, text) to almanac_app;

-- What a review approves: the words and media a post is made of (title, caption, hashtags,
-- call to action, media), hashed. The entry's time, channel and format are not part of it.
create function entry_content_hash(title text, caption text, hashtags text[],
        call_to_action text, media_url text, media_ids uuid[]) returns text
    language sql immutable
    as $$
    select encode(sha256(convert_to(jsonb_build_array(title, caption, to_jsonb(hashtags),
        call_to_action, media_url, to_jsonb(media_ids))::text, 'UTF8')), 'hex')
$$;
grant execute on function entry_content_hash(text, text, text[], text, text, uuid[]) to almanac_app;

-- An entry's connected channel (chosen in the composer, the queue or a publish's
-- `channels`); `channel` stays the platform's name.
alter table calendar_entries
    add column channel_id uuid references platform_accounts (id) on delete set null,
    -- Counts changes of what is published only (see `entry_content_hash`).
    add column content_version integer not null default 1,
    add column review_status text not null default 'not_requested'
        check (review_status in ('not_requested', 'in_review', 'changes_requested', 'approved',
                                 'expired')),
    -- The step asked now (from 1) while `in_review`; the step that asked for changes.
    add column review_step smallint,
    -- Each request for review opens a round; decisions name theirs.
    add column review_round integer not null default 0,
    -- The policy's steps as they were when review was asked for.
    add column review_steps jsonb not null default '[]',
    add column review_requested_by uuid,
    add column review_requested_at timestamptz,
    -- Set when the last step approved: the content version and hash approved.
    add column approved_version integer,
    add column approved_hash text,
    -- The hash of what it publishes now, kept with the row: every reader (the dispatcher,
    -- the publish job, the queue and evergreen) compares the same value, computed once a
    -- write.
    add column content_hash text generated always as (entry_content_hash(title, caption,
        hashtags, call_to_action, media_url, media_ids)) stored;

-- A change of what is published counts a content version; an approval or a review in
-- progress does not survive it (its decisions stay in the history).
create function entry_content_changed() returns trigger
    language plpgsql
    as $$
begin
    if (new.title, new.caption, new.hashtags, new.call_to_action, new.media_url, new.media_ids)
        is distinct from
       (old.title, old.caption, old.hashtags, old.call_to_action, old.media_url, old.media_ids)
    then
        new.content_version := old.content_version + 1;
        new.approved_version := null;
        new.approved_hash := null;
        if old.review_status in ('approved', 'in_review') then
            new.review_status := 'not_requested';
            new.review_step := null;
        end if;
    end if;
    return new;
end $$;

create trigger calendar_entries_content before update on calendar_entries
    for each row execute function entry_content_changed();

-- Every decision made on an entry's review, kept across rounds.
create table entry_review_decisions (
    id               uuid primary key,
    workspace_id     uuid not null default app_workspace_id(),
    entry_id         uuid not null references calendar_entries (id) on delete cascade,
    round            integer not null,
    step             smallint not null check (step between 1 and 3),
    user_id          uuid not null,
    decision         text not null check (decision in ('approve', 'request_changes')),
    comment          text check (char_length(comment) <= 2000),
    content_version  integer not null,
    at               timestamptz not null default now(),
    constraint entry_review_decisions_once unique (entry_id, round, step, user_id)
);
create index entry_review_decisions_entry on entry_review_decisions (entry_id, at);

alter table entry_review_decisions enable row level security;
create policy entry_review_decisions_workspace on entry_review_decisions
    using (workspace_id = app_workspace_id()) with check (workspace_id = app_workspace_id());
grant select, insert on entry_review_decisions to almanac_app;

-- What an intent's publish was held to: the content hash approved when it was dispatched
-- (null when its channel asks for no review) and the hash of what it sent.
alter table publish_intents
    add column approved_hash text,
    add column sent_hash text;

-- Provenance (docs/review.md, "Provenance"): how an entry's words came, made or last
-- changed. `made_via`: the app (a session), the API (a token or a key, `made_key_name` the
-- key's name as it was), an agent over MCP, or a worker (a generation); set from the
-- request's settings (`store::user_tx`) when the row is made and when its words change.
-- Rows made before this migration: a generated one by a worker, others unknown.
alter table calendar_entries
    add column made_via text check (made_via in ('app', 'api', 'mcp', 'worker')),
    add column made_key_name text check (char_length(made_key_name) between 1 and 100);
update calendar_entries set made_via = 'worker' where origin = 'generated';

create function stamp_made_via() returns trigger
    language plpgsql
    as $$
declare
    key_id uuid := nullif(current_setting('request.key', true), '')::uuid;
begin
    if tg_op = 'UPDATE' and (new.title, new.caption, new.hashtags, new.call_to_action,
                             new.media_url, new.media_ids)
        is not distinct from (old.title, old.caption, old.hashtags, old.call_to_action,
                              old.media_url, old.media_ids) then
        return new;
    end if;
    new.made_via := coalesce(nullif(current_setting('request.via', true), ''), 'worker');
    new.made_key_name := (select k.name from api_keys k where k.id = key_id);
    return new;
end $$;

create trigger calendar_entries_made_via before insert or update on calendar_entries
    for each row execute function stamp_made_via();

-- The prompt a calendar run was made with (`calendar.v1` is the only one there has been).
alter table calendar_runs add column prompt text not null default 'calendar.v1'
    check (char_length(prompt) between 1 and 64);

-- An entry's provenance: what made it and how, who edited it last, and its review (the
-- approvals of the round that approved it, each with the step and version approved).
create function entry_provenance(e calendar_entries) returns jsonb
    language sql stable
    as $$
    select jsonb_build_object(
        'origin', case when e.origin = 'generated' then 'generated'
                       when e.placement_id is not null then 'import'
                       else 'manual' end,
        'via', e.made_via,
        'provider', r.provider,
        'model', r.model,
        'promptTemplate', split_part(r.prompt, '.', 1),
        'promptVersion', nullif(split_part(r.prompt, '.', 2), ''),
        'apiKeyName', e.made_key_name,
        'editedBy', case when e.edited then e.updated_by end,
        'review', jsonb_build_object(
            'status', e.review_status,
            'approvedVersion', e.approved_version,
            'approvedHash', e.approved_hash,
            'approvals', coalesce((
                select jsonb_agg(jsonb_build_object('step', d.step,
                           'stepName', e.review_steps -> (d.step - 1) ->> 'name',
                           'by', d.user_id, 'at', d.at, 'contentVersion', d.content_version)
                       order by d.step, d.at)
                from entry_review_decisions d
                where d.entry_id = e.id and d.round = e.review_round
                  and d.decision = 'approve' and e.review_status = 'approved'), '[]')))
    from (select 1) one
    left join calendar_runs r on r.id = e.run_id
$$;
grant execute on function entry_provenance(calendar_entries) to almanac_app;

-- A publish's provenance: its entry's as it was sent (kept when it was marked sending),
-- else as it is now; a repeat of an evergreen collection says so.
alter table publish_intents add column provenance jsonb;

create function intent_provenance(i publish_intents) returns jsonb
    language sql stable
    as $$
    select coalesce(i.provenance, (select entry_provenance(e) from calendar_entries e
                                   where e.id = i.entry_id))
        || case when i.evergreen_id is not null then '{"origin": "evergreen"}'::jsonb
                else '{}'::jsonb end
$$;
grant execute on function intent_provenance(publish_intents) to almanac_app;
