-- Webhook deliveries: an outbox. A change that causes an event stages one delivery per
-- subscribed endpoint in its own transaction (the triggers below, or a statement that calls
-- `stage_webhook_event`), so a delivery exists exactly when its change committed. The
-- worker's relay turns each new delivery into a `webhook` job (woken by the notification
-- the commit sends, and by the reconciler's pass should a notification be missed), and the
-- job sends it: attempts on the delivery's schedule, each recorded in `webhook_attempts`.

-- A version 7 UUID (time-ordered, as the code's `Uuid::now_v7`): deliveries list newest
-- first by id.
create function uuid_v7() returns uuid
    language sql
    volatile
as $$
    select encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                    from 1 for 6),
            52, 1), 53, 1),
        'hex')::uuid;
$$;

-- Failures in a row, and since when: an endpoint that has failed every attempt for a day
-- (and at least ten) is disabled.
alter table webhook_endpoints
    add column failing_since        timestamptz,
    add column consecutive_failures integer not null default 0;

create table webhook_deliveries (
    -- The `webhook-id` header: the same on every attempt and redelivery.
    id              uuid primary key,
    endpoint_id     uuid not null references webhook_endpoints (id) on delete cascade,
    user_id         uuid not null,
    event_type      text not null,
    -- The event's time (the body's `timestamp`) and its `data`.
    occurred_at     timestamptz not null default now(),
    data            jsonb not null,
    status          text not null default 'pending'
                    check (status in ('pending', 'succeeded', 'failed')),
    -- Attempts made, over every redelivery.
    attempts        integer not null default 0,
    -- The job sending it; none until the relay has queued it (or a redelivery asked again).
    job_id          uuid,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    -- The receiver's last answer, or why there was none.
    last_status     integer,
    last_error      jsonb,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, id desc);
create index webhook_deliveries_unqueued on webhook_deliveries (id) where job_id is null;
create index webhook_deliveries_created on webhook_deliveries (created_at);

-- Each attempt: what the receiver answered (its status and the first KiB of its body), or
-- why nothing came back.
create table webhook_attempts (
    delivery_id     uuid not null references webhook_deliveries (id) on delete cascade,
    number          integer not null check (number > 0),
    user_id         uuid not null,
    started_at      timestamptz not null,
    duration_ms     integer not null,
    response_status integer,
    response_excerpt text check (length(response_excerpt) <= 1024),
    error_code      text,
    error_message   text,
    primary key (delivery_id, number)
);

alter table webhook_deliveries enable row level security;
alter table webhook_attempts enable row level security;
create policy webhook_deliveries_owner on webhook_deliveries
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy webhook_attempts_owner on webhook_attempts
    using (user_id = app_user_id()) with check (user_id = app_user_id());
-- Owners read; a redelivery or a test goes through `redeliver_webhook` and
-- `stage_webhook_test`, which check the owner themselves.
grant select on webhook_deliveries to almanac_app;
grant select on webhook_attempts to almanac_app;

-- Stages `p_type` with `p_data` for each of `p_user`'s enabled endpoints subscribed to it;
-- returns how many. The notification reaches the relay when (and only if) the caller's
-- transaction commits.
create function stage_webhook_event(p_user uuid, p_type text, p_data jsonb)
    returns integer
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    staged integer;
begin
    insert into webhook_deliveries (id, endpoint_id, user_id, event_type, data)
    select uuid_v7(), e.id, p_user, p_type, p_data
    from webhook_endpoints e
    where e.user_id = p_user and e.disabled_at is null and p_type = any (e.events);
    get diagnostics staged = row_count;
    if staged > 0 then
        perform pg_notify('webhook_outbox', '');
    end if;
    return staged;
end
$$;

-- A test event to one of the caller's endpoints, whatever it subscribes to; its id, or
-- none when the caller has no such enabled endpoint.
create function stage_webhook_test(p_endpoint uuid, p_data jsonb)
    returns uuid
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    staged uuid;
begin
    insert into webhook_deliveries (id, endpoint_id, user_id, event_type, data)
    select uuid_v7(), e.id, e.user_id, 'webhook.test', p_data
    from webhook_endpoints e
    where e.id = p_endpoint and e.user_id = app_user_id() and e.disabled_at is null
    returning id into staged;
    if staged is not null then
        perform pg_notify('webhook_outbox', '');
    end if;
    return staged;
end
$$;

-- Sends a delivery again (the same id, a new series of attempts) unless it is being sent;
-- its status before, or none when the caller has no such delivery.
create function redeliver_webhook(p_endpoint uuid, p_delivery uuid)
    returns text
    language plpgsql
    security definer
    set search_path = public, pg_temp
as $$
declare
    previous text;
begin
    select d.status into previous
    from webhook_deliveries d
    where d.id = p_delivery and d.endpoint_id = p_endpoint and d.user_id = app_user_id()
    for update;
    if not found then
        return null;
    end if;
    if previous <> 'pending' then
        update webhook_deliveries set status = 'pending', job_id = null, next_attempt_at = null,
               updated_at = now()
        where id = p_delivery;
        perform pg_notify('webhook_outbox', '');
    end if;
    return previous;
end
$$;

grant execute on function stage_webhook_test(uuid, jsonb) to almanac_app;
grant execute on function redeliver_webhook(uuid, uuid) to almanac_app;

-- A delivery job that ended otherwise than by its handler (its attempts spent, cancelled,
-- its worker lost on the last attempt): the delivery is `failed`.
create function end_webhook_job(p_job_id uuid, p_payload jsonb, p_status text, p_error jsonb)
    returns jsonb
    language sql
    security definer
    set search_path = public, pg_temp
as $$
    update webhook_deliveries set status = 'failed', last_error = coalesce(last_error, p_error),
           next_attempt_at = null, updated_at = now()
    where id = (p_payload ->> 'delivery_id')::uuid and job_id = p_job_id and status = 'pending';
    select jsonb_build_object('delivery_id', (p_payload ->> 'delivery_id')::uuid);
$$;
insert into job_kind_endings (kind, ending) values ('webhook', 'end_webhook_job');

-- The events, staged by the changes that cause them. Each trigger first asks whether the
-- user has an endpoint wanting the event (an index probe, written out in each: a SQL
-- function called from PL/pgSQL is planned again in every transaction, which cost a job
-- about 0.2 ms of Postgres in `make bench`): most changes have none, and then nothing else
-- is done, not even building the event's data. The triggers run as whoever made the
-- change (the worker, or the user's own role for a legacy calendar run, whose row-level
-- security shows them their own endpoints); staging runs as the owner.

-- A job a user created ended (a webhook's own job never causes an event, nor does an
-- email's: its synthesis says `synthesis.delivered`).
create function webhook_job_ended() returns trigger
    language plpgsql
as $$
declare
    v_type text := case when new.status = 'succeeded' then 'job.succeeded' else 'job.failed' end;
begin
    if exists (select 1 from webhook_endpoints e
               where e.user_id = new.user_id and e.disabled_at is null
                 and v_type = any (e.events)) then
        perform stage_webhook_event(new.user_id, v_type,
            jsonb_build_object('jobId', new.id, 'kind', new.kind, 'status', new.status,
                'result', new.result, 'error', new.error, 'finishedAt', new.finished_at));
    end if;
    return null;
end
$$;
create trigger jobs_webhook_events after update of status on jobs
    for each row
    when (new.status in ('succeeded', 'failed', 'timeout')
          and old.status is distinct from new.status
          and new.kind not in ('webhook', 'email'))
    execute function webhook_job_ended();

-- A calendar run ended (service runs with their job, legacy runs by themselves).
create function webhook_calendar_run_finished() returns trigger
    language plpgsql
as $$
begin
    if exists (select 1 from webhook_endpoints e
               where e.user_id = new.user_id and e.disabled_at is null
                 and 'calendar.run.finished' = any (e.events)) then
        perform stage_webhook_event(new.user_id, 'calendar.run.finished',
            calendar_run_summary(new) || jsonb_build_object('jobId', new.job_id,
                'finishedAt', new.finished_at, 'error', new.error));
    end if;
    return null;
end
$$;
create trigger calendar_runs_webhook_finished after update of status on calendar_runs
    for each row
    when (new.status in ('succeeded', 'failed', 'timeout', 'cancelled')
          and old.status in ('pending', 'running'))
    execute function webhook_calendar_run_finished();
create trigger calendar_runs_webhook_inserted_finished after insert on calendar_runs
    for each row
    when (new.status in ('succeeded', 'failed', 'timeout', 'cancelled'))
    execute function webhook_calendar_run_finished();

-- An organic week's generation ended.
create function webhook_organic_week_finished() returns trigger
    language plpgsql
as $$
begin
    if exists (select 1 from webhook_endpoints e
               where e.user_id = new.user_id and e.disabled_at is null
                 and 'organic.week.finished' = any (e.events)) then
        perform stage_webhook_event(new.user_id, 'organic.week.finished',
            jsonb_build_object('runId', new.id, 'jobId', new.job_id, 'brandId', new.brand_id,
                'weekStart', new.week_start, 'status', new.status, 'finishedAt', new.finished_at,
                'placements', (select count(*) from organic_run_items i where i.run_id = new.id)));
    end if;
    return null;
end
$$;
create trigger organic_runs_webhook_finished after update of status on organic_runs
    for each row
    when (new.status in ('succeeded', 'failed', 'timeout', 'cancelled')
          and old.status in ('pending', 'running'))
    execute function webhook_organic_week_finished();

-- A publish intent published, failed or could not be confirmed (dry runs are not events).
create function webhook_publish_intent_changed() returns trigger
    language plpgsql
as $$
begin
    if exists (select 1 from webhook_endpoints e
               where e.user_id = new.user_id and e.disabled_at is null
                 and ('publish.intent.' || new.status) = any (e.events)) then
        perform stage_webhook_event(new.user_id, 'publish.intent.' || new.status,
            jsonb_build_object('intentId', new.id, 'calendarId', new.calendar_id,
                'entryId', new.entry_id, 'runId', new.run_id, 'channel', new.channel,
                'channelId', new.account, 'mode', new.mode, 'status', new.status,
                'remotePostId', new.remote_post_id, 'publishedAt', new.published_at,
                'error', new.error));
    end if;
    return null;
end
$$;
create trigger publish_intents_webhook_changed after update of status on publish_intents
    for each row
    when (new.status in ('published', 'failed', 'unconfirmed')
          and old.status is distinct from new.status and not new.dry_run)
    execute function webhook_publish_intent_changed();
create trigger publish_intents_webhook_inserted after insert on publish_intents
    for each row
    when (new.status in ('published', 'failed', 'unconfirmed') and not new.dry_run)
    execute function webhook_publish_intent_changed();

-- A channel needs its owner to connect it again.
create function webhook_channel_needs_reauth() returns trigger
    language plpgsql
as $$
begin
    if exists (select 1 from webhook_endpoints e
               where e.user_id = new.user_id and e.disabled_at is null
                 and 'channel.needs_reauth' = any (e.events)) then
        perform stage_webhook_event(new.user_id, 'channel.needs_reauth',
            jsonb_build_object('channelId', new.id, 'platform', new.platform,
                'accountId', new.account_id, 'handle', new.handle, 'reason', new.status_reason));
    end if;
    return null;
end
$$;
create trigger platform_accounts_webhook_needs_reauth after update of status on platform_accounts
    for each row
    when (new.status = 'needs_reauth' and old.status is distinct from new.status)
    execute function webhook_channel_needs_reauth();

-- A synthesis reached one of its recipients.
create function webhook_synthesis_delivered() returns trigger
    language plpgsql
as $$
begin
    if exists (select 1 from webhook_endpoints e
               where e.user_id = new.user_id and e.disabled_at is null
                 and 'synthesis.delivered' = any (e.events)) then
        perform stage_webhook_event(new.user_id, 'synthesis.delivered',
            jsonb_build_object('synthesisId', new.synthesis_id, 'themeId', new.theme_id,
                'deliveryId', new.id, 'recipient', new.recipient, 'sentAt', new.sent_at));
    end if;
    return null;
end
$$;
create trigger email_deliveries_webhook_delivered after update of status on email_deliveries
    for each row
    when (new.status = 'sent' and old.status is distinct from new.status)
    execute function webhook_synthesis_delivered();
