-- A media's tags (issue: media you manage): the words a person files it under, searched
-- by `GET /v1/media?tag=`; at most 20, each 1 to 40 characters (the API holds them to it).
alter table media
    add column tags text[] not null default '{}'
        check (cardinality(tags) <= 20);
grant update (tags) on media to almanac_app;
