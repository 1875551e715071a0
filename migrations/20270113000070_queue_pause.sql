-- A queue like Buffer's (issue 84): a channel's posting queue paused by a person. While
-- `queue_paused_at` is set the dispatcher sends none of the channel's queued posts;
-- resuming gives those whose time passed the first free slots from then.
alter table platform_accounts add column queue_paused_at timestamptz;
