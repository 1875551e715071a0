//! Bodies told apart by `card_type`: a `oneOf` of a basic card's schema and a cloze card's,
//! with a discriminator, so that the document states the sides each type takes and a
//! generated client builds the right one. Creating a card (`card_type` may be left out for
//! a basic card), editing one and reviewing a suggestion (`card_type` required: the type
//! the caller believes it is, 409 `CARD_TYPE_MISMATCH` when the stored one is another).

use almanac_shared::domain::generation::{self, CardType};
use poem_openapi::{
    Object,
    registry::{MetaDiscriminatorObject, MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, Type},
};

use super::dto::{
    Back, BasicCardCommand, BasicCardType, CardTag, ClozeCardCommand, ClozeCardType, Front, Side,
};
use crate::{routes::suggestions::ReviewStatus, text::ClozeText};

/// A `oneOf` named `$name` of `$basic` and `$cloze` on `card_type`; `$basic_default`: a
/// body without `card_type` is basic.
macro_rules! by_card_type {
    ($(#[doc = $doc:literal])+ $name:ident, $basic:ty, $cloze:ty, $basic_default:expr) => {
        $(#[doc = $doc])+
        #[derive(Debug, Clone)]
        pub enum $name {
            Basic($basic),
            Cloze($cloze),
        }

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference(Self::name().into_owned())
            }

            fn register(registry: &mut Registry) {
                registry.create_schema::<Self, _>(Self::name().into_owned(), |registry| {
                    <$basic>::register(registry);
                    <$cloze>::register(registry);
                    let reference = |name: &str| format!("#/components/schemas/{name}");
                    MetaSchema {
                        description: Some(concat!($($doc, "\n"),+).trim()),
                        one_of: vec![<$basic>::schema_ref(), <$cloze>::schema_ref()],
                        discriminator: Some(MetaDiscriminatorObject {
                            property_name: "card_type",
                            mapping: vec![
                                ("basic".into(), reference(&<$basic>::name())),
                                ("cloze".into(), reference(&<$cloze>::name())),
                            ],
                        }),
                        ..MetaSchema::ANY
                    }
                });
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(std::iter::once(self))
            }
        }

        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
                let value = value.unwrap_or_default();
                let kind = value.get("card_type").cloned().unwrap_or_default();
                if kind == "basic" || (kind.is_null() && $basic_default) {
                    <$basic>::parse_from_json(Some(value))
                        .map(Self::Basic)
                        .map_err(ParseError::propagate)
                } else if kind == "cloze" {
                    <$cloze>::parse_from_json(Some(value))
                        .map(Self::Cloze)
                        .map_err(ParseError::propagate)
                } else if kind.is_null() {
                    Err(ParseError::custom(
                        "field `card_type` is required: `basic` or `cloze`",
                    ))
                } else {
                    Err(ParseError::custom(
                        "field `card_type` must be `basic` or `cloze`",
                    ))
                }
            }
        }

        impl $name {
            /// The type the body names.
            pub fn card_type(&self) -> CardType {
                match self {
                    Self::Basic(_) => CardType::Basic,
                    Self::Cloze(_) => CardType::Cloze,
                }
            }
        }
    };
}

by_card_type!(
    /// A card written by hand, by its `card_type`: `basic` (the default when it is left out)
    /// or `cloze`.
    CreateCardCommand,
    BasicCardCommand,
    ClozeCardCommand,
    true
);

impl CreateCardCommand {
    /// The card's type, sides (as sent) and tags.
    pub fn into_parts(self) -> (CardType, String, String, Vec<CardTag>) {
        match self {
            Self::Basic(card) => (CardType::Basic, card.front.0, card.back.0, card.tags),
            Self::Cloze(card) => (CardType::Cloze, card.front.0, card.back.0, card.tags),
        }
    }
}

/// An edit of a basic card: the sides and tags given change, each side not blank.
#[derive(Debug, Clone, Object)]
pub struct BasicCardUpdate {
    // Undescribed, as `CardDto::card_type`.
    pub card_type: BasicCardType,
    #[oai(nullable)]
    pub front: Option<Front>,
    #[oai(nullable)]
    pub back: Option<Side<{ generation::BACK_MAX_CHARS }>>,
    #[oai(nullable, validator(max_items = 20))]
    pub tags: Option<Vec<CardTag>>,
}

/// An edit of a cloze card: a new text in `front` hides at least one part as
/// `{{c1::...}}`; its Extra in `back` may be empty.
#[derive(Debug, Clone, Object)]
pub struct ClozeCardUpdate {
    // Undescribed, as `CardDto::card_type`.
    pub card_type: ClozeCardType,
    #[oai(nullable)]
    pub front: Option<ClozeText<{ generation::FRONT_MAX_CHARS }>>,
    #[oai(nullable)]
    pub back: Option<Back>,
    #[oai(nullable, validator(max_items = 20))]
    pub tags: Option<Vec<CardTag>>,
}

by_card_type!(
    /// An edit of a card, by its `card_type` (required: the card's type, which an edit
    /// cannot change; another is 409 `CARD_TYPE_MISMATCH`). Sides and tags left out or
    /// null stay as they are.
    UpdateCardCommand,
    BasicCardUpdate,
    ClozeCardUpdate,
    false
);

impl UpdateCardCommand {
    /// The sides (as sent) and tags given.
    pub fn parts(&self) -> (Option<&str>, Option<&str>, Option<&[CardTag]>) {
        match self {
            Self::Basic(edit) => (
                edit.front.as_deref(),
                edit.back.as_deref(),
                edit.tags.as_deref(),
            ),
            Self::Cloze(edit) => (
                edit.front.as_deref(),
                edit.back.as_deref(),
                edit.tags.as_deref(),
            ),
        }
    }
}

/// A review of a basic suggestion; accepting (possibly with edited sides, neither blank)
/// creates a card.
#[derive(Debug, Clone, Object)]
pub struct BasicSuggestionReview {
    // Undescribed, as `CardDto::card_type`.
    pub card_type: BasicCardType,
    pub status: ReviewStatus,
    /// Edited front, used for the card when accepting.
    #[oai(nullable)]
    pub front: Option<Front>,
    /// Edited back, used for the card when accepting.
    #[oai(nullable)]
    pub back: Option<Side<{ generation::BACK_MAX_CHARS }>>,
}

/// A review of a cloze suggestion; accepting (possibly with an edited text that hides at
/// least one part as `{{c1::...}}`, and an Extra that may be empty) creates a card.
#[derive(Debug, Clone, Object)]
pub struct ClozeSuggestionReview {
    // Undescribed, as `CardDto::card_type`.
    pub card_type: ClozeCardType,
    pub status: ReviewStatus,
    /// Edited text, used for the card when accepting.
    #[oai(nullable)]
    pub front: Option<ClozeText<{ generation::FRONT_MAX_CHARS }>>,
    /// Edited Extra, used for the card when accepting.
    #[oai(nullable)]
    pub back: Option<Back>,
}

by_card_type!(
    /// A review decision, by the suggestion's `card_type` (required; another than the
    /// suggestion's is 409 `CARD_TYPE_MISMATCH`). Accepting (possibly with edits) creates
    /// a card.
    ReviewSuggestionCommand,
    BasicSuggestionReview,
    ClozeSuggestionReview,
    false
);

impl ReviewSuggestionCommand {
    /// The decision and the edited sides (as sent).
    pub fn parts(&self) -> (ReviewStatus, Option<&str>, Option<&str>) {
        match self {
            Self::Basic(review) => (
                review.status,
                review.front.as_deref(),
                review.back.as_deref(),
            ),
            Self::Cloze(review) => (
                review.status,
                review.front.as_deref(),
                review.back.as_deref(),
            ),
        }
    }
}

/// 409 `CARD_TYPE_MISMATCH`: the body names another type than the stored card's.
pub fn type_mismatch(what: &str, stored: CardType) -> crate::error::ApiError {
    crate::error::ApiError::Conflict(crate::error::ErrorEnvelope::new(
        "CARD_TYPE_MISMATCH",
        format!(
            "this {what} is a {} card, and an edit cannot change its type: send `card_type` \
             `{}`",
            stored.as_str(),
            stored.as_str()
        ),
        Some(serde_json::json!({ "cardType": stored.as_str() })),
    ))
}
