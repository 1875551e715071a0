-- `Idempotency-Key` lives in Postgres, with the job it created: a Redis flush must not
-- turn a client's retry into a second job.
--
-- One row per user, endpoint and key: the hash of the first request's body and the
-- response it got. A submit writes its key in the statement that creates its job, with the
-- response (whose ids the API chose beforehand), so a retry finds either nothing or the
-- whole answer; a concurrent retry waits on the key's unique index until the first
-- commits, then replays it. A key is kept 24 hours; an expired one may be used again.
create table idempotency_keys (
    user_id         uuid not null,
    -- The endpoint the key was used on, e.g. `generations`.
    scope           text not null,
    key             text not null check (char_length(key) between 1 and 255),
    request_hash    text not null,
    response_status smallint not null,
    response        jsonb not null,
    created_at      timestamptz not null default now(),
    expires_at      timestamptz not null,
    primary key (user_id, scope, key)
);
create index idempotency_keys_expiry_idx on idempotency_keys (expires_at);

alter table idempotency_keys enable row level security;
create policy idempotency_keys_owner on idempotency_keys
    using (user_id = app_user_id()) with check (user_id = app_user_id());
grant select, insert, update on idempotency_keys to almanac_app;

-- create_generation of migration 4, now also recording the request's idempotency key
-- (when given) in the same statement. Returns no row when it created the generation, or
-- the key's earlier request hash and response when the key was already used (then it
-- creates nothing).
drop function create_generation(uuid, uuid, jsonb, integer, jsonb, uuid, text, text, text);
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
    p_response       jsonb
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
    insert into jobs (id, user_id, kind, status, payload, max_attempts, trace_context, enqueued_at)
    values (p_job_id, p_user_id, 'generation', 'pending', p_job_payload, p_max_attempts,
            p_trace_context, now());
    insert into ai_generations (id, user_id, job_id, source_text, model, prompt_version, status)
    values (p_generation_id, p_user_id, p_job_id, p_source_text, p_model, p_prompt_version,
            'pending');
end
$$;
