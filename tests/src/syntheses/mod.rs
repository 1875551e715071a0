//! Syntheses (seed 004): themes and their sources, syntheses on demand and on a
//! schedule (in UTC or the reader's time), and the digests they email.

pub(crate) mod digests;
mod local_time;
mod schedules;
pub(crate) mod themes;
