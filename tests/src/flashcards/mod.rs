//! Flashcards (seed 002): generating suggestions from a text, reusing an earlier
//! generation, reviewing them into cards, duplicates, and the Anki export.

mod anki;
mod duplicates;
mod generations;
mod reuse;
mod review;
