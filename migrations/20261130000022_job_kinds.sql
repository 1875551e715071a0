-- The kinds of job, one row each: the ledger's foreign key checks a job's kind against this
-- table instead of a CHECK list. The code's list (`JobKind`) writes itself here whenever
-- migrations run (`store::jobs::register_kinds`, called by `db::migrate`), so adding a kind
-- touches no migration's list; the rows below are the kinds jobs already name.
create table job_kinds (
    kind          text primary key check (kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    registered_at timestamptz not null default now()
);

insert into job_kinds (kind) select distinct kind from jobs;

alter table jobs drop constraint jobs_kind_check;
alter table jobs add constraint jobs_kind_registered
    foreign key (kind) references job_kinds (kind);

grant select on job_kinds to almanac_app;
