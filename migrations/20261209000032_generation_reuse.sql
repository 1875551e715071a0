-- No paid-for duplicate generations (issue 36): the same source text (its hash), prompt
-- version and model from the same user within GENERATION_DEDUP_DAYS makes a generation
-- that reuses the earlier one's suggestions (`reused_from`) instead of asking the AI.
-- The hash of a text's UTF-8 bytes (immutable: the database's encoding is UTF-8).
create function text_sha256(t text) returns text
language sql immutable strict parallel safe as $$
    select encode(sha256(convert_to(t, 'UTF8')), 'hex')
$$;

alter table ai_generations
    add column source_hash text generated always as (text_sha256(source_text)) stored,
    add column reused_from uuid references ai_generations (id) on delete set null;
create index ai_generations_reuse_idx on ai_generations (user_id, source_hash, created_at desc);

-- create_generation of migration 11, now also recording the generation it reuses.
drop function create_generation(uuid, uuid, jsonb, integer, jsonb, uuid, text, text, text, text, text, jsonb);
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
    p_reused_from    uuid
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
    insert into ai_generations (id, user_id, job_id, source_text, model, prompt_version, status,
                                reused_from)
    values (p_generation_id, p_user_id, p_job_id, p_source_text, p_model, p_prompt_version,
            'pending', p_reused_from);
end
$$;
