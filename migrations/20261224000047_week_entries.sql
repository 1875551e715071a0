-- An organic week added to a calendar (issue 55): each placement becomes an entry keyed
-- `week/<brand>/<week start>/<placement id>`, so adding the week again updates the entries
-- it added instead of adding more. `placement_id` marks an entry as coming from a week.
-- Such entries are `manual` (regenerations never touch them) and not `edited` until their
-- owner edits one, which adding the week again then leaves as it is.
alter table calendar_entries add column placement_id text;
