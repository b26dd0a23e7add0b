//! The test harness: fresh databases on both engines, and [`TestApp`], a real
//! server bound to a random port with a clock the test controls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use idp_core::clock::ManualClock;
use idp_server::config::{Settings, Source};
use idp_server::{AppState, Application, BuildOptions};
use sqlx::Connection as _;

/// Runs one async test body against each engine:
///
/// ```ignore
/// engine_test!(async fn registration_works(engine) { let app = TestApp::spawn(engine).await; … });
/// ```
///
/// expands to `registration_works::sqlite` and `registration_works::postgres`.
/// The PostgreSQL variant needs `TEST_DATABASE_URL` and fails without it:
/// it never passes without running. nextest's default profile leaves every
/// test with `postgres` in its name out (reported as skipped); `--profile
/// ci` runs them (`.config/nextest.toml`).
macro_rules! engine_test {
    ($(#[$meta:meta])* async fn $name:ident($engine:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::helpers::*;

            async fn body($engine: Engine) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body(Engine::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                body(Engine::Postgres).await
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn postgres_admin_url() -> Option<String> {
        std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
    }
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    pub engine: Engine,
    cleanup: Cleanup,
}

enum Cleanup {
    TempDir(#[allow(dead_code)] tempfile::TempDir),
    DropPostgres { admin_url: String, name: String },
}

impl TestDb {
    pub async fn create(engine: Engine) -> TestDb {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/idp.db", dir.path().display());
                TestDb { url, engine, cleanup: Cleanup::TempDir(dir) }
            }
            Engine::Postgres => {
                let admin_url = Engine::postgres_admin_url().expect(
                    "set TEST_DATABASE_URL to run the PostgreSQL tests, or leave them out: \
                     `cargo nextest run` without `--profile ci` skips them",
                );
                let name = format!("idp_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .expect("TEST_DATABASE_URL must point at a reachable PostgreSQL server");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.ok();
                let url = replace_database(&admin_url, &name);
                TestDb { url, engine, cleanup: Cleanup::DropPostgres { admin_url, name } }
            }
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::DropPostgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, which cannot be blocked
            // on; a short-lived runtime on its own thread does the work.
            let _ = std::thread::spawn(move || {
                let rt =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                    }
                });
            })
            .join();
        }
    }
}

/// A 32+ character key for tests; real deployments generate their own.
pub const TEST_SECRET_KEY: &str = "test-secret-key-0123456789abcdef0123456789";

/// Builds a [`TestApp`] with extra settings.
pub struct TestAppBuilder {
    engine: Engine,
    settings: BTreeMap<String, String>,
    database_url: Option<String>,
}

impl TestAppBuilder {
    /// Serves an existing database (to restart a server on the same data).
    pub fn database(mut self, db: &TestDb) -> Self {
        self.database_url = Some(db.url.clone());
        self
    }

    /// Serves the database at `url`, which the test owns (and removes).
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    pub fn setting(mut self, name: &str, value: impl Into<String>) -> Self {
        self.settings.insert(name.to_owned(), value.into());
        self
    }

    /// Builds the server expecting it to refuse to start; returns the one
    /// line it stops with.
    pub async fn start_error(self) -> String {
        let url = self.database_url.clone().expect("start_error needs .database(..)");
        let mut source = Source::from_pairs([
            ("DATABASE_URL", url.as_str()),
            ("SECRET_KEY", TEST_SECRET_KEY),
            ("ISSUER", "http://127.0.0.1:1"),
            ("BIND", "127.0.0.1:0"),
        ]);
        for (name, value) in &self.settings {
            source.set(name, value.clone());
        }
        let error = match Settings::from_source(&source) {
            Err(e) => return e.to_string(),
            Ok(settings) => Application::build(settings, BuildOptions::default()).await.err(),
        };
        error.expect("the server started").to_string()
    }

    pub async fn spawn(self) -> TestApp {
        let db = match &self.database_url {
            Some(_) => None,
            None => Some(TestDb::create(self.engine).await),
        };
        let database_url =
            self.database_url.clone().or_else(|| db.as_ref().map(|d| d.url.clone())).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let base_url = format!("http://{addr}");
        let mut source = Source::from_pairs([
            ("DATABASE_URL", database_url.as_str()),
            ("SECRET_KEY", TEST_SECRET_KEY),
            ("ISSUER", base_url.as_str()),
            ("BIND", "127.0.0.1:0"),
            ("DATABASE_MAX_CONNECTIONS", "8"),
            // Cheap hashing keeps the suite fast; one test checks the
            // production parameters.
            ("ARGON2_MEMORY_KIB", "1024"),
            ("ARGON2_ITERATIONS", "1"),
            // Tests of other features send many requests from one address;
            // the rate-limit tests turn it back on.
            ("RATE_LIMIT_PER_MINUTE", "0"),
        ]);
        for (name, value) in &self.settings {
            source.set(name, value.clone());
        }
        let settings = Settings::from_source(&source).unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let options =
            BuildOptions { migrate: true, clock: clock.clone(), listener: Some(listener) };
        let app = Application::build(settings, options).await.unwrap();
        let state = app.state().clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stop_rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestApp {
            base_url,
            client,
            clock,
            state,
            database_url,
            db,
            stop: Some(stop_tx),
            server: Some(server),
        }
    }
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub database_url: String,
    /// The database this app created (and drops when the test ends).
    db: Option<TestDb>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub fn builder(engine: Engine) -> TestAppBuilder {
        TestAppBuilder { engine, settings: BTreeMap::new(), database_url: None }
    }

    pub async fn spawn(engine: Engine) -> TestApp {
        Self::builder(engine).spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Stops the server the way SIGTERM does and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The JSON body of a response, whatever its status.
pub async fn json(response: reqwest::Response) -> serde_json::Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A password that passes the policy.
pub const PASSWORD: &str = "S3cure-pass!";

/// Tokens from a successful token response.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub id_token: Option<String>,
    pub body: serde_json::Value,
}

impl Tokens {
    pub fn from_body(body: serde_json::Value) -> Tokens {
        Tokens {
            access_token: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh_token: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
            id_token: body["id_token"].as_str().map(str::to_owned),
            body,
        }
    }
}

impl TestApp {
    /// POST /auth/register with JSON.
    pub async fn register(&self, username: &str, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/auth/register"))
            .json(&serde_json::json!({"username": username, "email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Registers `username` (email `<username>@example.com`, [`PASSWORD`]).
    pub async fn create_user(&self, username: &str) -> serde_json::Value {
        let response = self.register(username, &format!("{username}@example.com"), PASSWORD).await;
        assert_eq!(response.status(), 201, "registering {username}");
        json(response).await
    }

    /// POST a urlencoded form.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(path)).form(form).send().await.unwrap()
    }

    /// POST a multipart form, as the original service's clients (`curl -F`) do.
    pub async fn post_multipart(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut multipart = reqwest::multipart::Form::new();
        for (k, v) in form {
            multipart = multipart.text(k.to_string(), v.to_string());
        }
        self.client.post(self.url(path)).multipart(multipart).send().await.unwrap()
    }

    pub async fn password_grant(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_form(
            "/auth/token",
            &[("grant_type", "password"), ("username", username), ("password", password)],
        )
        .await
    }

    /// Logs in with the password grant and returns the tokens.
    pub async fn login(&self, username: &str) -> Tokens {
        let response = self.password_grant(username, PASSWORD).await;
        assert_eq!(response.status(), 200, "login of {username}");
        Tokens::from_body(json(response).await)
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.post_form(
            "/auth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        )
        .await
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }
}

/// The admin's password in tests.
pub const ADMIN_PASSWORD: &str = "Admin-pass-123!";

impl TestApp {
    /// Seeds roles, permissions and the `admin` user, and returns an
    /// admin access token.
    pub async fn admin_token(&self) -> String {
        idp_server::service::seed::seed(
            &self.state,
            "admin",
            "admin@example.com",
            Some(idp_core::SecretString::from(ADMIN_PASSWORD)),
        )
        .await
        .unwrap();
        let response = self.password_grant("admin", ADMIN_PASSWORD).await;
        assert_eq!(response.status(), 200, "admin login");
        json(response).await["access_token"].as_str().unwrap().to_owned()
    }

    /// A JSON request with a bearer token.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }
}

/// A PKCE pair (RFC 7636 Appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const REDIRECT_URI: &str = "https://app.example.com/callback";

impl TestApp {
    /// Registers a client through the service layer (as `idp client create`
    /// does); returns its secret for confidential clients.
    pub async fn create_client(
        &self,
        spec: idp_server::service::clients::ClientSpec,
    ) -> Option<String> {
        let (_, secret) = idp_server::service::clients::create(
            &self.state,
            &idp_server::service::admin::Actor::cli(),
            spec,
        )
        .await
        .unwrap();
        secret.map(|s| s.into_string())
    }

    /// A public SPA client `spa` redirecting to [`REDIRECT_URI`].
    pub async fn create_spa(&self, first_party: bool) {
        use idp_core::client::{ClientType, GrantType};
        self.create_client(idp_server::service::clients::ClientSpec {
            id: Some("spa".into()),
            name: "The SPA".into(),
            client_type: ClientType::Public,
            redirect_uris: vec![REDIRECT_URI.into(), "http://127.0.0.1/native".into()],
            post_logout_redirect_uris: vec!["https://app.example.com/bye".into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: vec![
                "openid".into(),
                "profile".into(),
                "email".into(),
                "roles".into(),
                "offline_access".into(),
            ],
            first_party,
            access_token_ttl: None,
            refresh_token_ttl: None,
            id_token_signed_response_alg: None,
        })
        .await;
    }

    /// A browser: keeps cookies, does not follow redirects.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// An authorization URL for `spa` with PKCE, state and nonce, plus extras.
    pub fn authorize_url(&self, extra: &[(&str, &str)]) -> String {
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", "spa"),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "openid profile email offline_access"),
            ("state", "st-123"),
            ("nonce", "n-456"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            params.retain(|(name, _)| name != k);
            if !v.is_empty() {
                params.push((k, v));
            }
        }
        let query: String =
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        self.url(&format!("/auth/authorize?{query}"))
    }

    /// Logs in through the login page; returns the redirect to the client
    /// (after consent, if `consent` says to allow).
    pub async fn browser_login(
        &self,
        browser: &reqwest::Client,
        authorize_url: &str,
        username: &str,
    ) -> reqwest::Response {
        let page = browser.get(authorize_url).send().await.unwrap();
        if page.status() == 302 {
            // Already signed in: straight back to the client.
            return page;
        }
        assert_eq!(page.status(), 200, "login page");
        let html = page.text().await.unwrap();
        let mut form = hidden_fields(&html);
        form.push(("username".into(), username.into()));
        form.push(("password".into(), PASSWORD.into()));
        let posted = browser.post(self.url("/auth/authorize")).form(&form).send().await.unwrap();
        assert_eq!(posted.status(), 303, "login accepted");
        let next = posted.headers()["location"].to_str().unwrap().to_owned();
        browser.get(self.url(&next)).send().await.unwrap()
    }

    /// Exchanges a code for tokens as the public client `spa`.
    pub async fn exchange(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.post_form(
            "/auth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", "spa"),
                ("code_verifier", verifier),
            ],
        )
        .await
    }
}

/// The `name`/`value` of every hidden input of a page.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\"")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((name.to_owned(), unescape(value)))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The query parameters of a `Location` header.
pub fn location_params(
    response: &reqwest::Response,
) -> (String, std::collections::HashMap<String, String>) {
    let location = response.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    let base = format!("{}://{}{}", url.scheme(), url.host_str().unwrap_or_default(), url.path());
    (base, url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}
