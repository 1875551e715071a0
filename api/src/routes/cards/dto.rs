//! The card routes' wire types: a card (basic or cloze), its commands, and the export's bodies.

use super::TAG_MAX_CHARS;
use crate::text::{ClozeText, Text, Word};
use almanac_shared::domain::generation::{self, CardType};
use almanac_shared::store::cards::CardRow;
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object, payload::PlainText};
use uuid::Uuid;

/// A card side as sent.
pub type Front = Text<1, { generation::FRONT_MAX_CHARS }>;

/// A back as sent: may be empty for a cloze card only (its Extra).
pub type Back = Text<0, { generation::BACK_MAX_CHARS }>;

/// A side that must hold something other than spaces, at most `MAX` characters as sent.
pub type Side<const MAX: usize> = Text<1, MAX>;

pub type CardTag = Word<TAG_MAX_CHARS>;

/// A card: `basic` (a question and its answer), or `cloze` (its text in `front`, with
/// `{{c1::...}}` deletions, its Extra in `back`).
#[derive(Debug, Clone, Object)]
pub struct CardDto {
    pub id: Uuid,
    // An enum field goes undescribed: a description would wrap its `$ref` in an `allOf`,
    // which generated clients cannot read. The type's own description says it.
    pub card_type: CardType,
    pub front: String,
    pub back: String,
    pub tags: Vec<String>,
    /// `manual` or `ai` (from an accepted suggestion).
    pub source: String,
    #[oai(nullable)]
    pub suggestion_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct CardList {
    pub items: Vec<CardDto>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
}

/// A basic card's type as written by hand: `basic` (it may be left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum BasicCardType {
    Basic,
}

/// A cloze card's type as written by hand: `cloze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ClozeCardType {
    Cloze,
}

/// A basic card written by hand: a question and its answer, each with something other
/// than spaces. `card_type` may be left out.
#[derive(Debug, Clone, Object)]
pub struct BasicCardCommand {
    // Undescribed, as `CardDto::card_type`.
    pub card_type: Option<BasicCardType>,
    pub front: Front,
    pub back: Side<{ generation::BACK_MAX_CHARS }>,
    #[oai(default, validator(max_items = 20))]
    pub tags: Vec<CardTag>,
}

/// A cloze card written by hand: its text in `front`, hiding at least one part as
/// `{{c1::...}}` (`{{c2::...}}` and on make more cards of the note), and its Extra in
/// `back`, which may be empty.
#[derive(Debug, Clone, Object)]
pub struct ClozeCardCommand {
    // Undescribed, as `CardDto::card_type`.
    pub card_type: ClozeCardType,
    pub front: ClozeText<{ generation::FRONT_MAX_CHARS }>,
    pub back: Back,
    #[oai(default, validator(max_items = 20))]
    pub tags: Vec<CardTag>,
}

/// `csv` (Anki's text import) or `apkg` (an Anki package).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Apkg,
}

crate::responses! {
    /// The export's two bodies, as poem-openapi derives them (two answers with status 200).
    pub enum ExportBody {
        /// For Anki. `format=csv`: CSV for Anki's importer, columns GUID, note type, front,
        /// back, tags (space-separated), with Anki's header lines naming the separator, the
        /// columns, and which of them are the GUID, the note type and the tags.
        /// `format=apkg`: an Anki package (`almanac.apkg`), the deck "Almanac" of the caller's
        /// cards. Either way a card keeps its note's GUID (from the card's id), and a package's
        /// note carries the card's last edit as its modification time, so that an export
        /// imported again updates the notes (and keeps their reviews) instead of adding copies.
        200 as "text/csv; charset=utf-8" => Csv(
            PlainText<String>,
            #[header = "Content-Disposition"] String,
        ),
        200 as "application/zip" => Apkg(
            poem_openapi::payload::Binary<Vec<u8>>,
            #[header = "Content-Disposition"] String,
        ),
    }
}

crate::from_row!(CardRow => CardDto {
    id,
    card_type,
    front,
    back,
    tags,
    source,
    suggestion_id,
    created_at,
    updated_at,
});
