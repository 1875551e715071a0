//! What the end-to-end suite (`main.rs`) and the benchmark (`bin/bench`) share.

pub mod fake_ai;
pub mod fake_http;
pub mod mp4;
pub mod processes;
