//! Builds the real app on a free port with its own database, and drives it
//! like a client would.

use std::sync::atomic::{AtomicU64, Ordering};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, TransactionManager as _};
use reqwest::StatusCode;
use stratus_console::jobs::JobSettings;
use stratus_console::secrets::SecretsKey;
use stratus_console::{Application, config::Config, demo};

/// The test cluster's base URL, set by `make test`.
fn cluster_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL is set by `make test` (the test cluster, without a database name)")
}

/// The running app and its database. `W` is the world it started with: the
/// demo (`TestApp::spawn`), or nothing (`TestApp::empty`), to which a test
/// adds only what its rule needs (e.g. `demo::company_of_one`).
pub struct TestApp<W = demo::Demo> {
    pub address: String,
    pub database_url: String,
    pub demo: W,
    /// The one-time set-up link the app printed (an empty database).
    pub setup_link: Option<String>,
}

/// How long a test waits for the local EC2 endpoint's answer. One endpoint
/// serves every test at once, and on a busy machine a large listing
/// (`DescribeInstanceTypes`) takes longer than the console's own 15 s.
pub const BUSY_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The key that seals access keys' secrets, the same for the app and the
/// jobs a test runs.
pub fn secrets() -> SecretsKey {
    static KEY: std::sync::OnceLock<SecretsKey> = std::sync::OnceLock::new();
    KEY.get_or_init(SecretsKey::generate).clone()
}

/// Creates a database from the migrated template `stratus_template`.
pub async fn fresh_database() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4().simple()
    );
    let base = cluster_url();
    let mut admin = AsyncPgConnection::establish(&format!("{base}/postgres")).await.expect("the test cluster answers");
    diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE stratus_template"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    format!("{base}/{name}")
}

/// The app's configuration for a test database: the local EC2 endpoint, and
/// its Amazon Linux and Ubuntu images as the provided ones.
fn config(database_url: &str) -> Config {
    let mut config = Config::for_database(database_url);
    config.jobs.provider_endpoint = Some(crate::cloud::endpoint());
    config.jobs.secrets = Some(secrets());
    config.provided_owners = vec!["137112412989".into(), "099720109477".into()];
    config
}

/// Serves the app on a free port; its address, and its set-up link if it
/// printed one.
async fn serve(database_url: &str, configure: impl FnOnce(&mut Config)) -> (String, Option<String>) {
    let mut config = config(database_url);
    configure(&mut config);
    let app = Application::build(config).await.expect("build the app");
    let address = format!("http://{}", app.address());
    let setup_link = app.setup_link().map(str::to_owned);
    actix_web::rt::spawn(app.run());
    (address, setup_link)
}

impl TestApp<()> {
    /// The app on an empty database: no company, no account, no user.
    pub async fn empty() -> Self {
        let database_url = fresh_database().await;
        let (address, setup_link) = serve(&database_url, |_| {}).await;
        Self { address, database_url, demo: (), setup_link }
    }
}

impl TestApp {
    /// The app with the demo world loaded.
    pub async fn spawn() -> Self {
        Self::spawn_in(fresh_database().await).await
    }

    /// The app with the demo world loaded into the migrated database at
    /// `database_url` (a test that needs a cluster of its own).
    pub async fn spawn_in(database_url: String) -> Self {
        Self::spawn_configured(database_url, |_| {}).await
    }

    /// The app with the demo world, its configuration changed by `configure`
    /// (e.g. a lower API rate).
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_configured(fresh_database().await, configure).await
    }

    async fn spawn_configured(database_url: String, configure: impl FnOnce(&mut Config)) -> Self {
        let mut conn = AsyncPgConnection::establish(&database_url).await.expect("connect to the test database");
        let numbers = demo::ProviderAccounts {
            production: crate::cloud::fresh_account(),
            staging: crate::cloud::fresh_account(),
            globex: crate::cloud::fresh_account(),
        };
        let settings = JobSettings {
            provider_endpoint: Some(crate::cloud::endpoint()),
            call_timeout: BUSY_CALL_TIMEOUT,
            ..JobSettings::default()
        };
        let demo = demo::load(&mut conn, &settings, &numbers).await.expect("load the demo data");
        let (address, setup_link) = serve(&database_url, configure).await;
        Self { address, database_url, demo, setup_link }
    }
}

impl<W> Drop for TestApp<W> {
    /// The test's database goes with it, so the suite's cluster holds the
    /// databases of the tests running, not of every test run (2.5 GB by the
    /// last). One that cannot be dropped (a cluster of the test's own, stopped
    /// by it) goes when its cluster does.
    fn drop(&mut self) {
        let Some((cluster, name)) = self.database_url.rsplit_once('/') else { return };
        let admin = format!("{cluster}/postgres");
        let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        // Synchronous, on a thread of its own: the test's runtime may be
        // shutting down around it.
        let dropped = std::thread::spawn(move || {
            use diesel::Connection as _;
            let mut conn = diesel::PgConnection::establish(&admin).ok()?;
            Some(diesel::RunQueryDsl::execute(diesel::sql_query(statement), &mut conn))
        })
        .join();
        if let Ok(Some(Err(e))) = dropped {
            eprintln!("the test database {name} was left: {e}");
        }
    }
}

impl<W> TestApp<W> {
    /// Runs every queued job against the local EC2 endpoint, as a worker
    /// would, until the queue is empty (a failing call is retried once, at
    /// once).
    pub async fn run_jobs(&self) {
        let settings = JobSettings {
            workers: 0,
            provider_endpoint: Some(crate::cloud::endpoint()),
            backoff_base: std::time::Duration::from_millis(1),
            backoff_cap: std::time::Duration::from_millis(1),
            max_attempts: 2,
            secrets: Some(secrets()),
            call_timeout: BUSY_CALL_TIMEOUT,
            ..JobSettings::default()
        };
        let pool = stratus_console::db::pool(&self.database_url, 2).expect("the test database URL is valid");
        let runner = stratus_console::jobs::Runner::new(pool, settings);
        while runner.run_next("test-worker").await.expect("the queue answers") {}
    }

    /// Every company deletes own images at once, as a retention of 0 days
    /// in the recycle bin does (for the tests of deregistration itself).
    pub async fn delete_images_at_once(&self) {
        diesel::sql_query("UPDATE companies SET image_retention_days = 0")
            .execute(&mut self.db().await)
            .await
            .expect("set the retention");
    }

    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.database_url).await.expect("connect to the test database")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A client with its own cookie jar that does not follow redirects.
    pub fn client(&self) -> Client {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        Client { http, base: self.address.clone(), csrf: None }
    }

    /// A client signed in as `email` with the demo password.
    pub async fn signed_in(&self, email: &str) -> Client {
        let mut client = self.client();
        let response = client.login(email, demo::PASSWORD).await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "sign-in of {email}: {}", response.body);
        // Where sign-in leads them: the first page their rights open.
        let home = response.location().expect("sign-in leads somewhere").to_owned();
        let page = client.get(&home).await;
        assert_eq!(page.status, StatusCode::OK, "{home} after the sign-in of {email}");
        client
    }
}

pub struct Client {
    pub http: reqwest::Client,
    base: String,
    /// The CSRF token of the last page read.
    pub csrf: Option<String>,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Response {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The CSRF token a page carries (hidden field or `hx-headers`).
pub fn csrf_in(body: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker)? + marker.len();
    Some(body[start..].split('"').next()?.to_owned())
}

impl Client {
    async fn read(response: reqwest::Response) -> Response {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("a body");
        Response { status, headers, body }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let response = Self::read(self.http.get(format!("{}{path}", self.base)).send().await.expect("GET")).await;
        if let Some(token) = csrf_in(&response.body) {
            self.csrf = Some(token);
        }
        response
    }

    pub async fn get_htmx(&mut self, path: &str, target: &str) -> Response {
        let request =
            self.http.get(format!("{}{path}", self.base)).header("HX-Request", "true").header("HX-Target", target);
        Self::read(request.send().await.expect("GET")).await
    }

    /// GETs `path` as a page that polls itself does: htmx's request for
    /// `target`, from the page at `path`.
    pub async fn poll(&mut self, path: &str, target: &str) -> Response {
        let url = format!("{}{path}", self.base);
        let request =
            self.http.get(&url).header("HX-Request", "true").header("HX-Target", target).header("HX-Current-URL", &url);
        Self::read(request.send().await.expect("GET")).await
    }

    /// POSTs a form with the current CSRF token added.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let token = self.csrf.clone().unwrap_or_default();
        fields.push(("csrf_token", &token));
        let request = self.http.post(format!("{}{path}", self.base)).form(&fields);
        Self::read(request.send().await.expect("POST")).await
    }

    /// POSTs a form as htmx does: the token in the header, `HX-Request` set.
    pub async fn post_htmx(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let token = self.csrf.clone().unwrap_or_default();
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", token)
            .form(form);
        Self::read(request.send().await.expect("POST")).await
    }

    /// POSTs a form exactly as given, without a CSRF token.
    pub async fn post_without_csrf(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let request = self.http.post(format!("{}{path}", self.base)).form(form);
        Self::read(request.send().await.expect("POST")).await
    }

    pub async fn login(&mut self, email: &str, password: &str) -> Response {
        self.get("/login").await;
        self.post("/login", &[("email", email), ("password", password)]).await
    }

    pub async fn refresh_csrf(&mut self) {
        let page = self.get("/images").await;
        assert_eq!(page.status, StatusCode::OK, "the images page after sign-in");
    }
}

/// Runs a query that counts rows.
pub async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Count = diesel::sql_query(sql).get_result(conn).await.expect("a count");
    row.n
}

/// Text of the page without tags, whitespace collapsed: what a user reads.
pub fn text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
}

/// Every log line of this test's process, at every level, from here on
/// (nextest runs each test in a process of its own).
pub fn capture_logs() -> Logs {
    let logs = Logs(std::sync::Arc::default());
    let sink = logs.0.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_ansi(false)
        .with_writer(move || LogWriter(sink.clone()))
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("no other subscriber in this process");
    logs
}

pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A user acting in one of their accounts, as a request of theirs does:
/// for tests that call a change directly (to hold its transaction open).
pub struct Acting {
    context: stratus_console::db::access::AuthContext,
    account: stratus_console::db::accounts::Account,
    rights: stratus_console::domain::access::Rights,
}

impl Acting {
    pub async fn as_user(conn: &mut AsyncPgConnection, user_id: i64, account_id: i64) -> Self {
        let context = stratus_console::db::access::auth_context(conn, user_id).await.unwrap().expect("an active user");
        let account = context.accounts.iter().find(|a| a.id == account_id).expect("a member of the account").clone();
        let rights = context.rights_in(account_id);
        Self { context, account, rights }
    }

    pub fn actor(&self) -> stratus_console::changes::Actor<'_> {
        stratus_console::changes::Actor {
            user: &self.context.user,
            account: &self.account,
            accounts: &self.context.accounts,
            rights: &self.rights,
        }
    }

    /// The same user as an administrator of cloud accounts.
    pub fn admin(&self) -> stratus_console::changes::cloud_accounts::Admin<'_> {
        stratus_console::changes::cloud_accounts::Admin {
            user: &self.context.user,
            account: Some(&self.account),
            rights: &self.rights,
        }
    }
}

/// Waits until some statement of the test database waits on a lock.
pub async fn until_one_waits(conn: &mut AsyncPgConnection, what: &str) {
    let since = std::time::Instant::now();
    let sql =
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
    while count(conn, sql).await == 0 {
        assert!(since.elapsed() < std::time::Duration::from_secs(30), "{what} never waited");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A change made on a connection of its own, its transaction held open
/// (its locks held) until [`Held::commit`]: for the tests that make two
/// changes meet in a fixed order.
pub struct Held {
    commit: tokio::sync::oneshot::Sender<()>,
    done: actix_web::rt::task::JoinHandle<()>,
}

impl Held {
    /// Commits the held transaction, and waits until it has.
    pub async fn commit(self) {
        self.commit.send(()).expect("the held transaction waits");
        self.done.await.expect("the held change ran");
    }
}

/// Runs `change` in a transaction on a new connection and returns once it
/// has run, the transaction still open.
pub async fn hold_open<W>(app: &TestApp<W>, change: impl AsyncFnOnce(&mut AsyncPgConnection) + 'static) -> Held {
    let mut conn = app.db().await;
    let (ran_tx, ran_rx) = tokio::sync::oneshot::channel::<()>();
    let (commit, commit_rx) = tokio::sync::oneshot::channel::<()>();
    let done = actix_web::rt::spawn(async move {
        // Begun through the connection's transaction manager, so the
        // change's own transaction nests in it as a savepoint.
        type Manager = <AsyncPgConnection as AsyncConnection>::TransactionManager;
        Manager::begin_transaction(&mut conn).await.expect("begin");
        change(&mut conn).await;
        ran_tx.send(()).expect("the test waits for the change");
        commit_rx.await.expect("the test commits");
        Manager::commit_transaction(&mut conn).await.expect("the held transaction commits");
    });
    ran_rx.await.expect("the held change ran");
    Held { commit, done }
}
