//! `almanac-api flags get|set|reset|history`: the admin endpoints' feature flags from a
//! shell, straight on Postgres (`DATABASE_URL`), so they work while every API replica is
//! down. Answers are JSON, one object a line, shaped as the endpoints' `data`; the history
//! records the actor as `cli:<$USER>`. Every running process applies a change within a
//! second.

use almanac_shared::{
    Settings, db,
    flags::{Flag, Flags, Setting, State},
};
use anyhow::{Context, bail};
use clap::Subcommand;
use poem_openapi::types::ToJSON;
use uuid::Uuid;

use crate::routes::admin::{FlagChange, FlagView};

#[derive(Debug, Subcommand)]
pub enum FlagsCommand {
    /// Print the flags (or one): the stored override, else this shell's environment default.
    Get { name: Option<String> },
    /// Override a flag: `on`, `off`, or `users` with `--users`.
    Set {
        name: String,
        /// on, off or users
        state: String,
        /// Comma-separated user ids (state `users` only).
        #[arg(long, value_delimiter = ',')]
        users: Vec<Uuid>,
        /// Why, for the history.
        #[arg(long)]
        note: Option<String>,
    },
    /// Remove the override: every process goes back to its environment default.
    Reset {
        name: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Print the flag's changes, newest first.
    History {
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

/// Runs the command; its output, a JSON object a line.
pub async fn run(command: FlagsCommand, settings: &Settings) -> anyhow::Result<String> {
    let pool = db::pool(settings, settings.worker_database_acquire_timeout)?;
    let flags = Flags::new(settings);
    let lines: Vec<String> = match command {
        FlagsCommand::Get { name } => {
            flags.reload(&pool).await.context("reading the flags")?;
            let wanted = name.as_deref().map(flag).transpose()?;
            Flag::ALL
                .into_iter()
                .filter(|f| wanted.is_none_or(|w| w == *f))
                .map(|f| FlagView::from(flags.view(f)).to_json_string())
                .collect()
        }
        FlagsCommand::Set {
            name,
            state,
            users,
            note,
        } => {
            let Some(state) = State::parse(&state) else {
                bail!("state: expected `on`, `off` or `users`, got `{state}`");
            };
            let setting = Setting::new(state, &users).map_err(|e| anyhow::anyhow!("{e}"))?;
            vec![change(&pool, flag(&name)?, Some(&setting), note).await?]
        }
        FlagsCommand::Reset { name, note } => vec![change(&pool, flag(&name)?, None, note).await?],
        FlagsCommand::History { name, limit } => {
            almanac_shared::store::flags::history(&pool, flag(&name)?, None, limit.clamp(1, 10_000))
                .await
                .context("reading the flag's history")?
                .into_iter()
                .map(|c| FlagChange::from(c).to_json_string())
                .collect()
        }
    };
    Ok(lines.join("\n"))
}

fn flag(name: &str) -> anyhow::Result<Flag> {
    Flag::parse(name).with_context(|| {
        format!(
            "unknown flag `{name}`: expected CALENDAR_SERVICE_ENABLED or PUBLISH_SERVICE_ENABLED"
        )
    })
}

async fn change(
    pool: &sqlx::PgPool,
    flag: Flag,
    to: Option<&Setting>,
    note: Option<String>,
) -> anyhow::Result<String> {
    let operator = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let change = almanac_shared::store::flags::set(
        pool,
        flag,
        to,
        note.as_deref(),
        &format!("cli:{operator}"),
    )
    .await
    .context("writing the flag")?;
    Ok(FlagChange::from(change).to_json_string())
}
