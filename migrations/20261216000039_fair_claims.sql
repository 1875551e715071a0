-- Fair claims (docs/architecture.md section 2): a delivery from Redis is a wake-up for its
-- kind, and the claim picks which ready jobs run, fairly between the users (the fairness
-- keys), by lane, under per-key caps that hold across the fleet.
--
-- `lane`: `interactive` (a person waits on it), `scheduled` (the scheduler's and the
-- dispatcher's work), `bulk` (what a client marked `Prefer: priority=bulk`, redeliveries).
-- `fairness_key`: whose turn a job takes: its user, or its endpoint for a webhook delivery.
-- `claim_batch`: the claim statement that took the job, so that a claim whose answer was
-- lost can be given back exactly.
alter table jobs
    add column lane text not null default 'interactive'
        check (lane in ('interactive', 'scheduled', 'bulk')),
    add column fairness_key uuid,
    add column claim_batch uuid;

update jobs j set fairness_key = d.endpoint_id
    from webhook_deliveries d
    where j.kind = 'webhook' and d.id = (j.payload ->> 'delivery_id')::uuid;
update jobs set fairness_key = user_id where fairness_key is null;

-- A job written without a key (the functions that create jobs, older code) is its user's.
create function jobs_default_fairness_key() returns trigger
    language plpgsql
as $$
begin
    new.fairness_key := new.user_id;
    return new;
end
$$;
create trigger jobs_fairness_key before insert on jobs
    for each row when (new.fairness_key is null) execute function jobs_default_fairness_key();
alter table jobs alter column fairness_key set not null;

-- The claim walks the keys that have pending jobs (a skip scan over the first two
-- columns), then each key's oldest ready jobs per lane.
create index jobs_claimable_idx on jobs (kind, fairness_key, lane, run_after)
    where status = 'pending';

-- Per (kind, key): when it last had a job claimed (the round robin's order) and, when set,
-- a cap lower than the kind's (an endpoint whose last attempt timed out: 1).
create table job_keys (
    kind          text not null,
    key           uuid not null,
    last_claim_at timestamptz not null default '-infinity',
    max_running   integer check (max_running > 0),
    primary key (kind, key)
);

-- Claims up to `p_most` ready jobs of `p_kind` for `p_worker` (with `p_batch`, the claim
-- statement's token): each goes `running`, attempts + 1; returns their ids, in the order
-- chosen, with how long each was ready. The kind's first step runs on them in the next
-- statement, which sees every job's domain rows (its snapshot is after this commit).
--
-- Claims of one kind take turns (a transaction-scoped advisory lock): each sees the
-- running counts every earlier claim committed, so the caps hold across the fleet
-- without a counter that a lost worker could leave wrong (the count is of the ledger's
-- running rows, a handful per key). The lock is taken before any statement here reads,
-- and each statement of a volatile function reads with a snapshot of its own.
--
-- Which jobs: the highest lane that has a ready job (pending, `run_after` due; a job
-- ready for `p_aging_secs` counts one lane higher, one lane per period), then round robin
-- over the keys, the key whose last claim is oldest first, skipping keys at their cap
-- (`p_key_cap`, or the key's own `max_running`) and, with `p_user_cap`, users at theirs.
create function claim_jobs(
    p_kind       text,
    p_worker     text,
    p_batch      uuid,
    p_most       integer,
    p_key_cap    integer,
    p_user_cap   integer,
    p_aging_secs double precision
) returns table (id uuid, waited double precision)
    language plpgsql
    security invoker
as $$
#variable_conflict use_column
declare
    v_now timestamptz;
begin
    perform pg_advisory_xact_lock(hashtextextended('almanac.claim.' || p_kind, 0));
    v_now := clock_timestamp();
    return query
    with recursive keys (k) as (
        (select j.fairness_key from jobs j
         where j.kind = p_kind and j.status = 'pending'
         order by j.fairness_key limit 1)
        union all
        select (select j.fairness_key from jobs j
                where j.kind = p_kind and j.status = 'pending' and j.fairness_key > keys.k
                order by j.fairness_key limit 1)
        from keys where keys.k is not null),
    -- The kind's running jobs (a few per worker slot), counted once per key and per user.
    running as materialized (
        select j.fairness_key, j.user_id from jobs j
        where j.kind = p_kind and j.status = 'running'),
    per_key as materialized (
        select r.fairness_key as k, count(*) as n from running r group by 1),
    per_user as materialized (
        select r.user_id as u, count(*) as n from running r group by 1),
    open_keys as materialized (
        select keys.k, coalesce(jk.last_claim_at, '-infinity') as last_claim,
               least(coalesce(jk.max_running, p_key_cap), p_key_cap) - coalesce(pk.n, 0)
                   as room
        from keys
        left join job_keys jk on jk.kind = p_kind and jk.key = keys.k
        left join per_key pk on pk.k = keys.k
        where keys.k is not null),
    candidates as (
        select o.k, o.last_claim, o.room, c.id, c.user_id, c.lane_now,
               row_number() over (partition by o.k
                                  order by c.lane_now desc, c.run_after, c.id) as nth
        from open_keys o
        cross join lateral (
            select l.id, l.user_id, l.run_after,
                   least(2, l.rank + floor(extract(epoch from v_now - l.run_after)
                                           / p_aging_secs))::integer as lane_now
            from (
                (select j.id, j.user_id, j.run_after, 2 as rank from jobs j
                 where j.kind = p_kind and j.status = 'pending' and j.fairness_key = o.k
                   and j.lane = 'interactive' and j.run_after <= v_now
                 order by j.run_after limit least(o.room, p_most))
                union all
                (select j.id, j.user_id, j.run_after, 1 from jobs j
                 where j.kind = p_kind and j.status = 'pending' and j.fairness_key = o.k
                   and j.lane = 'scheduled' and j.run_after <= v_now
                 order by j.run_after limit least(o.room, p_most))
                union all
                (select j.id, j.user_id, j.run_after, 0 from jobs j
                 where j.kind = p_kind and j.status = 'pending' and j.fairness_key = o.k
                   and j.lane = 'bulk' and j.run_after <= v_now
                 order by j.run_after limit least(o.room, p_most))) l
        ) c
        where o.room > 0),
    in_turn as (
        select c.*, row_number() over (partition by c.user_id
                                       order by c.lane_now desc, c.nth, c.last_claim, c.k)
                    as nth_of_user
        from candidates c
        where c.nth <= c.room),
    picked as (
        select t.id, row_number() over (order by t.lane_now desc, t.nth, t.last_claim, t.k)
                     as turn
        from in_turn t
        where p_user_cap is null
           or t.nth_of_user <= p_user_cap
                               - coalesce((select pu.n from per_user pu where pu.u = t.user_id), 0)
        order by turn
        limit p_most),
    claimed as (
        update jobs j set status = 'running', attempts = j.attempts + 1, worker = p_worker,
                          claim_batch = p_batch, heartbeat_at = v_now,
                          started_at = coalesce(j.started_at, v_now), updated_at = v_now
        where j.id in (select l.id from jobs l
                       where l.id in (select p.id from picked p) and l.status = 'pending'
                       for update skip locked)
        returning j.id, j.fairness_key,
                  extract(epoch from v_now - j.run_after)::double precision as waited),
    turns as (
        insert into job_keys as jk (kind, key, last_claim_at)
        select distinct p_kind, c.fairness_key, v_now from claimed c
        on conflict (kind, key) do update set last_claim_at = excluded.last_claim_at)
    select c.id, c.waited from claimed c join picked p on p.id = c.id order by p.turn;
end
$$;
-- The workers' (owner) role only.
revoke execute on function claim_jobs(text, text, uuid, integer, integer, integer,
                                      double precision) from public;

-- create_generation of migration 35, writing the job's lane.
drop function create_generation(uuid, uuid, jsonb, integer, jsonb, uuid, text, text, text,
                                text, text, jsonb, uuid, text[]);
create function create_generation(
    p_user_id        uuid,
    p_job_id         uuid,
    p_job_payload    jsonb,
    p_max_attempts   integer,
    p_trace_context  jsonb,
    p_generation_id  uuid,
    p_source_text    text,
    p_model          text,
    p_prompt_version text,
    p_key            text,
    p_request_hash   text,
    p_response       jsonb,
    p_reused_from    uuid,
    p_card_types     text[],
    p_lane           text
) returns table (request_hash text, response jsonb)
    language plpgsql
    security invoker
as $$
begin
    perform set_config('role', 'almanac_app', true),
            set_config('request.jwt.claim.sub', p_user_id::text, true);
    if p_key is not null then
        insert into idempotency_keys as k (user_id, scope, key, request_hash, response_status,
                                           response, expires_at)
        values (p_user_id, 'generations', p_key, p_request_hash, 202, p_response,
                now() + interval '24 hours')
        on conflict (user_id, scope, key) do update
            set request_hash = excluded.request_hash, response = excluded.response,
                created_at = now(), expires_at = excluded.expires_at
            where k.expires_at <= now();
        if not found then
            return query select k.request_hash, k.response from idempotency_keys k
                where k.user_id = p_user_id and k.scope = 'generations' and k.key = p_key;
            return;
        end if;
    end if;
    insert into jobs (id, user_id, kind, status, payload, max_attempts, trace_context,
                      enqueued_at, lane, fairness_key)
    values (p_job_id, p_user_id, 'generation', 'pending', p_job_payload, p_max_attempts,
            p_trace_context, now(), p_lane, p_user_id);
    insert into ai_generations (id, user_id, job_id, source_text, model, prompt_version, status,
                                reused_from, card_types, source_hash)
    values (p_generation_id, p_user_id, p_job_id, p_source_text, p_model, p_prompt_version,
            'pending', p_reused_from, p_card_types, text_sha256(p_source_text));
end
$$;
