-- Seed 002: "retain ai_metadata" on failure too. A generation whose job fails on the AI
-- provider keeps who was asked (provider, model), how often (provider_attempts), how long
-- (latency_ms) and the provider's request id in `ai_metadata`, as a successful one keeps
-- its attribution; what the worker already wrote there is left as it is.
create or replace function end_generation_job(p_job_id uuid, p_payload jsonb, p_status text, p_error jsonb)
    returns jsonb
    language sql
    security definer
    set search_path = public, pg_temp
as $$
    update ai_generations set status = p_status, error = coalesce(p_error, error),
           ai_metadata = coalesce(ai_metadata, case when p_error ? 'provider' then
               jsonb_build_object(
                   'provider', p_error -> 'provider',
                   'model', p_error -> 'model',
                   'provider_attempts', p_error -> 'provider_attempts',
                   'latency_ms', p_error -> 'latency_ms',
                   'provider_request_id', p_error -> 'provider_request_id',
                   'provider_status', p_error -> 'provider_status',
                   'job_attempt', p_error -> 'attempts',
                   'failed', true)
           end),
           updated_at = now()
    where id = (p_payload ->> 'generation_id')::uuid and status in ('pending', 'running');
    select jsonb_build_object('generation_id', g.id,
               'suggestions', (select count(*) from ai_suggestions s where s.generation_id = g.id))
    from ai_generations g where g.id = (p_payload ->> 'generation_id')::uuid;
$$;
