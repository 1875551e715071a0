use almanac_api::Application;
use almanac_shared::{Settings, auth::JwtKeys, config, db, shutdown, telemetry};
use clap::{Parser, Subcommand};
use uuid::Uuid;

/// jemalloc: an API process holding ten thousand idle event streams stays at about
/// 13 KiB resident per stream, where the system allocator kept 20 (`make bench`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Pages freed by request handling go back to the system at once (jemalloc keeps them
/// ten seconds by default, about 3.5 KiB per open connection here), through its
/// background thread, so resident memory follows the open streams. The relay's latency
/// did not change (`make bench`). An operator's `_RJEM_MALLOC_CONF` is left alone.
fn tune_allocator() {
    use tikv_jemalloc_ctl::{Access, AsName};
    if std::env::var_os("_RJEM_MALLOC_CONF").is_some() {
        return;
    }
    const DECAY_MS: isize = 0;
    let _ = tikv_jemalloc_ctl::background_thread::write(true);
    // The default of arenas created from now on, then every arena that exists.
    // Freed pages go back with MADV_DONTNEED (MADV_FREE'd pages would still count as
    // resident until the kernel needs them).
    for (setting, value) in [("dirty_decay_ms", DECAY_MS), ("muzzy_decay_ms", 0)] {
        let _ = format!("arenas.{setting}\0").as_bytes().name().write(value);
        let arenas: u32 = b"arenas.narenas\0".name().read().unwrap_or(0);
        for arena in 0..arenas {
            // Arenas not created yet refuse; they take the default above.
            let key = format!("arena.{arena}.{setting}\0");
            let _ = key.as_bytes().name().write(value);
        }
    }
}

/// `process_heap_allocated_bytes` (what the process's live allocations hold) and
/// `process_heap_resident_bytes` (the allocator's pages in memory, its own bookkeeping
/// included), read from jemalloc every few seconds: their gap is what freed memory left
/// behind in partly used pages (docs/performance.md, "An idle stream's memory").
async fn report_allocator() {
    use tikv_jemalloc_ctl::{epoch, stats};
    let mut every = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        every.tick().await;
        // Statistics are a snapshot taken when the epoch advances.
        if epoch::advance().is_err() {
            return;
        }
        if let (Ok(allocated), Ok(resident)) = (stats::allocated::read(), stats::resident::read()) {
            metrics::gauge!("process_heap_allocated_bytes").set(allocated as f64);
            metrics::gauge!("process_heap_resident_bytes").set(resident as f64);
        }
    }
}

#[derive(Parser)]
#[command(name = "almanac-api", version, about = "Almanac's HTTP API")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP on API_ADDR (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (YAML).
    Openapi,
    /// Mint a JWT signed with JWT_SECRET: a user's (development), or with --service-role
    /// an operator's for the admin endpoints.
    Token {
        #[arg(long, required_unless_present = "service_role")]
        user: Option<Uuid>,
        /// A `service_role` token (no user), as Supabase's service key.
        #[arg(long, conflicts_with = "user")]
        service_role: bool,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
    /// Invite a person to have an account: the account is made for the address (or found),
    /// and a sign-in link is emailed to it and printed here (with `SIGN_UP=invite`, only
    /// existing users and invited addresses are sent links). The first owner is made so.
    Invite {
        #[arg(long)]
        email: String,
    },
    /// The publishing platforms, one a line: each one's name and whether its app's
    /// credentials are set; with --configured, only the names of those that have them
    /// (`deploy/dev/run.sh` serves the sandbox when none has).
    Platforms {
        #[arg(long)]
        configured: bool,
    },
    /// Read or override the runtime feature flags (straight on DATABASE_URL).
    Flags {
        #[command(subcommand)]
        command: almanac_api::flags_cli::FlagsCommand,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Openapi => print!("{}", almanac_api::openapi_yaml()),
        Command::Token { user, ttl, .. } => {
            let keys = JwtKeys::new(config::jwt_secret_from_env()?.expose());
            match user {
                Some(user) => println!("{}", keys.mint(user, ttl)),
                // Without --user, clap has made sure --service-role was given.
                None => println!("{}", keys.mint_service_role(ttl)),
            }
        }
        Command::Flags { command } => {
            let settings = Settings::for_tools_from_env()?;
            println!("{}", almanac_api::flags_cli::run(command, &settings).await?);
        }
        Command::Invite { email } => {
            let settings = Settings::for_tools_from_env()?;
            println!("{}", almanac_api::sign_in::invite(&settings, &email).await?);
        }
        Command::Platforms { configured } => {
            let settings = Settings::for_tools_from_env()?;
            let platforms = almanac_publishing::Platforms::new(&settings)?;
            for adapter in platforms.all() {
                let said = match adapter.code_grant() {
                    None => "connects with its accounts' own credentials",
                    Some(grant) if grant.credentials().is_ok() => "configured",
                    Some(_) => "not configured",
                };
                match configured {
                    true if said == "configured" => println!("{}", adapter.platform()),
                    true => {}
                    false => println!("{}\t{said}", adapter.platform()),
                }
            }
        }
        Command::Migrate => {
            let settings = Settings::for_tools_from_env()?;
            db::migrate(&db::pool(
                &settings,
                settings.worker_database_acquire_timeout,
            )?)
            .await?;
            println!("migrations applied");
        }
        Command::Serve => {
            tune_allocator();
            let settings = Settings::from_env()?;
            let _telemetry = telemetry::init(
                "almanac-api",
                Some(settings.log_format),
                settings.otlp_endpoint.as_deref(),
            )?;
            settings.warn_at_start();
            // The recorder first: gauges set before it exists are lost (the first report
            // would come two seconds after start).
            telemetry::metrics_handle();
            tokio::spawn(report_allocator());
            Application::build(settings)
                .await?
                .run_until_stopped(shutdown::signal())
                .await?;
        }
    }
    Ok(())
}
