//! [`text_enum!`](crate::text_enum): one declaration for a closed set of words.

/// Declares an enum whose values travel as words: in JSON (serde), in a `text` column
/// (sqlx), in the OpenAPI document (poem-openapi) and in labels and logs (strum), each
/// spelled in the same `case` (`"snake_case"`, `"lowercase"`, ...). With `ALL` (every
/// value, in declaration order), `as_str` (its word) and `parse` (the value a word
/// spells). Attributes before `enum` (documentation, `#[oai(rename = ...)]`,
/// `#[derive(Default)]`) and on variants (`#[default]`, documentation) are kept.
///
/// ```ignore
/// almanac_shared::text_enum! {
///     /// Where a job is.
///     pub enum Status in "snake_case" { Pending, Running }
/// }
/// ```
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident in $case:literal {
            $($(#[$variant_meta:meta])* $variant:ident),+ $(,)?
        }
    ) => {
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
            ::sqlx::Type,
            ::poem_openapi::Enum,
            ::strum::IntoStaticStr,
            ::strum::VariantArray,
        )]
        $(#[$meta])*
        #[serde(rename_all = $case)]
        #[sqlx(type_name = "text", rename_all = $case)]
        #[oai(rename_all = $case)]
        #[strum(serialize_all = $case)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = <Self as ::strum::VariantArray>::VARIANTS;

            /// Its word.
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// The value `text` spells, if any.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|value| value.as_str() == text)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::text_enum! {
        /// A test's words.
        #[derive(Default)]
        enum Word in "snake_case" {
            #[default]
            FirstWord,
            Second,
        }
    }

    #[test]
    fn each_value_is_its_word_everywhere() {
        assert_eq!(Word::ALL, [Word::FirstWord, Word::Second]);
        assert_eq!(Word::FirstWord.as_str(), "first_word");
        assert_eq!(Word::parse("second"), Some(Word::Second));
        assert_eq!(Word::parse("Second"), None);
        assert_eq!(
            serde_json::to_string(&Word::FirstWord).unwrap(),
            "\"first_word\""
        );
        assert_eq!(
            serde_json::from_str::<Word>("\"second\"").unwrap(),
            Word::Second
        );
        assert_eq!(Word::default(), Word::FirstWord);
        assert_eq!(
            <Word as poem_openapi::types::ToJSON>::to_json(&Word::Second),
            Some(serde_json::json!("second"))
        );
    }
}
