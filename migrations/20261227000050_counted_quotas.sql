-- Quotas Almanac counts itself (YouTube's daily uploads, shared by every user of the
-- Google Cloud project): the posts of a channel that went out, or may have, since a time.
-- An intent counts from when it was marked sending, accepted, found unknown or published.
create index publish_intents_quota on publish_intents
    (channel, (coalesce(sending_at, sent_at, unknown_since, published_at)))
    where coalesce(sending_at, sent_at, unknown_since, published_at) is not null;
