-- A published post's first comment (issue: carousels and first comments): sent after the
-- post as its own step of the same intent, at most once. `comment_sending_at` is marked in
-- a commit of its own before the comment's request goes; an attempt finding it marked
-- without an outcome records the comment `unknown` and never sends it again.
alter table publish_intents
    add column first_comment jsonb
        check (first_comment is null or first_comment->>'status' in ('sent', 'failed', 'unknown')),
    add column comment_sending_at timestamptz;

-- A post may carry as many media as the platform taking the most does (TikTok's photo
-- posts: 35); each platform's own most is its catalogue's `carousel.maxItems`.
alter table calendar_entries drop constraint calendar_entries_media_ids_check;
alter table calendar_entries add constraint calendar_entries_media_ids_check
    check (cardinality(media_ids) <= 35);
alter table posts drop constraint posts_media_ids_check;
alter table posts add constraint posts_media_ids_check check (cardinality(media_ids) <= 35);
