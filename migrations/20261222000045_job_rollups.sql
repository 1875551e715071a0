-- The console's statistics stay cheap at volume (issue 54, docs/operations.md "The
-- console"): the workers' reconcilers roll finished jobs up by minute once the minute is
-- settled, and `GET /admin/stats` reads the rollups for the settled part of its window
-- and the jobs themselves only for the rest (the minutes at its ends). Rollups are kept 26
-- hours: the longest window is 24.

-- Jobs finished per minute, by kind and final status.
create table job_minutes (
    minute  timestamptz not null check (minute = date_trunc('minute', minute)),
    kind    text not null,
    status  text not null,
    jobs    bigint not null check (jobs > 0),
    primary key (minute, kind, status)
);

-- Wait (created to started) and run (started to finished) times of the jobs that finished
-- in a minute (`span` 60) or an hour (3600), by kind and lane: a histogram of eight
-- buckets per doubling (`job_time_bucket`), each with its jobs and the sum of their
-- seconds, so that a percentile reads as the mean of the bucket it falls in.
create table job_times (
    span     integer not null check (span in (60, 3600)),
    at       timestamptz not null,
    kind     text not null,
    lane     text not null,
    measure  text not null check (measure in ('wait', 'run')),
    bucket   smallint not null,
    jobs     bigint not null check (jobs > 0),
    secs     double precision not null,
    primary key (span, at, kind, lane, measure, bucket)
);

-- Where the rollups end: every job that finished before `until` is in them. One row.
create table job_rollup (
    one    boolean primary key default true check (one),
    until  timestamptz
);
insert into job_rollup default values;

-- A duration's bucket: 0 under a millisecond, then eight per doubling from there (each
-- about 9 % wide), the last (255) holding everything from about six weeks on.
create function job_time_bucket(secs double precision) returns smallint
    language sql immutable parallel safe
    return case when secs < 0.001 then 0
                else least(255, 1 + floor(8 * ln(secs * 1000) / ln(2)))::smallint end;
