//! Reads the configuration from the environment and starts the console that
//! `lib.rs` builds.
//!
//! Flags: `--migrate` applies the migrations and exits; `--demo` loads the
//! demo data into an empty database before serving.

use stratus_console::{Application, config::Config, db, demo};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let log_filter = EnvFilter::try_from_env("LOG_LEVEL")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json");
    let subscriber = tracing_subscriber::fmt().with_env_filter(log_filter);
    if json {
        subscriber.json().init()
    } else {
        subscriber.init()
    }

    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(unknown) = args.iter().find(|a| !matches!(a.as_str(), "--migrate" | "--demo")) {
        anyhow::bail!("unknown argument {unknown:?}; use --migrate or --demo");
    }
    let config = Config::from_env()?;

    actix_web::rt::System::new().block_on(async move {
        db::run_migrations(&config.database_url).await?;
        if args.iter().any(|a| a == "--migrate") {
            return Ok(());
        }
        if args.iter().any(|a| a == "--demo") {
            let pool = db::pool(&config.database_url, 2)?;
            let mut conn = pool.get().await?;
            if demo::load_if_empty(&mut conn, &config.jobs).await? {
                tracing::info!("loaded the demo data");
            }
        }
        let app = Application::build(config).await?;
        tracing::info!(address = %app.address(), "Stratus Console is listening");
        app.run().await?;
        Ok(())
    })
}
