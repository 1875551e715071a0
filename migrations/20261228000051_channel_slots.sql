-- A channel's posting slots (issue 57): the weekly times its queue fills, in the zone they
-- are read in. `slots` is `[{"weekday": "mon".."sun", "time": "HH:MM"}]`, sorted, without
-- repeats, and at most 168 of them.
alter table platform_accounts
    add column slot_timezone text not null default 'UTC'
        check (char_length(slot_timezone) between 1 and 64),
    add column slots jsonb not null default '[]'
        check (jsonb_typeof(slots) = 'array' and jsonb_array_length(slots) <= 168);
