-- A regeneration that reached the time limit is continued (issue 74): the continuing run
-- asks only for the slots its proposal lacks, and its changes join that proposal, which
-- stays the regeneration's (`proposal_run_id`: the regeneration whose proposal it adds to).
alter table calendar_runs add column proposal_run_id uuid references calendar_runs (id);
create index calendar_runs_proposal on calendar_runs (proposal_run_id) where proposal_run_id is not null;
