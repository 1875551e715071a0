use almanac_api::Application;
use almanac_shared::{Settings, auth::JwtKeys, config, db, shutdown, telemetry};
use clap::{Parser, Subcommand};
use uuid::Uuid;

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
    /// Mint a development JWT signed with JWT_SECRET.
    Token {
        #[arg(long)]
        user: Uuid,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Openapi => print!("{}", almanac_api::openapi_yaml()),
        Command::Token { user, ttl } => {
            let secret =
                std::env::var("JWT_SECRET").unwrap_or_else(|_| config::DEV_JWT_SECRET.into());
            println!("{}", JwtKeys::new(&secret).mint(user, ttl));
        }
        Command::Migrate => {
            let settings = Settings::from_env()?;
            db::migrate(&db::pool(
                &settings,
                settings.worker_database_acquire_timeout,
            )?)
            .await?;
            println!("migrations applied");
        }
        Command::Serve => {
            let settings = Settings::from_env()?;
            let _telemetry = telemetry::init(
                "almanac-api",
                Some(settings.log_format),
                settings.otlp_endpoint.as_deref(),
            )?;
            Application::build(settings)
                .await?
                .run_until_stopped(shutdown::signal())
                .await?;
        }
    }
    Ok(())
}
