-- The events of a commit are published exactly once, whoever publishes them.
--
-- A worker stages the events that report a commit (a batch of suggestions, a calendar
-- run's diff) in Redis under a fresh token before the commit, and the commit records the
-- token here, in the same statement as the results. After the commit the worker publishes
-- them; should it die or be interrupted first, whoever next finds the ledger ahead of the
-- event stream (a stream waiting for the job's final event, the next attempt's claim, the
-- reconciler) publishes the staged events whose token the ledger holds: those of a commit
-- that happened, never those of one that did not.
alter table jobs add column events_token uuid;
