use almanac_shared::{Settings, shutdown, telemetry};
use almanac_worker::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let _telemetry = telemetry::init(
        "almanac-worker",
        Some(settings.log_format),
        settings.otlp_endpoint.as_deref(),
    )?;
    settings.warn_at_start();
    Application::build(settings)
        .await?
        .run_until_stopped(shutdown::signal())
        .await
}
