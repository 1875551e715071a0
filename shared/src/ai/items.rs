//! Items of a JSON answer as they complete. Every template's answer is one JSON object
//! whose lists hold the items (`{"entries": [{...}, {...}]}`); a streamed answer is fed
//! piece by piece, and each object of a top-level list is handed out the moment its
//! closing brace arrives, checked to be JSON. Text around the object (a Markdown fence,
//! tags, a sentence) is skipped.
//!
//! The scanner tracks only strings, escapes and nesting; each item is then read by
//! `serde_json`, and the whole object once it closes, so a malformed answer gives the
//! items before the fault and a clear error.

use serde_json::Value;

/// One object of a top-level list, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawItem {
    /// The list's field in the answer, e.g. `entries`.
    pub field: String,
    /// The object (the scanner checked it is JSON by reading it).
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

#[derive(Debug)]
enum Frame {
    Object {
        expect_key: bool,
        key: Option<String>,
    },
    Array {
        field: Option<String>,
    },
}

/// Scans an answer fed in pieces.
#[derive(Debug, Default)]
pub struct ItemParser {
    /// The answer from its first `{` on.
    text: String,
    /// How far `text` was scanned.
    scanned: usize,
    stack: Vec<Frame>,
    in_string: bool,
    escaped: bool,
    string_start: usize,
    item_start: Option<usize>,
    /// Where the root object ends, once it has.
    root_end: Option<usize>,
    /// Items handed out so far.
    items: usize,
    error: Option<Malformed>,
}

impl ItemParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece; returns the items it completed, in order (those before a
    /// fault too). After a fault, [`fault`](Self::fault) says what it was and nothing more
    /// is read.
    pub fn feed(&mut self, piece: &str) -> Vec<RawItem> {
        if self.error.is_some() || self.root_end.is_some() {
            return Vec::new();
        }
        if self.text.is_empty() {
            match piece.find('{') {
                Some(start) => self.text.push_str(&piece[start..]),
                None => return Vec::new(),
            }
        } else {
            self.text.push_str(piece);
        }
        let mut completed = Vec::new();
        if let Err(error) = self.scan(&mut completed) {
            self.error = Some(error);
        }
        completed
    }

    /// What made the answer unreadable, once something has.
    pub fn fault(&self) -> Option<&Malformed> {
        self.error.as_ref()
    }

    /// Whether the answer's object has closed.
    pub fn complete(&self) -> bool {
        self.root_end.is_some()
    }

    /// Items handed out so far.
    pub fn items(&self) -> usize {
        self.items
    }

    /// The whole answer once the input has ended: its object, or why there is none.
    pub fn finish(&self) -> Result<Value, Malformed> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let Some(end) = self.root_end else {
            return Err(Malformed(if self.text.is_empty() {
                "the AI's answer holds no JSON object".into()
            } else {
                format!(
                    "the AI's answer ended before its JSON was complete (after {} items)",
                    self.items
                )
            }));
        };
        serde_json::from_str(&self.text[..end])
            .map_err(|e| Malformed(format!("the AI's answer is not valid JSON: {e}")))
    }

    fn scan(&mut self, completed: &mut Vec<RawItem>) -> Result<(), Malformed> {
        let bytes = self.text.as_bytes();
        let mut i = self.scanned;
        while i < bytes.len() {
            let byte = bytes[i];
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                    let depth = self.stack.len();
                    if let Some(Frame::Object {
                        expect_key: true,
                        key,
                    }) = self.stack.last_mut()
                        && depth == 1
                    {
                        *key = serde_json::from_str(&self.text[self.string_start..=i]).ok();
                    }
                }
                i += 1;
                continue;
            }
            match byte {
                b'"' => {
                    self.in_string = true;
                    self.string_start = i;
                }
                b'{' => {
                    if let (2, Some(Frame::Array { field: Some(_) })) =
                        (self.stack.len(), self.stack.last())
                    {
                        self.item_start = Some(i);
                    }
                    self.stack.push(Frame::Object {
                        expect_key: true,
                        key: None,
                    });
                }
                b'[' => {
                    let field = match (self.stack.len(), self.stack.last()) {
                        (1, Some(Frame::Object { key, .. })) => key.clone(),
                        _ => None,
                    };
                    self.stack.push(Frame::Array { field });
                }
                b'}' => {
                    if !matches!(self.stack.pop(), Some(Frame::Object { .. })) {
                        return Err(self.unexpected('}', i));
                    }
                    if self.stack.is_empty() {
                        self.root_end = Some(i + 1);
                        self.scanned = i + 1;
                        return Ok(());
                    }
                    if self.stack.len() == 2
                        && let Some(start) = self.item_start.take()
                    {
                        let Some(Frame::Array { field: Some(field) }) = self.stack.last() else {
                            unreachable!("an item starts only in a named list");
                        };
                        let value = serde_json::from_str(&self.text[start..=i]).map_err(|e| {
                            Malformed(format!(
                                "item {} of the AI's answer is not valid JSON: {e}",
                                self.items + 1
                            ))
                        })?;
                        completed.push(RawItem {
                            field: field.clone(),
                            value,
                        });
                        self.items += 1;
                    }
                }
                b']' if !matches!(self.stack.pop(), Some(Frame::Array { .. })) => {
                    return Err(self.unexpected(']', i));
                }
                b':' => {
                    if let Some(Frame::Object { expect_key, .. }) = self.stack.last_mut() {
                        *expect_key = false;
                    }
                }
                b',' => {
                    if let Some(Frame::Object { expect_key, key }) = self.stack.last_mut() {
                        *expect_key = true;
                        *key = None;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.scanned = i;
        Ok(())
    }

    fn unexpected(&self, found: char, at: usize) -> Malformed {
        Malformed(format!(
            "the AI's answer is not valid JSON: unexpected `{found}` at character {} (after {} items)",
            self.text[..at].chars().count() + 1,
            self.items
        ))
    }
}

/// Parses a whole answer at once: its items and its object.
pub fn parse_whole(answer: &str) -> (Vec<RawItem>, Result<Value, Malformed>) {
    let mut parser = ItemParser::new();
    let items = parser.feed(answer);
    (items, parser.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn feed_all(pieces: &[&str]) -> (Vec<RawItem>, Result<Value, Malformed>) {
        let mut parser = ItemParser::new();
        let mut items = Vec::new();
        for piece in pieces {
            items.extend(parser.feed(piece));
        }
        (items, parser.finish())
    }

    #[test]
    fn items_come_out_as_their_objects_close() {
        let mut parser = ItemParser::new();
        assert!(
            parser
                .feed("```json\n{\"entries\": [{\"key\": \"a\", ")
                .is_empty()
        );
        let items = parser.feed("\"title\": \"x}\\\"{\"}, {\"key\": \"b\"");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].field, "entries");
        assert_eq!(items[0].value, json!({"key": "a", "title": "x}\"{"}));
        let items = parser.feed("}], \"title\": \"T\"}\n```");
        assert_eq!(items[0].value, json!({"key": "b"}));
        assert_eq!(
            parser.finish().unwrap()["title"],
            json!("T"),
            "the object is whole"
        );
    }

    #[test]
    fn nested_lists_and_objects_are_parts_of_their_item() {
        let answer = json!({ "title": "W", "sections": [
            { "title": "A", "items": [{ "title": "a1" }, { "title": "a2" }] },
            { "title": "B", "items": [] },
        ], "meta": { "list": [{ "not": "an item" }] } })
        .to_string();
        let (items, whole) = parse_whole(&answer);
        assert_eq!(items.len(), 2, "the sections, not the objects deeper down");
        assert_eq!(items[0].field, "sections");
        assert_eq!(items[0].value["items"][1]["title"], "a2");
        assert_eq!(items[1].value["title"], "B");
        assert_eq!(whole.unwrap()["meta"]["list"][0]["not"], "an item");
    }

    #[test]
    fn malformed_answers_keep_the_valid_prefix() {
        let (items, whole) = feed_all(&[
            "{\"entries\": [{\"key\": \"a\"}, {\"key\": \"b\"}",
            ", {\"key\": tru}]}",
        ]);
        assert_eq!(items.len(), 2);
        assert!(
            whole
                .unwrap_err()
                .0
                .contains("item 3 of the AI's answer is not valid JSON")
        );
        let (items, whole) = feed_all(&["{\"entries\": [{\"key\": \"a\"}] ] }"]);
        assert_eq!(items.len(), 1);
        assert!(whole.unwrap_err().0.contains("unexpected `]`"));
        let (items, whole) = feed_all(&["{\"entries\": [{\"key\": \"a\"}, {\"ke"]);
        assert_eq!(items.len(), 1);
        assert_eq!(
            whole.unwrap_err().0,
            "the AI's answer ended before its JSON was complete (after 1 items)"
        );
        assert_eq!(
            feed_all(&["I cannot help with that."]).1.unwrap_err().0,
            "the AI's answer holds no JSON object"
        );
    }

    fn answer() -> impl Strategy<Value = (Vec<Value>, String)> {
        let text = "[a-z{}\\[\\]\",:\\\\ é🙂\n]{0,12}";
        let item = (text, text, prop::collection::vec(text, 0..3))
            .prop_map(|(key, title, tags)| json!({ "key": key, "title": title, "tags": tags, "n": {"x": [1, {"y": null}]} }));
        prop::collection::vec(item, 0..6).prop_map(|items| {
            let answer = json!({ "entries": items, "note": "{[" });
            let pretty = serde_json::to_string_pretty(&answer).unwrap();
            (items, format!("```json\n{pretty}\n```"))
        })
    }

    /// `text` cut at the given fractions (on character boundaries).
    fn pieces(text: &str, cuts: &[f64]) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let mut at: Vec<usize> = cuts
            .iter()
            .map(|c| (c * chars.len() as f64) as usize)
            .collect();
        at.sort_unstable();
        let mut out = Vec::new();
        let mut from = 0;
        for cut in at.into_iter().chain([chars.len()]) {
            out.push(chars[from..cut.max(from)].iter().collect());
            from = cut.max(from);
        }
        out
    }

    proptest! {
        #[test]
        fn any_split_gives_the_items_of_the_whole(
            (expected, text) in answer(),
            cuts in prop::collection::vec(0.0f64..1.0, 0..40),
        ) {
            let (whole_items, whole) = parse_whole(&text);
            let values: Vec<Value> = whole_items.iter().map(|item| item.value.clone()).collect();
            prop_assert_eq!(&values, &expected);
            prop_assert!(whole.is_ok());
            let pieces = pieces(&text, &cuts);
            let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
            let (split_items, split_whole) = feed_all(&refs);
            prop_assert_eq!(split_items, whole_items);
            prop_assert_eq!(split_whole.unwrap(), whole.unwrap());
        }

        #[test]
        fn a_cut_answer_gives_the_items_before_the_cut_and_an_error(
            (expected, _) in answer(),
            cut in 0.0f64..1.0,
        ) {
            // Written compactly, so where each item ends is known.
            let mut text = String::from("{\"entries\":[");
            let mut ends = Vec::new();
            for (i, item) in expected.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&item.to_string());
                ends.push(text.len());
            }
            text.push_str("]}");
            let mut at = ((cut * text.len() as f64) as usize).min(text.len() - 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let kept = &text[..at];
            let (items, whole) = parse_whole(kept);
            let closed = ends.iter().filter(|end| **end <= at).count();
            let values: Vec<Value> = items.iter().map(|item| item.value.clone()).collect();
            prop_assert_eq!(&values[..], &expected[..closed]);
            prop_assert!(whole.is_err());
        }
    }
}
