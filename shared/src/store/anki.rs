//! Anki packages (`.apkg`): a zip of a SQLite collection in Anki's documented schema 11
//! (`collection.anki2`) and an empty media map. Everything that names a note is derived
//! from the card it comes from, so that a package exported again updates the notes an
//! earlier import made (and keeps their reviews) instead of adding copies: the note's GUID
//! and ids from the card's id, its modification time from the card's last edit (Anki updates
//! a note only from a newer one), the deck's id from its owner, the note types' ids fixed.

use std::io::Write;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::cards::Exported;
use crate::domain::generation::CardType;

/// The deck's name in Anki.
pub const DECK_NAME: &str = "Almanac";
const BASIC_NAME: &str = "Almanac Basic";
const CLOZE_NAME: &str = "Almanac Cloze";

/// A positive id, the same for the same seed, below 2^53 (JavaScript-safe, as Anki's are).
fn stable_id(kind: &str, seed: &[u8]) -> i64 {
    let digest = Sha256::new()
        .chain_update(kind.as_bytes())
        .chain_update(seed)
        .finalize();
    let raw = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    let low = 1u64 << 40;
    (low + raw % ((1u64 << 53) - low)) as i64
}

/// The deck of `user`'s cards.
pub fn deck_id(user: Uuid) -> i64 {
    stable_id("deck", user.as_bytes())
}

/// A note type's id (the same in every package).
pub fn model_id(kind: CardType) -> i64 {
    match kind {
        CardType::Basic => stable_id("model", b"almanac-basic"),
        CardType::Cloze => stable_id("model", b"almanac-cloze"),
    }
}

/// The stock note type of Anki's that a card of `card_type` is imported as from the CSV
/// export (every collection has these; the package carries its own).
pub fn stock_note_type(card_type: CardType) -> &'static str {
    match card_type {
        CardType::Basic => "Basic",
        CardType::Cloze => "Cloze",
    }
}

/// The GUID of the note a card becomes (also the CSV export's `GUID` column).
pub fn guid(card_id: Uuid) -> String {
    format!("almanac-{}", card_id.simple())
}

/// The cards a note makes: one for a basic note; one per cloze number (`c1`, `c2`...) for
/// a cloze note, as many as its highest number.
fn card_count(card: &Exported) -> u32 {
    match card.card_type {
        CardType::Basic => 1,
        CardType::Cloze => {
            static NUMBER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
                regex::Regex::new(r"\{\{c([1-9][0-9]*)::").expect("the cloze number pattern")
            });
            NUMBER
                .captures_iter(&card.front)
                .filter_map(|c| c[1].parse::<u32>().ok())
                .max()
                .unwrap_or(1)
                .min(500)
        }
    }
}

/// Anki's checksum of a note's first field: the first 8 hex digits of its SHA-1.
fn checksum(field: &str) -> i64 {
    let digest = Sha1::digest(field.as_bytes());
    i64::from(u32::from_be_bytes(digest[..4].try_into().expect("4 bytes")))
}

/// Tags as Anki stores them: space-separated, with a space on each side; a tag has no
/// spaces of its own.
fn anki_tags(tags: &[String]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let tags: Vec<String> = tags
        .iter()
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join("_"))
        .collect();
    format!(" {} ", tags.join(" "))
}

const CSS: &str = ".card {\n font-family: arial;\n font-size: 20px;\n text-align: center;\n color: black;\n background-color: white;\n}\n.cloze {\n font-weight: bold;\n color: blue;\n}\n";

fn field(name: &str, ord: u32) -> Value {
    json!({ "name": name, "ord": ord, "sticky": false, "rtl": false, "font": "Arial",
        "size": 20, "media": [] })
}

/// A note type of `kind` in the collection's `models` JSON.
fn model(kind: CardType, deck: i64, now: i64) -> Value {
    let id = model_id(kind);
    let (name, fields, template, kind_number) = match kind {
        CardType::Basic => (
            BASIC_NAME,
            vec![field("Front", 0), field("Back", 1)],
            json!({ "name": "Card 1", "ord": 0, "qfmt": "{{Front}}",
                "afmt": "{{FrontSide}}\n\n<hr id=answer>\n\n{{Back}}",
                "did": null, "bqfmt": "", "bafmt": "" }),
            0,
        ),
        CardType::Cloze => (
            CLOZE_NAME,
            vec![field("Text", 0), field("Back Extra", 1)],
            json!({ "name": "Cloze", "ord": 0, "qfmt": "{{cloze:Text}}",
                "afmt": "{{cloze:Text}}<br>\n{{Back Extra}}",
                "did": null, "bqfmt": "", "bafmt": "" }),
            1,
        ),
    };
    json!({
        "id": id, "name": name, "type": kind_number, "mod": now, "usn": -1, "sortf": 0,
        "did": deck, "tmpls": [template], "flds": fields, "css": CSS,
        "latexPre": "\\documentclass[12pt]{article}\n\\special{papersize=3in,5in}\n\\usepackage{amssymb,amsmath}\n\\pagestyle{empty}\n\\setlength{\\parindent}{0in}\n\\begin{document}\n",
        "latexPost": "\\end{document}", "latexsvg": false,
        "req": [[0, if kind == CardType::Basic { "all" } else { "any" }, [0]]],
        "tags": [], "vers": [],
    })
}

fn deck(id: i64, name: &str, now: i64) -> Value {
    json!({ "id": id, "name": name, "conf": 1, "desc": "", "dyn": 0, "collapsed": false,
        "extendNew": 10, "extendRev": 50, "mod": now, "usn": -1,
        "newToday": [0, 0], "revToday": [0, 0], "lrnToday": [0, 0], "timeToday": [0, 0] })
}

const SCHEMA: &str = "
create table col (id integer primary key, crt integer not null, mod integer not null,
    scm integer not null, ver integer not null, dty integer not null, usn integer not null,
    ls integer not null, conf text not null, models text not null, decks text not null,
    dconf text not null, tags text not null);
create table notes (id integer primary key, guid text not null, mid integer not null,
    mod integer not null, usn integer not null, tags text not null, flds text not null,
    sfld integer not null, csum integer not null, flags integer not null, data text not null);
create table cards (id integer primary key, nid integer not null, did integer not null,
    ord integer not null, mod integer not null, usn integer not null, type integer not null,
    queue integer not null, due integer not null, ivl integer not null, factor integer not null,
    reps integer not null, lapses integer not null, left integer not null, odue integer not null,
    odid integer not null, flags integer not null, data text not null);
create table revlog (id integer primary key, cid integer not null, usn integer not null,
    ease integer not null, ivl integer not null, lastIvl integer not null,
    factor integer not null, time integer not null, type integer not null);
create table graves (usn integer not null, oid integer not null, type integer not null);
create index ix_notes_usn on notes (usn);
create index ix_cards_usn on cards (usn);
create index ix_revlog_usn on revlog (usn);
create index ix_cards_nid on cards (nid);
create index ix_cards_sched on cards (did, queue, due);
create index ix_revlog_cid on revlog (cid);
create index ix_notes_csum on notes (csum);
";

/// Writes the collection of `cards`' notes into the SQLite database `conn`.
fn write_collection(
    conn: &Connection,
    user: Uuid,
    cards: &[Exported],
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    let deck = deck_id(user);
    let secs = now.timestamp();
    let models = json!({
        model_id(CardType::Basic).to_string(): model(CardType::Basic, deck, secs),
        model_id(CardType::Cloze).to_string(): model(CardType::Cloze, deck, secs),
    });
    let decks = json!({ "1": self::deck(1, "Default", secs), deck.to_string(): self::deck(deck, DECK_NAME, secs) });
    let dconf = json!({ "1": {
        "id": 1, "name": "Default", "mod": 0, "usn": 0, "maxTaken": 60, "autoplay": true,
        "timer": 0, "replayq": true, "dyn": false,
        "new": { "bury": true, "delays": [1.0, 10.0], "initialFactor": 2500, "ints": [1, 4, 7],
            "order": 1, "perDay": 20, "separate": true },
        "lapse": { "delays": [10.0], "leechAction": 0, "leechFails": 8, "minInt": 1, "mult": 0.0 },
        "rev": { "bury": true, "ease4": 1.3, "fuzz": 0.05, "ivlFct": 1.0, "maxIvl": 36500,
            "minSpace": 1, "perDay": 200 },
    } });
    let conf = json!({ "activeDecks": [1], "curDeck": 1, "newSpread": 0, "collapseTime": 1200,
        "timeLim": 0, "estTimes": true, "dueCounts": true, "curModel": model_id(CardType::Basic).to_string(),
        "nextPos": cards.len() + 1, "sortType": "noteFld", "sortBackwards": false, "addToCur": true });
    conn.execute(
        "insert into col values (1, ?1, ?2, ?2, 11, 0, 0, 0, ?3, ?4, ?5, ?6, '{}')",
        params![
            secs - secs.rem_euclid(86_400),
            now.timestamp_millis(),
            conf.to_string(),
            models.to_string(),
            decks.to_string(),
            dconf.to_string(),
        ],
    )?;
    for (position, card) in cards.iter().enumerate() {
        let seed = card.id.as_bytes();
        let note_id = stable_id("note", seed);
        let modified = card.updated_at.timestamp();
        conn.execute(
            "insert into notes values (?1, ?2, ?3, ?4, -1, ?5, ?6, ?7, ?8, 0, '')",
            params![
                note_id,
                guid(card.id),
                model_id(card.card_type),
                modified,
                anki_tags(&card.tags),
                format!("{}\u{1f}{}", card.front, card.back),
                card.front,
                checksum(&card.front),
            ],
        )?;
        // New cards, in the order the cards were made: one, or one per cloze number.
        for ord in 0..card_count(card) {
            let card_seed = [seed.as_slice(), &ord.to_be_bytes()].concat();
            let id = if ord == 0 {
                stable_id("card", seed)
            } else {
                stable_id("card", &card_seed)
            };
            conn.execute(
                "insert into cards values (?1, ?2, ?3, ?4, ?5, -1, 0, 0, ?6, 0, 0, 0, 0, 0, 0, 0, 0, '')",
                params![id, note_id, deck, ord, modified, position as i64 + 1],
            )?;
        }
    }
    Ok(())
}

/// The `.apkg` of `user`'s `cards`, one note each (blocking: SQLite and zip work on a temporary file).
pub fn package(user: Uuid, cards: &[Exported], now: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
    let path = std::env::temp_dir().join(format!("almanac-{}.anki2", Uuid::new_v4()));
    let collection = (|| {
        let conn = Connection::open(&path)?;
        write_collection(&conn, user, cards, now)?;
        conn.close().map_err(|(_, error)| error)?;
        anyhow::Ok(std::fs::read(&path)?)
    })();
    let _ = std::fs::remove_file(&path);
    let collection = collection?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("collection.anki2", options)?;
    zip.write_all(&collection)?;
    zip.start_file("media", options)?;
    zip.write_all(b"{}")?;
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_positive_and_distinct() {
        let card = Uuid::now_v7();
        assert_eq!(guid(card), guid(card));
        assert_ne!(
            stable_id("note", card.as_bytes()),
            stable_id("card", card.as_bytes())
        );
        let user = Uuid::now_v7();
        assert_eq!(deck_id(user), deck_id(user));
        for id in [
            deck_id(user),
            model_id(CardType::Basic),
            model_id(CardType::Cloze),
        ] {
            assert!(id > 1 << 40 && id < 1 << 53, "{id}");
        }
        assert_ne!(model_id(CardType::Basic), model_id(CardType::Cloze));
        assert_eq!(checksum("Hello"), 0xf7ff9e8b);
        assert_eq!(
            anki_tags(&["a".into(), "two words".into()]),
            " a two_words "
        );
    }
}
