//! Reads the configuration from the environment and starts the console that
//! `lib.rs` builds.
//!
//! Flags: `--migrate` applies the migrations and exits; `--demo` loads the
//! demo data into an empty database before serving.
//!
//! `create-admin --company NAME --email EMAIL [--given-name G]
//! [--family-name F]` sets up an empty console from a script, as `/setup`
//! does: the password is read from standard input.

use stratus_console::{Application, config::Config, db, demo};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let given = std::env::var("LOG_LEVEL").or_else(|_| std::env::var(EnvFilter::DEFAULT_ENV)).ok();
    let log_filter = stratus_console::config::log_filter(given.as_deref());
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json");
    let subscriber = tracing_subscriber::fmt().with_env_filter(log_filter);
    if json {
        subscriber.json().init()
    } else {
        subscriber.init()
    }

    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "create-admin") {
        return create_admin(&args[1..]);
    }
    if let Some(unknown) = args.iter().find(|a| !matches!(a.as_str(), "--migrate" | "--demo")) {
        anyhow::bail!("unknown argument {unknown:?}; use --migrate, --demo or create-admin");
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

/// `create-admin`: the company and its first administrator, as `/setup`
/// makes them, for scripted installs. Refused once a company exists.
fn create_admin(args: &[String]) -> anyhow::Result<()> {
    use stratus_console::changes::{ChangeError, onboarding};

    let mut flags = std::collections::HashMap::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let known = ["--company", "--email", "--given-name", "--family-name"];
        if !known.contains(&flag.as_str()) {
            anyhow::bail!("unknown argument {flag:?}; use {}", known.join(", "));
        }
        let value = rest.next().ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        flags.insert(flag.as_str(), value.as_str());
    }
    let (Some(company), Some(email)) = (flags.get("--company"), flags.get("--email")) else {
        anyhow::bail!("usage: stratus-console create-admin --company NAME --email EMAIL (password on standard input)");
    };
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    let input = onboarding::SetupInput::parse(
        company,
        flags.get("--given-name").unwrap_or(&"Administrator"),
        flags.get("--family-name").unwrap_or(company),
        email,
        password,
    )
    .map_err(|errors| {
        anyhow::anyhow!(errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("\n"))
    })?;
    let config = Config::from_env()?;
    let hash = stratus_console::auth::password::hash(input.password.reveal())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    actix_web::rt::System::new().block_on(async move {
        db::run_migrations(&config.database_url).await?;
        let pool = db::pool(&config.database_url, 1)?;
        match onboarding::set_up(&mut *pool.get().await?, &input, &hash).await {
            Ok(done) => {
                println!(
                    "Created company {:?} and its administrator {} (user {}).",
                    input.company,
                    input.email.as_str(),
                    done.user
                );
                Ok(())
            }
            Err(ChangeError::NotFound) => anyhow::bail!("the console is already set up: a company exists"),
            Err(e) => Err(e.into()),
        }
    })
}
