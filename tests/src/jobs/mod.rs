//! The job core every kind shares: the ledger's rules, errors, budgets, cancels,
//! retention, fair turns, the event stream, streamed AI answers and the AI's breaker.

mod breaker;
mod budget;
mod cancel;
mod core;
mod errors;
mod events;
pub(crate) mod fairness;
pub(crate) mod retention;
mod streaming;
