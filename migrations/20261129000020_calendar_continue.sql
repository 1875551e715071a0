-- A run that continues an ended one (`POST /v1/calendars/{id}/runs/{runId}/continue`): it
-- asks the AI only for the slots its calendar lacks and saves them straight into it.
alter table calendar_runs add column continues uuid references calendar_runs (id);
