//! Almanac's end-to-end tests: the real API and worker, in-process on port 0, against the
//! real Postgres and Redis, with a fresh database and Redis prefix per test. Outside HTTP
//! services are local fakes. Set `TEST_LOG=1` to see the services' logs.

#[cfg(test)]
mod helpers;

#[cfg(test)]
mod analytics;
#[cfg(test)]
mod anki_export;
#[cfg(test)]
mod api_contract;
#[cfg(test)]
mod api_keys;
#[cfg(test)]
mod auth;
#[cfg(test)]
mod breaker;
#[cfg(test)]
mod browser;
#[cfg(test)]
mod busy;
#[cfg(test)]
mod calendar_continue;
#[cfg(test)]
mod calendar_edits;
#[cfg(test)]
mod calendar_export;
#[cfg(test)]
mod calendar_feed;
#[cfg(test)]
mod calendar_legacy;
#[cfg(test)]
mod calendars;
#[cfg(test)]
mod cancel;
#[cfg(test)]
mod card_duplicates;
#[cfg(test)]
mod channel_warnings;
#[cfg(test)]
mod console;
#[cfg(test)]
mod deploy;
#[cfg(test)]
mod digests;
#[cfg(test)]
mod events;
#[cfg(test)]
mod fairness;
#[cfg(test)]
mod faults;
#[cfg(test)]
mod flags;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod generated_client;
#[cfg(test)]
mod generation_reuse;
#[cfg(test)]
mod generations;
#[cfg(test)]
mod isolation;
#[cfg(test)]
mod job_budget;
#[cfg(test)]
mod job_core;
#[cfg(test)]
mod job_errors;
#[cfg(test)]
mod local_schedules;
#[cfg(test)]
mod log_fields;
#[cfg(test)]
mod mcp;
#[cfg(test)]
mod media;
#[cfg(test)]
mod operations;
#[cfg(test)]
mod organic;
#[cfg(test)]
mod publishing;
#[cfg(test)]
mod relay_faults;
#[cfg(test)]
mod reliability;
#[cfg(test)]
mod retention;
#[cfg(test)]
mod review;
#[cfg(test)]
mod schedules;
#[cfg(test)]
mod seed_client;
#[cfg(test)]
mod statuses;
#[cfg(test)]
mod streaming;
#[cfg(test)]
mod strict_input;
#[cfg(test)]
mod structure;
#[cfg(test)]
mod themes;
#[cfg(test)]
mod transport_faults;

fn main() {
    println!("run the end-to-end suite with `make test` (cargo test -p almanac-tests)");
}
#[cfg(test)]
mod web;
#[cfg(test)]
mod webhook_deliveries;
#[cfg(test)]
mod webhooks;
