//! The operator routes' wire types: a flag, its state and its history.

use crate::envelope::Envelope;
use almanac_shared::{
    flags::{self, Setting, View},
    store::flags::Change,
};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

/// A flag's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum FlagState {
    On,
    Off,
    /// On for the listed users only.
    Users,
}

impl From<flags::State> for FlagState {
    fn from(state: flags::State) -> Self {
        match state {
            flags::State::On => FlagState::On,
            flags::State::Off => FlagState::Off,
            flags::State::Users => FlagState::Users,
        }
    }
}

/// Where the state a process applies comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum FlagSource {
    /// The process's environment variable.
    Default,
    /// An operator's override.
    Override,
}

/// A flag as the answering process applies it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FlagView {
    /// `CALENDAR_SERVICE_ENABLED` or `PUBLISH_SERVICE_ENABLED`.
    pub name: String,
    pub state: FlagState,
    /// In `users` state, the users it is on for.
    pub users: Vec<Uuid>,
    pub source: FlagSource,
    /// The process's environment default, applied when there is no override.
    pub environment_default: bool,
    #[oai(nullable)]
    pub note: Option<String>,
    /// When the override was set.
    #[oai(nullable)]
    pub updated_at: Option<DateTime<Utc>>,
    /// Who set it: `service_role`, `admin-token` or `cli:<operator>`.
    #[oai(nullable)]
    pub updated_by: Option<String>,
}

impl From<View> for FlagView {
    fn from(view: View) -> Self {
        let setting = view.setting();
        let overridden = view.overridden;
        Self {
            name: view.flag.name().to_owned(),
            state: setting.state().into(),
            users: setting.users().to_vec(),
            source: if overridden.is_some() {
                FlagSource::Override
            } else {
                FlagSource::Default
            },
            environment_default: view.default,
            note: overridden.as_ref().and_then(|o| o.note.clone()),
            updated_at: overridden.as_ref().map(|o| o.updated_at),
            updated_by: overridden.map(|o| o.updated_by),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct FlagList {
    pub items: Vec<FlagView>,
}

/// A setting in the history: a state and its users.
#[derive(Debug, Clone, Object)]
pub struct FlagSetting {
    pub state: FlagState,
    pub users: Vec<Uuid>,
}

impl From<&Setting> for FlagSetting {
    fn from(setting: &Setting) -> Self {
        Self {
            state: setting.state().into(),
            users: setting.users().to_vec(),
        }
    }
}

/// One change of a flag.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FlagChange {
    pub id: i64,
    pub name: String,
    /// `service_role`, `admin-token` or `cli:<operator>`.
    pub actor: String,
    pub at: DateTime<Utc>,
    /// The setting before; null: the environment default.
    #[oai(nullable)]
    pub from: Option<FlagSetting>,
    /// The setting after; null: back to the environment default.
    #[oai(nullable)]
    pub to: Option<FlagSetting>,
    #[oai(nullable)]
    pub note: Option<String>,
}

impl From<Change> for FlagChange {
    fn from(change: Change) -> Self {
        Self {
            id: change.id,
            name: change.flag.name().to_owned(),
            actor: change.actor,
            at: change.at,
            from: change.from.as_ref().map(Into::into),
            to: change.to.as_ref().map(Into::into),
            note: change.note,
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FlagHistory {
    /// Newest first.
    pub items: Vec<FlagChange>,
    /// `cursor` of the next (older) page.
    #[oai(nullable)]
    pub next_cursor: Option<i64>,
}

/// A flag's new setting.
#[derive(Debug, Clone, Object)]
pub struct FlagUpdate {
    /// `on`, `off`, or `users` (on for `users` only).
    pub state: FlagState,
    /// With `users` only: the users it is on for.
    #[oai(nullable, validator(max_items = 1000))]
    pub users: Option<Vec<Uuid>>,
    /// Why, for the history.
    #[oai(nullable, validator(max_length = 500))]
    pub note: Option<String>,
}

crate::enveloped!(FlagView, FlagList, FlagHistory);

pub type FlagEnvelope = Envelope<FlagView>;

pub type FlagListEnvelope = Envelope<FlagList>;

pub type FlagHistoryEnvelope = Envelope<FlagHistory>;
