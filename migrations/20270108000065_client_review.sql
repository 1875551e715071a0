-- Client review, comments and notifications (docs/review.md, "Client review",
-- "Comments", "Notifications").
--
-- `review_links`: a secret address (`/review/<token>`) that shows some of a calendar's
-- entries to someone without an account. The token is kept only as its SHA-256 digest, as a
-- feed's is; a range link holds the entries in its range when it was made (`entry_ids`).
-- It works until `expires_at`, or until revoked.
create table review_links (
    id            uuid primary key,
    workspace_id  uuid not null default app_workspace_id(),
    calendar_id   uuid not null references calendars (id) on delete cascade,
    -- Who made it: the guest's requests act as them, under row-level security.
    user_id       uuid not null,
    digest        bytea not null unique check (octet_length(digest) = 32),
    label         text check (char_length(label) between 1 and 80),
    entry_ids     uuid[] not null check (cardinality(entry_ids) between 1 and 500),
    range_from    date,
    range_to      date,
    can_approve   boolean not null default false,
    expires_at    timestamptz not null,
    created_at    timestamptz not null default now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    check ((range_from is null) = (range_to is null) and (range_from is null or range_from <= range_to))
);
create index review_links_calendar on review_links (calendar_id, created_at desc);

alter table review_links enable row level security;
create policy review_links_workspace on review_links
    using (workspace_id = app_workspace_id()) with check (workspace_id = app_workspace_id());
grant select, insert, update on review_links to almanac_app;

-- A guest's decision, through a link: no member, the link and the name the guest gave. A
-- link decides once per step of a round, as a member does.
alter table entry_review_decisions
    alter column user_id drop not null,
    add column link_id uuid references review_links (id) on delete set null,
    add column guest_name text check (char_length(guest_name) between 1 and 80),
    drop constraint entry_review_decisions_once,
    add constraint entry_review_decisions_who check ((user_id is null) = (guest_name is not null));
create unique index entry_review_decisions_once
    on entry_review_decisions (entry_id, round, step, coalesce(user_id, link_id));

-- A guest's approval is an approval of the round: the provenance names the guest.
create or replace function entry_provenance(e calendar_entries) returns jsonb
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
                           'by', d.user_id, 'guestName', d.guest_name, 'at', d.at,
                           'contentVersion', d.content_version)
                       order by d.step, d.at)
                from entry_review_decisions d
                where d.entry_id = e.id and d.round = e.review_round
                  and d.decision = 'approve' and e.review_status = 'approved'), '[]')))
    from (select 1) one
    left join calendar_runs r on r.id = e.run_id
$$;

-- Comments on an entry: a member's (`user_id`) or a guest's through a review link
-- (`guest_name`, `link_id`). `mentions`: the members the text names, members only.
create table entry_comments (
    id            uuid primary key,
    workspace_id  uuid not null default app_workspace_id(),
    calendar_id   uuid not null references calendars (id) on delete cascade,
    entry_id      uuid not null references calendar_entries (id) on delete cascade,
    user_id       uuid,
    link_id       uuid references review_links (id) on delete set null,
    guest_name    text check (char_length(guest_name) between 1 and 80),
    body          text not null check (char_length(body) between 1 and 4000),
    mentions      uuid[] not null default '{}' check (cardinality(mentions) <= 20),
    created_at    timestamptz not null default now(),
    edited_at     timestamptz,
    check ((user_id is null) = (guest_name is not null))
);
create index entry_comments_entry on entry_comments (entry_id, created_at, id);
create index entry_comments_link on entry_comments (link_id) where link_id is not null;

alter table entry_comments enable row level security;
create policy entry_comments_workspace on entry_comments
    using (workspace_id = app_workspace_id()) with check (workspace_id = app_workspace_id());
grant select, insert, update, delete on entry_comments to almanac_app;

-- A person's notifications: something that waits for them or concerns them, in one of
-- their workspaces. Read in the app (`GET /v1/notifications`); emailed in batches, at most
-- one email a person per `NOTIFY_BATCH_MINUTES` (`emailed_at`: the batch that carried it).
create table notifications (
    id            uuid primary key,
    user_id       uuid not null,
    workspace_id  uuid not null,
    kind          text not null check (kind in ('mention', 'review_requested', 'approved',
                      'changes_requested', 'expired', 'commented')),
    calendar_id   uuid,
    entry_id      uuid,
    comment_id    uuid,
    -- Who caused it: a member, or a guest by the name they gave.
    actor_id      uuid,
    actor_guest   text check (char_length(actor_guest) between 1 and 80),
    -- The entry's title then, and the step or comment it is about.
    title         text not null default '' check (char_length(title) <= 300),
    data          jsonb not null default '{}',
    created_at    timestamptz not null default now(),
    read_at       timestamptz,
    emailed_at    timestamptz
);
create index notifications_user on notifications (user_id, id desc);
create index notifications_unemailed on notifications (user_id) where emailed_at is null;
create index notifications_unread on notifications (user_id) where read_at is null;

alter table notifications enable row level security;
create policy notifications_own on notifications
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select, update (read_at) on notifications to almanac_app;

-- Addresses that asked, by one click in a notification email, not to be emailed
-- notifications (they stay in the app). Lower-case.
create table notification_suppressions (
    address     text primary key check (address = lower(address) and char_length(address) <= 320),
    created_at  timestamptz not null default now()
);
alter table notification_suppressions enable row level security;
revoke all on notification_suppressions from almanac_app;

-- When each person was last emailed their notifications (the workers' batch gate).
create table notification_mailings (
    user_id       uuid primary key,
    last_sent_at  timestamptz not null
);
alter table notification_mailings enable row level security;
revoke all on notification_mailings from almanac_app;

-- Stages `p_type` for every enabled endpoint of `p_workspace` subscribed to it (as
-- `stage_webhook_event` does for one person's), in the caller's transaction.
create function stage_workspace_event(p_workspace uuid, p_type text, p_data jsonb)
    returns integer
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    staged integer;
begin
    insert into webhook_deliveries (id, endpoint_id, user_id, workspace_id, event_type, data)
    select uuid_v7(), e.id, e.user_id, e.workspace_id, p_type, p_data
    from webhook_endpoints e
    where e.workspace_id = p_workspace and e.disabled_at is null and p_type = any (e.events);
    get diagnostics staged = row_count;
    if staged > 0 then
        perform pg_notify('webhook_outbox', '');
    end if;
    return staged;
end
$$;

-- Notifies each of `p_people` who is a member of `p_workspace` (the person of a personal
-- one included; never `p_actor`; once each).
create function notify_people(p_people uuid[], p_workspace uuid, p_kind text, p_calendar uuid,
        p_entry uuid, p_comment uuid, p_actor uuid, p_guest text, p_title text, p_data jsonb)
    returns integer
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    told integer;
begin
    insert into notifications (id, user_id, workspace_id, kind, calendar_id, entry_id,
        comment_id, actor_id, actor_guest, title, data)
    select uuid_v7(), p.id, p_workspace, p_kind, p_calendar, p_entry, p_comment,
           p_actor, p_guest, left(coalesce(p_title, ''), 300), coalesce(p_data, '{}')
    from (select distinct id from unnest(p_people) u (id) where id is not null) p
    where p.id is distinct from p_actor
      and (p.id = p_workspace  -- a personal workspace's person
           or exists (select 1 from workspace_members m
                      where m.workspace_id = p_workspace and m.user_id = p.id));
    get diagnostics told = row_count;
    return told;
end
$$;

-- The members who approve at `p_step` (a policy step's JSON), but `p_requester`.
create function step_approvers(p_workspace uuid, p_step jsonb, p_requester uuid)
    returns uuid[]
    language sql stable
    security definer
    set search_path = public, pg_temp
as $$
    select coalesce(array_agg(m.user_id), '{}')
    from workspace_members m
    where m.workspace_id = p_workspace
      and m.user_id is distinct from p_requester
      and (m.role in (select jsonb_array_elements_text(coalesce(p_step -> 'approvers' -> 'roles', '[]')))
           or m.user_id::text in (select jsonb_array_elements_text(
                  coalesce(p_step -> 'approvers' -> 'userIds', '[]'))))
$$;

-- An entry's review moved: its webhook event (`calendar.entry.review_requested` for each
-- step asked, `.approved`, `.changes_requested`, `.expired`) and the people it concerns
-- (the step's approvers; the person who asked, of a decision or an expiry), in the
-- transaction that moved it.
create function entry_review_told() returns trigger
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_type   text;
    v_kind   text;
    v_people uuid[];
    v_step   jsonb;
    v_actor  uuid;
    v_guest  text;
    v_note   text;
    v_data   jsonb;
begin
    if new.review_status = 'in_review'
       and (old.review_status <> 'in_review' or old.review_round <> new.review_round
            or old.review_step is distinct from new.review_step) then
        v_type := 'calendar.entry.review_requested';
        v_kind := 'review_requested';
    elsif new.review_status in ('approved', 'changes_requested', 'expired')
          and old.review_status <> new.review_status then
        v_type := 'calendar.entry.' || new.review_status;
        v_kind := new.review_status;
    else
        return null;
    end if;
    v_step := new.review_steps -> (coalesce(new.review_step, 1) - 1);
    if v_kind = 'review_requested' then
        v_people := step_approvers(new.workspace_id, v_step, new.review_requested_by);
        -- The step before approved it: the last approver moved it on.
        if old.review_status = 'in_review' and old.review_round = new.review_round then
            select d.user_id, d.guest_name into v_actor, v_guest
            from entry_review_decisions d
            where d.entry_id = new.id and d.round = new.review_round
            order by d.at desc, d.id desc limit 1;
        else
            v_actor := new.review_requested_by;
        end if;
    elsif v_kind = 'expired' then
        v_people := array[coalesce(new.review_requested_by, new.user_id)];
    else
        select d.user_id, d.guest_name, d.comment into v_actor, v_guest, v_note
        from entry_review_decisions d
        where d.entry_id = new.id and d.round = new.review_round
        order by d.at desc, d.id desc limit 1;
        v_people := array[coalesce(new.review_requested_by, new.user_id)];
    end if;
    v_data := jsonb_build_object(
        'calendarId', new.calendar_id,
        'entryId', new.id,
        'title', new.title,
        'channel', new.channel,
        'channelId', new.channel_id,
        'scheduledAt', new.scheduled_at,
        'review', jsonb_build_object(
            'status', new.review_status,
            'step', new.review_step,
            'stepName', v_step ->> 'name',
            'round', new.review_round,
            'contentVersion', new.content_version),
        'by', case when v_actor is not null then jsonb_build_object('userId', v_actor)
                   when v_guest is not null then jsonb_build_object('guestName', v_guest) end,
        'comment', v_note);
    perform stage_workspace_event(new.workspace_id, v_type, v_data);
    perform notify_people(v_people, new.workspace_id, v_kind, new.calendar_id, new.id, null,
        v_actor, v_guest, new.title,
        jsonb_build_object('stepName', v_step ->> 'name', 'comment', left(v_note, 280)));
    return null;
end $$;

create trigger calendar_entries_review_told
    after update of review_status, review_step, review_round on calendar_entries
    for each row execute function entry_review_told();

-- A comment: `calendar.entry.commented`, and the people it concerns: the members it
-- mentions (newly, on an edit), and for a guest's, whoever made the link and whoever asked
-- for the entry's review.
create function entry_comment_told() returns trigger
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    v_entry  calendar_entries;
    v_new    uuid[];
    v_maker  uuid;
begin
    select * into v_entry from calendar_entries where id = new.entry_id;
    if tg_op = 'INSERT' then
        perform stage_workspace_event(new.workspace_id, 'calendar.entry.commented',
            jsonb_build_object(
                'calendarId', new.calendar_id,
                'entryId', new.entry_id,
                'title', v_entry.title,
                'commentId', new.id,
                'text', new.body,
                'mentions', to_jsonb(new.mentions),
                'by', case when new.user_id is not null
                           then jsonb_build_object('userId', new.user_id)
                           else jsonb_build_object('guestName', new.guest_name) end,
                'at', new.created_at));
        v_new := new.mentions;
    else
        select coalesce(array_agg(m), '{}') into v_new
        from unnest(new.mentions) m where not (m = any (old.mentions));
    end if;
    perform notify_people(v_new, new.workspace_id, 'mention', new.calendar_id, new.entry_id,
        new.id, new.user_id, new.guest_name, v_entry.title,
        jsonb_build_object('comment', left(new.body, 280)));
    if tg_op = 'INSERT' and new.user_id is null then
        select l.user_id into v_maker from review_links l where l.id = new.link_id;
        perform notify_people(array[v_maker, v_entry.review_requested_by],
            new.workspace_id, 'commented', new.calendar_id, new.entry_id, new.id, null,
            new.guest_name, v_entry.title, jsonb_build_object('comment', left(new.body, 280)));
    end if;
    return null;
end $$;

create trigger entry_comments_told
    after insert or update of mentions on entry_comments
    for each row execute function entry_comment_told();
