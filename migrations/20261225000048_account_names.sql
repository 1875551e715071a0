-- A channel's name as people know it on its platform, besides its handle: Instagram's and
-- TikTok's display name, a LinkedIn member's or page's name. Read at connect.
alter table platform_accounts add column display_name text;
