-- A job's kind is written only from the code's `JobKind` (an enum the API and workers share),
-- and read back through it. The foreign key to `job_kinds` checked it again on every insert:
-- a lookup and a key-share lock on the kind's row, which every concurrent submit of that kind
-- shared (a multixact and a WAL record per insert under load); measured at 4.5 % of
-- Postgres's time per job end to end (docs/performance.md). No list of kinds stays in the
-- database, so adding a kind still touches no migration.
alter table jobs drop constraint jobs_kind_registered;
drop table job_kinds;
