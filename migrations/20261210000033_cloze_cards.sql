-- Cloze cards (issue 36): a generation asks for `card_types` (basic, cloze); suggestions and
-- cards say which they are. A cloze keeps its text (with `{{c1::...}}` deletions) in
-- `front` and its Extra in `back`, which may be empty for a cloze only; its key is its text.
alter table ai_generations add column card_types text[] not null default '{basic}'
    check (cardinality(card_types) between 1 and 2 and card_types <@ array['basic', 'cloze']);
alter table ai_suggestions add column card_type text not null default 'basic'
    check (card_type in ('basic', 'cloze'));
alter table cards add column card_type text not null default 'basic'
    check (card_type in ('basic', 'cloze'));

alter table cards drop constraint cards_back_check;
alter table cards add constraint cards_back_check
    check (char_length(back) <= 2000 and (card_type = 'cloze' or char_length(back) >= 1));

-- A card's key as compared: a cloze's is its text alone.
create function card_type_key(card_type text, front text, back text) returns text
language sql immutable strict parallel safe as $$
    select card_key(front, case when card_type = 'cloze' then '' else back end)
$$;

drop index cards_user_key;
alter table cards drop column key;
alter table cards add column key text
    generated always as (card_type_key(card_type, front, back)) stored;
create unique index cards_user_key on cards (user_id, key);

-- create_generation of migration 32, now also recording the card types asked for.
drop function create_generation(uuid, uuid, jsonb, integer, jsonb, uuid, text, text, text, text, text, jsonb, uuid);
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
    p_card_types     text[]
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
                                reused_from, card_types)
    values (p_generation_id, p_user_id, p_job_id, p_source_text, p_model, p_prompt_version,
            'pending', p_reused_from, p_card_types);
end
$$;
