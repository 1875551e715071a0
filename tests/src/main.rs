//! Almanac's end-to-end tests: the real API and worker, in-process on port 0, against the
//! real Postgres and Redis, with a fresh database and Redis prefix per test. Outside HTTP
//! services are local fakes. Set `TEST_LOG=1` to see the services' logs.

#[cfg(test)]
mod calendars;
#[cfg(test)]
mod contract;
#[cfg(test)]
mod faults;
#[cfg(test)]
mod flashcards;
#[cfg(test)]
mod helpers;
#[cfg(test)]
mod jobs;
#[cfg(test)]
mod media;
#[cfg(test)]
mod operations;
#[cfg(test)]
mod organic;
#[cfg(test)]
mod publishing;
#[cfg(test)]
mod sign_in;
#[cfg(test)]
mod structure;
#[cfg(test)]
mod syntheses;
#[cfg(test)]
mod web;
#[cfg(test)]
mod webhooks;
#[cfg(test)]
mod workspaces;

fn main() {
    println!("run the end-to-end suite with `make test` (cargo test -p almanac-tests)");
}
