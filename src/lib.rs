//! Stratus Console: a web console for keeping, launching and sharing cloud
//! machine images.
//!
//! `Application::build` assembles the whole app; `main.rs` and the tests both
//! start it through here, so the tests exercise the very same app.
//!
//! Layers (arrows point inward): `web` (pages) → `auth` (who is asking) →
//! `changes` (one function per user action: authorize, re-check, write,
//! audit, jobs) → `db`, `jobs` → `domain`. `state` and `htmx` are shared by
//! `web` and `auth`; `domain` knows no HTTP, SQL or provider; `cloud` knows
//! no database and no pages. `docs/ARCHITECTURE.md` is the map.

pub mod api;
pub mod auth;
pub mod changes;
pub mod cloud;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod htmx;
pub mod jobs;
pub mod secrets;
pub mod state;
pub mod web;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_web::cookie::SameSite;
use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::auth::session_store::PgSessionStore;
use crate::auth::setup::SetupGate;
use crate::config::Config;

/// How long a session lives after its last change.
pub const SESSION_TTL_HOURS: i64 = 12;

pub struct Application {
    server: Server,
    address: SocketAddr,
    setup_link: Option<String>,
}

impl Application {
    /// Binds the listener and builds the server; it serves once `run` is awaited.
    ///
    /// Each worker thread gets its own connection pool: a connection is driven
    /// by a task on the runtime that opened it, so sharing one pool across
    /// workers would bounce every query between threads.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)?;
        let address = listener.local_addr()?;
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        // The pool size is the process's: each worker's share is split
        // between its pages and its records lists (`db::ListPool`), at least
        // two each. More connections than that only queue more backends on
        // the same cores (`make bench`: twice as many doubled the p99 of My
        // images, for the same throughput).
        let per_worker = config.pool_size.div_ceil(workers);
        let (for_pages, for_lists) = ((per_worker - per_worker / 2).max(2), (per_worker / 2).max(2));
        // Fail at start, not in a worker, when the URL is malformed.
        let maintenance = db::pool(&config.database_url, 1)?;
        let database_url = config.database_url.clone();
        let key = config.session_key.clone();
        let secure = config.secure_cookies;
        let settings = config.jobs.clone();
        let providers = std::sync::Arc::new(jobs::Providers::default());
        let provided_owners: std::sync::Arc<[String]> = config.provided_owners.clone().into();
        let trusted_proxies: std::sync::Arc<[ipnet::IpNet]> = config.trusted_proxies.clone().into();
        // Until a company exists only `/setup` is served. When the database
        // cannot tell at start, the gate stays open (and asks on each request
        // until it can): the link works only while no company exists.
        let set_up = match maintenance.get().await {
            Ok(mut conn) => db::onboarding::any_company(&mut conn).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let (setup, setup_link) = if set_up == Ok(true) {
            (SetupGate::closed(), None)
        } else {
            let (gate, token) = SetupGate::open();
            let link = format!("http://{address}/setup?token={token}");
            if let Err(e) = set_up {
                tracing::warn!(error = %e, "the database did not say whether a company exists yet");
            }
            // On standard output too: the person installing reads it there.
            println!("Set up Stratus Console: {link}");
            tracing::info!("no company yet: set up Stratus Console at {link}");
            (gate, Some(link))
        };
        let setup = std::sync::Arc::new(setup);
        let own_account = std::sync::Arc::new(tokio::sync::OnceCell::new());
        let api_rate = std::sync::Arc::new(api::RateLimit::new(config.api_rate_per_minute));
        let access = std::sync::Arc::new(auth::current::AccessCache::default());

        let server = HttpServer::new(move || {
            let pool = db::pool(&database_url, for_pages).expect("the database URL was checked at start");
            let lists = db::list_pool(&database_url, for_lists).expect("the database URL was checked at start");
            let state = actix_web::web::Data::new(state::AppState {
                pool: pool.clone(),
                lists,
                jobs: settings.clone(),
                providers: providers.clone(),
                provided_owners: provided_owners.clone(),
                trusted_proxies: trusted_proxies.clone(),
                setup: setup.clone(),
                own_account: own_account.clone(),
                api_rate: api_rate.clone(),
                access: access.clone(),
            });
            let sessions = SessionMiddleware::builder(PgSessionStore::new(pool), key.clone())
                .cookie_name(auth::SESSION_COOKIE.into())
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_secure(secure)
                .cookie_content_security(CookieContentSecurity::Signed)
                .session_lifecycle(
                    BrowserSession::default().state_ttl(actix_web::cookie::time::Duration::hours(SESSION_TTL_HOURS)),
                )
                .build();
            App::new()
                .app_data(state)
                .wrap(web::security_headers())
                .wrap(Compress::default())
                .wrap(TracingLogger::default())
                .wrap(from_fn(web::head_as_get))
                // The API reads no cookie and no CSRF token: a bearer token.
                .service(
                    actix_web::web::scope("/api")
                        .wrap(from_fn(api::auth::authenticate_first))
                        .wrap(from_fn(web::utf8::require_for_api))
                        .configure(api::routes)
                        .default_service(actix_web::web::to(api::not_found)),
                )
                .service(
                    actix_web::web::scope("")
                        .app_data(web::form_config())
                        .app_data(actix_web::web::PayloadConfig::new(web::FORM_LIMIT))
                        .app_data(web::query_config())
                        .app_data(web::path_config())
                        .wrap(from_fn(auth::csrf::verify))
                        .wrap(from_fn(web::utf8::require))
                        .wrap(from_fn(web::error::htmx_errors))
                        .wrap(from_fn(web::setup::gate))
                        .wrap(sessions)
                        .wrap(from_fn(web::error::session_outage))
                        .configure(web::routes),
                )
        })
        .workers(workers)
        .listen(listener)?
        .run();

        actix_web::rt::spawn(purge_expired_sessions(maintenance));
        if config.jobs.workers > 0 {
            let pool = db::pool(&config.database_url, config.jobs.workers + 1)?;
            jobs::Runner::new(pool, config.jobs.clone()).start();
        }
        Ok(Self { server, address, setup_link })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The one-time set-up link, when the database had no company at start.
    pub fn setup_link(&self) -> Option<&str> {
        self.setup_link.as_deref()
    }

    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn purge_expired_sessions(pool: db::Pool) {
    let mut every = actix_web::rt::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        let purged = match pool.get().await {
            Ok(mut conn) => db::sessions::purge_expired(&mut conn).await.map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        match purged {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "purged expired sessions"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
        }
    }
}
