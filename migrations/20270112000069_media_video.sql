-- Media you manage (issue 84): a video's length and frame size, read from its file at upload
-- (`width` and `height` were an image's only), and the poster frame the web app takes from
-- it (`poster_key`, a JPEG beside the video in the media store) to show in its place.
-- Videos uploaded before this carry no length: the dry run checks what it knows.
alter table media
    add column duration_ms integer check (duration_ms >= 0),
    add column poster_key text;
grant update (poster_key) on media to almanac_app;

-- `GET /v1/media?tag=`: the media filed under a tag.
create index media_tags on media using gin (tags);
