-- Publishing off holds what falls due (issue 73): an intent that fell due while its owner
-- could not publish (`PUBLISH_SERVICE_ENABLED` off for them) is marked held from then. When
-- publishing comes back, a held intent later than `PUBLISH_LATE_LIMIT_MINUTES` is not sent:
-- it fails `SCHEDULE_PASSED`; within the limit it goes out as it would have.
alter table publish_intents add column held_since timestamptz;
