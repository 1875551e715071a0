-- Uploaded media (issue 55): images and videos a user keeps for their posts. The bytes live
-- in the media store (`MEDIA_STORE`: a directory or an S3 bucket) under `object_key`; a PNG
-- or WebP image also has a JPEG copy (`jpeg_key`) for the platforms that take only JPEG.
-- `bytes` counts what was uploaded, against `MEDIA_MAX_BYTES_PER_USER`.
create table media (
    id          uuid primary key,
    user_id     uuid not null,
    kind        text not null check (kind in ('photo', 'video')),
    mime        text not null check (mime in ('image/jpeg', 'image/png', 'image/webp', 'video/mp4')),
    bytes       bigint not null check (bytes > 0),
    width       integer check (width > 0),
    height      integer check (height > 0),
    alt_text    text not null default '' check (char_length(alt_text) <= 1000),
    file_name   text not null default '' check (char_length(file_name) <= 255),
    object_key  text not null,
    jpeg_key    text,
    created_at  timestamptz not null default now()
);

create index media_user on media (user_id, id desc);

alter table media enable row level security;
create policy media_owner on media
    using (user_id = app_user_id()) with check (user_id = app_user_id());
-- `update (alt_text)`: its owner rewrites the alternative text (and a delete locks the row).
grant select, insert, delete, update (alt_text) on media to almanac_app;

-- An entry's media, in the order they are posted (at most 10). Ids, not foreign keys: a
-- deleted media leaves the entries that named it (`store::media::delete` takes it out).
alter table calendar_entries
    add column media_ids uuid[] not null default '{}'
        check (cardinality(media_ids) <= 10);

-- Which entries name a media (deleting it takes it out of them; an intent about to publish
-- one keeps it).
create index calendar_entries_media on calendar_entries using gin (media_ids);
