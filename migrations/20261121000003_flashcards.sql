-- Flashcard generation (seed 002): generations, their suggestions, and cards.

create table ai_generations (
    id              uuid primary key,
    user_id         uuid not null,
    job_id          uuid not null references jobs (id),
    source_text     text not null check (char_length(source_text) between 1000 and 10000),
    model           text,
    prompt_version  text not null,
    status          text not null default 'pending'
                    check (status in ('pending', 'running', 'succeeded', 'failed')),
    tokens_input    integer,
    tokens_output   integer,
    cost_usd        numeric(12, 6),
    -- Attribution: provider, model, latency, prompt version, attempts.
    ai_metadata     jsonb,
    error           jsonb,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create index idx_ai_generations_user_created on ai_generations (user_id, created_at desc, id desc);

create table ai_suggestions (
    id              uuid primary key,
    user_id         uuid not null,
    generation_id   uuid not null references ai_generations (id) on delete cascade,
    -- Order within the generation; with generation_id it makes a rerun idempotent.
    position        integer not null,
    front           text not null,
    back            text not null,
    status          text not null default 'proposed'
                    check (status in ('proposed', 'accepted', 'rejected')),
    card_id         uuid,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint ai_suggestions_generation_position_key unique (generation_id, position)
);
create index ai_suggestions_user_status_idx on ai_suggestions (user_id, status);

create table cards (
    id              uuid primary key,
    user_id         uuid not null,
    front           text not null check (char_length(front) between 1 and 500),
    back            text not null check (char_length(back) between 1 and 2000),
    tags            text[] not null default '{}',
    -- Set when the card came from an accepted suggestion; unique so accepting twice
    -- cannot create two cards.
    suggestion_id   uuid references ai_suggestions (id) on delete set null,
    source          text not null default 'manual' check (source in ('manual', 'ai')),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint cards_suggestion_id_key unique (suggestion_id)
);
create index cards_user_created_idx on cards (user_id, created_at desc, id desc);

alter table ai_generations enable row level security;
alter table ai_suggestions enable row level security;
alter table cards enable row level security;

create policy ai_generations_owner on ai_generations
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy ai_suggestions_owner on ai_suggestions
    using (user_id = app_user_id()) with check (user_id = app_user_id());
create policy cards_owner on cards
    using (user_id = app_user_id()) with check (user_id = app_user_id());

-- Generations are written by workers; users create and read them.
grant select, insert on ai_generations to almanac_app;
grant select, update (status, front, back, card_id, updated_at) on ai_suggestions to almanac_app;
grant select, insert, update, delete on cards to almanac_app;
