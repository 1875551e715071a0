//! The kinds of job a process knows: the built-in ones ([`JobKind::BUILT_IN`], the one list
//! of them), then those registered at run time ([`JobKind::register`]: a kind of some builds
//! only, the tests' `probe`); and what reading a kind's name takes (ledger rows, queue
//! messages, JSON, query parameters, the OpenAPI document). What a kind is, is `jobs::kind`.

use std::{
    borrow::Cow,
    cmp::Ordering,
    str::FromStr,
    sync::{LazyLock, PoisonError, RwLock},
};

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, Type},
};
use serde_json::Value;
use sqlx::{Decode, Postgres, postgres::PgValueRef};

use crate::{
    domain::{
        analytics::PostMetricsJob,
        calendar::CalendarJob,
        generation::GenerationJob,
        organic::OrganicJob,
        publish::PublishJob,
        synthesis::{EmailJob, SynthesisJob},
    },
    jobs::{JobKind, JobPayload},
    trips,
    webhooks::WebhookJob,
};

/// The kinds registered beyond the built-in ones, in their order of registration.
static REGISTERED: LazyLock<RwLock<Vec<JobKind>>> = LazyLock::new(Default::default);

impl JobKind {
    /// The kinds every build has: one line each.
    pub const BUILT_IN: &'static [JobKind] = &[
        GenerationJob::KIND,
        CalendarJob::KIND,
        OrganicJob::KIND,
        SynthesisJob::KIND,
        EmailJob::KIND,
        PublishJob::KIND,
        WebhookJob::KIND,
        PostMetricsJob::KIND,
    ];

    /// Makes `kind` known to this process (a kind of some builds only): it can then be read
    /// from the ledger and the queues. Registering a kind again does nothing.
    ///
    /// # Panics
    /// When its name is not one a queue can have, or there are more kinds than the counts
    /// have room for (`trips::KINDS`).
    pub fn register(kind: JobKind) {
        if Self::BUILT_IN.contains(&kind) {
            return;
        }
        let mut registered = REGISTERED.write().unwrap_or_else(PoisonError::into_inner);
        if registered.contains(&kind) {
            return;
        }
        assert!(valid_name(kind.as_str()), "`{kind}` cannot name a job kind");
        assert!(
            Self::BUILT_IN.len() + registered.len() < trips::KINDS,
            "more job kinds than `trips::KINDS`"
        );
        registered.push(kind);
    }

    /// Every kind this process knows: the built-in ones, then the registered ones.
    pub fn known() -> Vec<JobKind> {
        let registered = REGISTERED.read().unwrap_or_else(PoisonError::into_inner);
        Self::BUILT_IN
            .iter()
            .chain(registered.iter())
            .copied()
            .collect()
    }

    /// The kind named `name`, if this process knows it.
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(kind) = Self::BUILT_IN.iter().find(|kind| kind.as_str() == name) {
            return Some(*kind);
        }
        let registered = REGISTERED.read().unwrap_or_else(PoisonError::into_inner);
        registered
            .iter()
            .find(|kind| kind.as_str() == name)
            .copied()
    }

    /// Its place among the kinds this process knows, below `trips::KINDS`. A kind used
    /// before its registration (a job made before the worker that runs it starts) is
    /// registered then.
    pub fn index(self) -> usize {
        if let Some(at) = Self::BUILT_IN.iter().position(|kind| *kind == self) {
            return at;
        }
        let at = |registered: &[JobKind]| registered.iter().position(|kind| *kind == self);
        let read = || REGISTERED.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = at(&read()) {
            return Self::BUILT_IN.len() + at;
        }
        Self::register(self);
        Self::BUILT_IN.len() + at(&read()).expect("just registered")
    }
}

/// A name a queue, a label and the ledger take.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// In the order the kinds are listed (built-in, then registered).
impl Ord for JobKind {
    fn cmp(&self, other: &Self) -> Ordering {
        self.index().cmp(&other.index())
    }
}

impl PartialOrd for JobKind {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for JobKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::parse(s).ok_or_else(|| anyhow::anyhow!("unknown job kind `{s}`"))
    }
}

impl<'de> serde::Deserialize<'de> for JobKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <Cow<'de, str>>::deserialize(deserializer)?;
        JobKind::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown job kind `{name}`")))
    }
}

impl Decode<'_, Postgres> for JobKind {
    fn decode(value: PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
        let name = <&str as Decode<Postgres>>::decode(value)?;
        Ok(name.parse()?)
    }
}

/// In the OpenAPI document, the built-in kinds (a kind of some builds only is read and
/// written the same way where it is registered).
impl Type for JobKind {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "JobKind".into()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
            description: Some("The kinds of job, one apalis queue each."),
            enum_items: Self::BUILT_IN
                .iter()
                .map(|kind| Value::from(kind.as_str()))
                .collect(),
            ..MetaSchema::new("string")
        });
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for JobKind {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let value = value.unwrap_or_default();
        match value.as_str().and_then(JobKind::parse) {
            Some(kind) => Ok(kind),
            None => Err(ParseError::expected_type(value)),
        }
    }
}

impl ParseFromParameter for JobKind {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        JobKind::parse(value).ok_or_else(|| ParseError::custom("Expect a valid enumeration value."))
    }
}

impl From<JobKind> for trips::Kind {
    fn from(kind: JobKind) -> Self {
        Self {
            name: kind.as_str(),
            index: kind.index(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{About, Row, Words};

    static ODD: About = About {
        name: "odd_kind",
        attempts: 2,
        row: Row {
            table: "odd_rows",
            id_field: "odd_id",
            path: None,
        },
        words: Words::Common,
        deadline: None,
    };

    #[test]
    fn the_built_in_kinds_round_trip_and_have_names_a_queue_takes() {
        assert_eq!(JobKind::BUILT_IN.len(), 8);
        for (at, &kind) in JobKind::BUILT_IN.iter().enumerate() {
            assert_eq!(kind.as_str().parse::<JobKind>().unwrap(), kind);
            assert!(valid_name(kind.as_str()), "{kind}");
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(kind.index(), at);
        }
        assert!("nothing".parse::<JobKind>().is_err());
    }

    #[test]
    fn a_registered_kind_is_read_and_ordered_after_the_built_in_ones() {
        let odd = JobKind::new(&ODD);
        assert_eq!(JobKind::parse("odd_kind"), None);
        JobKind::register(odd);
        JobKind::register(odd);
        assert_eq!(JobKind::parse("odd_kind"), Some(odd));
        assert_eq!(
            serde_json::from_value::<JobKind>("odd_kind".into()).unwrap(),
            odd
        );
        assert_eq!(
            JobKind::known().iter().filter(|kind| **kind == odd).count(),
            1
        );
        assert!(odd > PostMetricsJob::KIND);
        assert_eq!(odd.max_attempts(), 2);
    }
}
