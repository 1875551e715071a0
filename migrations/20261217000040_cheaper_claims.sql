-- A cheaper claim choice (docs/architecture.md section 2; the same choice as migration 39's).
--
-- Migration 39's claim looked at every key with a pending job of the kind, each key's three
-- lanes, and ranked every candidate, for a statement that takes a handful: with 64 users
-- waiting, about 260 index probes a claim. Nearly every claim takes only jobs of the top
-- lane, one per key, in round robin order; so it first walks the keys in that order,
-- looking only for a job of the top lane (an interactive job, or one of a lower lane aged
-- up to it), and stops at `p_most` keys with one. Only when that finds fewer than
-- `p_most` (fewer keys than slots, keys at their caps, lower lanes' turns) or a user cap
-- applies (webhook deliveries) does it make migration 39's whole choice. Both give the
-- same jobs in the same order: the whole choice ranks by lane, then each key's n-th job,
-- then the round robin, so its first `p_most` are these whenever there are that many.
create or replace function claim_jobs(
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
    v_now      timestamptz;
    -- A scheduled job ready since `v_aged_1`, or a bulk one since `v_aged_2`, counts as
    -- interactive (one lane per `p_aging_secs`; past about 30 years, never).
    v_aged_1   timestamptz;
    v_aged_2   timestamptz;
    v_ids      uuid[];
begin
    perform pg_advisory_xact_lock(hashtextextended('almanac.claim.' || p_kind, 0));
    v_now := clock_timestamp();
    v_aged_1 := case when p_aging_secs < 1e9
                     then v_now - make_interval(secs => p_aging_secs) else '-infinity' end;
    v_aged_2 := case when 2 * p_aging_secs < 1e9
                     then v_now - make_interval(secs => 2 * p_aging_secs) else '-infinity' end;
    if p_user_cap is null then
        with recursive keys (k) as (
            (select j.fairness_key from jobs j
             where j.kind = p_kind and j.status = 'pending'
             order by j.fairness_key limit 1)
            union all
            select (select j.fairness_key from jobs j
                    where j.kind = p_kind and j.status = 'pending' and j.fairness_key > keys.k
                    order by j.fairness_key limit 1)
            from keys where keys.k is not null),
        per_key as materialized (
            select j.fairness_key as k, count(*) as n from jobs j
            where j.kind = p_kind and j.status = 'running'
            group by 1)
        -- The first job of the top lane of each key below its cap, key after key in
        -- round robin order, until `p_most` (the keys come sorted, so that the walk
        -- stops there).
        select array_agg(f.id order by f.last_claim, f.k) into v_ids from (
            select t.last_claim, t.k, c.id
            from (
                select keys.k, coalesce(jk.last_claim_at, '-infinity') as last_claim
                from keys
                left join job_keys jk on jk.kind = p_kind and jk.key = keys.k
                left join per_key pk on pk.k = keys.k
                where keys.k is not null
                  and least(coalesce(jk.max_running, p_key_cap), p_key_cap)
                      - coalesce(pk.n, 0) > 0
                order by 2, 1) t
            cross join lateral (
                select l.id from (
                    (select j.id, j.run_after from jobs j
                     where j.kind = p_kind and j.status = 'pending' and j.fairness_key = t.k
                       and j.lane = 'interactive' and j.run_after <= v_now
                     order by j.run_after limit 1)
                    union all
                    (select j.id, j.run_after from jobs j
                     where j.kind = p_kind and j.status = 'pending' and j.fairness_key = t.k
                       and j.lane = 'scheduled' and j.run_after <= v_aged_1
                     order by j.run_after limit 1)
                    union all
                    (select j.id, j.run_after from jobs j
                     where j.kind = p_kind and j.status = 'pending' and j.fairness_key = t.k
                       and j.lane = 'bulk' and j.run_after <= v_aged_2
                     order by j.run_after limit 1)) l
                order by l.run_after, l.id
                limit 1) c
            order by t.last_claim, t.k
            limit p_most) f;
    end if;
    if coalesce(cardinality(v_ids), 0) < p_most then
        select array_agg(picked.id order by picked.turn) into v_ids from (
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
            limit p_most)
        select picked.id, picked.turn from picked) picked;
    end if;
    return query
    with claimed as (
        update jobs j set status = 'running', attempts = j.attempts + 1, worker = p_worker,
                          claim_batch = p_batch, heartbeat_at = v_now,
                          started_at = coalesce(j.started_at, v_now), updated_at = v_now
        where j.id in (select l.id from jobs l
                       where l.id = any(v_ids) and l.status = 'pending'
                       for update skip locked)
        returning j.id, j.fairness_key,
                  extract(epoch from v_now - j.run_after)::double precision as waited),
    turns as (
        insert into job_keys as jk (kind, key, last_claim_at)
        select distinct p_kind, c.fairness_key, v_now from claimed c
        on conflict (kind, key) do update set last_claim_at = excluded.last_claim_at)
    select c.id, c.waited from claimed c order by array_position(v_ids, c.id);
end
$$;
