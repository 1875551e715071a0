-- A published post's public address (issue 53: a publish receipt names the post's id and
-- its URL), asked of the platform once, by the worker that settles the intent: LinkedIn's
-- is the post's URN on the feed, TikTok's names the creator, Instagram's is the media's
-- permalink. Null where the platform gave none.
alter table publish_intents
    add column post_url text
        check (post_url is null or (char_length(post_url) <= 2048 and post_url ~ '^https://'));
