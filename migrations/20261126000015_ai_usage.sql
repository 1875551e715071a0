-- What AI calls cost, per user, UTC day and job kind: `GET /v1/usage` reads it, and
-- `AI_USER_DAILY_TOKENS` is checked against it (at submission, after each call, and
-- before a scheduled synthesis starts).
create table ai_usage (
    user_id         uuid not null,
    day             date not null,
    kind            text not null,
    calls           integer not null default 0,
    tokens_input    bigint not null default 0,
    tokens_output   bigint not null default 0,
    cost_usd        double precision not null default 0,
    primary key (user_id, day, kind)
);

alter table ai_usage enable row level security;
create policy ai_usage_owner on ai_usage using (user_id = app_user_id());
-- Workers write it; users read their own.
grant select on ai_usage to almanac_app;

-- A scheduled synthesis not started because its owner's budget was spent: the day and why.
alter table theme_schedules
    add column skipped_day date,
    add column skip_reason text;

-- The source batch a suggestion came from: a batch asked again (its answer was cut) does
-- not save the cards it repeats.
alter table ai_suggestions add column batch integer;
