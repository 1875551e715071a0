//! One post for every network: the words and media a post's entries share, the fields an
//! entry says on its own (its variant), and what each entry holds as a result. An entry
//! follows the post for every field it has no variant of. Pure.

use uuid::Uuid;

use super::{EntryContent, Invalid, invalid};

crate::text_enum! {
    /// A field of a post an entry may have its own value of.
    pub enum PostField in "camelCase" {
        Title,
        Caption,
        Hashtags,
        CallToAction,
        MediaIds,
        FirstComment,
    }
}

/// At most this many characters of a first comment (a caption's limit).
pub const FIRST_COMMENT_MAX: usize = super::CAPTION_MAX;

/// The longest title made from a caption.
const DERIVED_TITLE_MAX: usize = 80;

/// What a post (or one of its entries) says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostContent {
    pub title: String,
    pub caption: String,
    pub hashtags: Vec<String>,
    pub call_to_action: String,
    pub media_ids: Vec<Uuid>,
    pub first_comment: String,
}

/// What an entry says on its own: `Some` for each field it has a variant of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variant {
    pub title: Option<String>,
    pub caption: Option<String>,
    pub hashtags: Option<Vec<String>>,
    pub call_to_action: Option<String>,
    pub media_ids: Option<Vec<Uuid>>,
    pub first_comment: Option<String>,
}

/// One field of a variant as a change gives it: left as it is, dropped (the entry follows
/// the post again), or set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FieldChange<T> {
    #[default]
    Keep,
    Drop,
    Set(T),
}

impl<T> FieldChange<T> {
    fn apply(self, own: &mut Option<T>) {
        match self {
            FieldChange::Keep => {}
            FieldChange::Drop => *own = None,
            FieldChange::Set(value) => *own = Some(value),
        }
    }
}

/// A change of one entry's variant, field by field.
#[derive(Debug, Clone, Default)]
pub struct VariantChange {
    pub title: FieldChange<String>,
    pub caption: FieldChange<String>,
    pub hashtags: FieldChange<Vec<String>>,
    pub call_to_action: FieldChange<String>,
    pub media_ids: FieldChange<Vec<Uuid>>,
    pub first_comment: FieldChange<String>,
}

impl Variant {
    /// The variant an entry holding `entry` has, where it owns `own`.
    pub fn of_entry(own: &[PostField], entry: &PostContent) -> Self {
        let has = |field| own.contains(&field);
        Self {
            title: has(PostField::Title).then(|| entry.title.clone()),
            caption: has(PostField::Caption).then(|| entry.caption.clone()),
            hashtags: has(PostField::Hashtags).then(|| entry.hashtags.clone()),
            call_to_action: has(PostField::CallToAction).then(|| entry.call_to_action.clone()),
            media_ids: has(PostField::MediaIds).then(|| entry.media_ids.clone()),
            first_comment: has(PostField::FirstComment).then(|| entry.first_comment.clone()),
        }
    }

    /// The fields it has its own value of, in declaration order.
    pub fn own(&self) -> Vec<PostField> {
        [
            (PostField::Title, self.title.is_some()),
            (PostField::Caption, self.caption.is_some()),
            (PostField::Hashtags, self.hashtags.is_some()),
            (PostField::CallToAction, self.call_to_action.is_some()),
            (PostField::MediaIds, self.media_ids.is_some()),
            (PostField::FirstComment, self.first_comment.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, own)| own.then_some(field))
        .collect()
    }

    /// What the entry says: its own values, the post's `shared` ones for the rest.
    pub fn over(&self, shared: &PostContent) -> PostContent {
        PostContent {
            title: self.title.clone().unwrap_or_else(|| shared.title.clone()),
            caption: self
                .caption
                .clone()
                .unwrap_or_else(|| shared.caption.clone()),
            hashtags: self
                .hashtags
                .clone()
                .unwrap_or_else(|| shared.hashtags.clone()),
            call_to_action: self
                .call_to_action
                .clone()
                .unwrap_or_else(|| shared.call_to_action.clone()),
            media_ids: self
                .media_ids
                .clone()
                .unwrap_or_else(|| shared.media_ids.clone()),
            first_comment: self
                .first_comment
                .clone()
                .unwrap_or_else(|| shared.first_comment.clone()),
        }
    }

    /// The variant after `change`.
    pub fn changed(mut self, change: VariantChange) -> Self {
        change.title.apply(&mut self.title);
        change.caption.apply(&mut self.caption);
        change.hashtags.apply(&mut self.hashtags);
        change.call_to_action.apply(&mut self.call_to_action);
        change.media_ids.apply(&mut self.media_ids);
        change.first_comment.apply(&mut self.first_comment);
        self
    }
}

impl PostContent {
    /// Its words held to an entry's limits (`field` prefixes the field named in a
    /// refusal: `variants.<channelId>.` for a variant), hashtags normalised.
    pub fn checked(mut self, field: &str) -> Result<Self, Invalid> {
        let mut content = EntryContent {
            title: self.title.trim().to_owned(),
            caption: self.caption,
            format: String::new(),
            hashtags: self.hashtags,
            call_to_action: self.call_to_action,
        };
        content
            .validate()
            .map_err(|refused| invalid(format!("{field}{}", refused.field), refused.reason))?;
        if self.first_comment.chars().count() > FIRST_COMMENT_MAX {
            return Err(invalid(
                format!("{field}firstComment"),
                format!("must be at most {FIRST_COMMENT_MAX} characters"),
            ));
        }
        content.normalise_hashtags();
        self.title = content.title;
        self.caption = content.caption;
        self.hashtags = content.hashtags;
        self.call_to_action = content.call_to_action;
        Ok(self)
    }
}

/// A post's title when none was given: the caption's first line; past
/// [`DERIVED_TITLE_MAX`] characters its first sentence, else cut at a word (with `…`);
/// `Untitled post` for an empty caption.
pub fn derived_title(caption: &str) -> String {
    let line = caption
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    if line.is_empty() {
        return "Untitled post".to_owned();
    }
    if line.chars().count() <= DERIVED_TITLE_MAX {
        return line.to_owned();
    }
    // Its first sentence, when it fits.
    let sentence = line
        .char_indices()
        .take(DERIVED_TITLE_MAX)
        .find(|&(i, c)| matches!(c, '.' | '!' | '?') && line[i + 1..].starts_with(' '))
        .map(|(i, _)| &line[..=i]);
    if let Some(sentence) = sentence {
        return sentence.to_owned();
    }
    let cut: String = line.chars().take(DERIVED_TITLE_MAX - 1).collect();
    let at_word = cut
        .rfind(char::is_whitespace)
        .filter(|&i| i >= DERIVED_TITLE_MAX / 2)
        .map_or(cut.as_str(), |i| &cut[..i]);
    format!("{}…", at_word.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> PostContent {
        PostContent {
            title: "Launch".into(),
            caption: "We launch today".into(),
            hashtags: vec!["#launch".into()],
            call_to_action: "Read more".into(),
            media_ids: vec![Uuid::nil()],
            first_comment: "Link in bio".into(),
        }
    }

    /// An entry says its own value for each field of its variant and the post's for the
    /// rest; reading the variant back from the entry gives the same variant.
    #[test]
    fn an_entry_follows_the_post_except_where_it_has_a_variant() {
        let variant = Variant {
            caption: Some("Short for Bluesky".into()),
            first_comment: Some(String::new()),
            ..Default::default()
        };
        let entry = variant.over(&shared());
        assert_eq!(entry.caption, "Short for Bluesky");
        assert_eq!(entry.first_comment, "");
        assert_eq!(entry.title, "Launch");
        assert_eq!(entry.hashtags, ["#launch"]);
        assert_eq!(variant.own(), [PostField::Caption, PostField::FirstComment]);
        assert_eq!(Variant::of_entry(&variant.own(), &entry), variant);
    }

    /// A change sets, drops or keeps each field.
    #[test]
    fn a_change_sets_drops_or_keeps_each_field() {
        let variant = Variant {
            caption: Some("Own".into()),
            title: Some("Own title".into()),
            ..Default::default()
        };
        let changed = variant.changed(VariantChange {
            caption: FieldChange::Drop,
            hashtags: FieldChange::Set(vec!["#x".into()]),
            ..Default::default()
        });
        assert_eq!(changed.own(), [PostField::Title, PostField::Hashtags]);
        assert_eq!(changed.over(&shared()).caption, "We launch today");
    }

    /// Words are held to an entry's limits, the field named with its variant's prefix.
    #[test]
    fn a_variant_past_a_limit_is_refused_at_its_field() {
        let long = PostContent {
            caption: "x".repeat(2_201),
            ..shared()
        };
        let refused = long.checked("variants.abc.").unwrap_err();
        assert_eq!(refused.field, "variants.abc.caption");
        let comment = PostContent {
            first_comment: "x".repeat(2_201),
            ..shared()
        };
        assert_eq!(comment.checked("").unwrap_err().field, "firstComment");
        let tags = PostContent {
            hashtags: vec!["tea".into()],
            ..shared()
        };
        assert_eq!(tags.checked("").unwrap().hashtags, ["#tea"]);
    }

    #[test]
    fn a_title_is_made_from_the_captions_first_line() {
        assert_eq!(derived_title("\n  Hello world \nsecond"), "Hello world");
        assert_eq!(derived_title(""), "Untitled post");
        let long = "word ".repeat(40);
        let title = derived_title(&long);
        assert!(title.ends_with('…'), "{title}");
        assert!(title.chars().count() <= 80, "{title}");
        assert!(!title.contains("wor…"), "{title}");
        let sentences = format!("First things first. {}", "more ".repeat(30));
        assert_eq!(derived_title(&sentences), "First things first.");
    }
}
