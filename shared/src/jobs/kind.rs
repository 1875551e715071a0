//! What a job kind is to everything but the worker that runs it ([`About`]): the type
//! [`JobKind`] every part passes around. Which kinds a process knows is `crate::kinds`.
//!
//! A kind is its files: its payload type (beside its domain rules) carrying its `About` as
//! [`JobPayload::KIND`](super::JobPayload::KIND), the worker's `Job` for it, and its
//! migration (its tables, and the ending and restart its rows follow, registered by name in
//! `job_kind_endings`). Then one registration: a line in [`JobKind::BUILT_IN`], or, for a kind
//! only some builds have (the tests' `probe`), the worker registry's `register::<J>()`.
//! Nothing else names a kind: the API's console, streams and deadlines and the worker's
//! claims read what the kind says of itself.

use std::{
    fmt,
    hash::{Hash, Hasher},
};

use serde_json::Value;
use sqlx::{Encode, Postgres};

/// A kind's own knowledge, written once beside its payload type.
#[derive(Debug)]
pub struct About {
    /// Its name: the ledger's `kind`, its queue's name, the `kind` of metrics and logs
    /// (`^[a-z][a-z0-9_]{0,39}$`).
    pub name: &'static str,
    /// Attempts a job of the kind gets before it ends `failed`.
    pub attempts: i32,
    /// The row a job works on, as the console links it.
    pub row: Row,
    /// The words its streams speak.
    pub words: Words,
    /// When its jobs end whoever is (not) running them, if they do.
    pub deadline: Option<Deadline>,
}

/// The domain row a job works on: its table, the payload's field holding its id, and the
/// owner's endpoint that reads it (`{id}` stands for the id), if any.
#[derive(Debug)]
pub struct Row {
    pub table: &'static str,
    pub id_field: &'static str,
    pub path: Option<&'static str>,
}

/// The vocabularies of job streams: the common events, or a seed's own envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Words {
    /// `queued`, `progress`, `done`, `error`, as they are stored.
    Common,
    /// Seed 000's envelopes.
    Calendar,
    /// Seed 003's `progress`, `placement`, `error` and `complete`.
    Organic,
}

/// A kind whose jobs end at a deadline, whoever looks at them then (`store::jobs::deadline`
/// and `expire` read it): the table whose row holds a job's deadline, by the job's id in
/// its `job_id`, the column holding it, and the function of the job's id that ends the job
/// `timeout` if it is still going a second past it and says whether it did.
#[derive(Debug)]
pub struct Deadline {
    pub table: &'static str,
    pub column: &'static str,
    pub expire: &'static str,
}

/// A kind of job, one queue each: the [`About`] its payload type carries. Two kinds are
/// the same when their names are (a `const` kind's `About` may be copied, so its address
/// says nothing).
#[derive(Clone, Copy)]
pub struct JobKind(&'static About);

impl JobKind {
    /// The kind `about` describes (its payload type's `KIND`).
    pub const fn new(about: &'static About) -> Self {
        Self(about)
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        self.0.name
    }

    /// Attempts a job of this kind gets before it ends `failed`.
    pub fn max_attempts(self) -> i32 {
        self.0.attempts
    }

    /// The row a job of this kind works on.
    pub fn row(self) -> &'static Row {
        &self.0.row
    }

    /// The words its streams speak.
    pub fn words(self) -> Words {
        self.0.words
    }

    /// Where its jobs' deadline is, if they have one.
    pub fn deadline(self) -> Option<&'static Deadline> {
        self.0.deadline.as_ref()
    }
}

impl PartialEq for JobKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for JobKind {}

impl Hash for JobKind {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl fmt::Debug for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for JobKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl sqlx::Type<Postgres> for JobKind {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for JobKind {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as Encode<Postgres>>::encode(self.as_str(), buf)
    }
}

impl poem_openapi::types::ToJSON for JobKind {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.as_str()))
    }
}
