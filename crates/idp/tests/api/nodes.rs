//! Real `idp serve` processes sharing one database: the harness of the
//! multi-node, crash and outage tests. Unlike [`crate::helpers::TestApp`]
//! (in-process, manual clock), these are the shipped binary, so they can be
//! killed with SIGKILL and restarted.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

/// Every node of one test shares these, as a real deployment must.
pub const CLUSTER_SECRET_KEY: &str = "cluster-secret-key-0123456789abcdef-0123";
pub const CLUSTER_ISSUER: &str = "https://idp.cluster.test";
pub const CLUSTER_ADMIN_PASSWORD: &str = "Cluster-admin-pass-1!";

/// One `idp serve` process.
pub struct Node {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    database_url: String,
    settings: Vec<(String, String)>,
    dir: tempfile::TempDir,
    starts: u32,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The environment every node and CLI call of a test gets.
fn base_env(command: &mut Command, database_url: &str) {
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("SECRET_KEY", CLUSTER_SECRET_KEY)
        .env("ISSUER", CLUSTER_ISSUER)
        .env("RUST_LOG", "info")
        .env("ARGON2_MEMORY_KIB", "1024")
        .env("ARGON2_ITERATIONS", "1")
        .env("RATE_LIMIT_PER_MINUTE", "0");
}

/// Runs an `idp` CLI command against the database; panics with its output
/// if it fails.
pub fn idp_cli(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_idp"));
    base_env(&mut command, database_url);
    command.current_dir(dir.path()).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "idp {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Node {
    /// Starts a node (without waiting for it).
    pub fn launch(database_url: &str, settings: &[(&str, &str)]) -> Node {
        let port = free_port();
        let mut node = Node {
            child: None,
            port,
            base: format!("http://127.0.0.1:{port}"),
            database_url: database_url.to_owned(),
            settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            dir: tempfile::tempdir().unwrap(),
            starts: 0,
        };
        node.spawn();
        node
    }

    /// Starts a node and waits until it is ready.
    pub async fn start(database_url: &str, settings: &[(&str, &str)]) -> Node {
        let node = Self::launch(database_url, settings);
        node.wait_ready().await;
        node
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = std::fs::File::create(self.log_path()).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_idp"));
        base_env(&mut command, &self.database_url);
        command
            .current_dir(self.dir.path())
            .args(["serve", "--bind", &format!("127.0.0.1:{}", self.port)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in &self.settings {
            command.env(k, v);
        }
        self.child = Some(command.spawn().unwrap());
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("idp-{}.log", self.starts))
    }

    /// Everything this node wrote since its last start.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(self.url("/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not get ready:\n{}",
                self.base,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown hook runs, nothing is flushed.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
        }
    }

    /// Starts the process again on the same port and waits for it.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "kill the node first");
        self.spawn();
        self.wait_ready().await;
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A client of the cluster: JSON and form calls against any node.
#[derive(Clone, Default)]
pub struct ClusterClient {
    pub http: reqwest::Client,
}

impl ClusterClient {
    pub fn new() -> Self {
        Self { http: reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap() }
    }

    pub async fn register(&self, node: &Node, username: &str, password: &str) {
        let r = self
            .http
            .post(node.url("/auth/register"))
            .json(&serde_json::json!({"username": username, "email": format!("{username}@example.com"), "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "register {username}");
    }

    pub async fn password_grant(
        &self,
        node: &Node,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        self.http
            .post(node.url("/auth/token"))
            .form(&[("grant_type", "password"), ("username", username), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the token response.
    pub async fn login(&self, node: &Node, username: &str, password: &str) -> Value {
        let r = self.password_grant(node, username, password).await;
        assert_eq!(r.status(), 200, "login {username} on {}", node.base);
        r.json().await.unwrap()
    }

    pub async fn refresh(
        &self,
        base: &str,
        refresh_token: &str,
    ) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{base}/auth/token"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
            .send()
            .await
    }

    pub async fn get_bearer(&self, node: &Node, path: &str, token: &str) -> reqwest::Response {
        self.http.get(node.url(path)).bearer_auth(token).send().await.unwrap()
    }
}

/// What the load clients of a crash test share.
pub struct Load {
    pub stop: AtomicBool,
    pub rotations: AtomicU64,
    pub lost_responses: AtomicU64,
}

/// Clients rotating their refresh tokens in a loop ([`refresh_loop`]), for
/// the crash tests: started, watched until something has happened, stopped.
pub struct RefreshLoad {
    load: Arc<Load>,
    workers: Vec<tokio::task::JoinHandle<String>>,
}

impl RefreshLoad {
    /// One client per token, alternating between `bases`.
    pub fn start(client: &ClusterClient, bases: [String; 2], tokens: Vec<String>) -> Self {
        let load = Arc::new(Load {
            stop: AtomicBool::new(false),
            rotations: AtomicU64::new(0),
            lost_responses: AtomicU64::new(0),
        });
        let workers = tokens
            .into_iter()
            .enumerate()
            .map(|(i, token)| {
                let (client, load, bases) = (client.clone(), load.clone(), bases.clone());
                tokio::spawn(refresh_loop(client, bases, token, load, i))
            })
            .collect();
        Self { load, workers }
    }

    pub fn rotations(&self) -> u64 {
        self.load.rotations.load(Ordering::Relaxed)
    }

    pub fn lost_responses(&self) -> u64 {
        self.load.lost_responses.load(Ordering::Relaxed)
    }

    /// Waits until `rotations` more rotations have succeeded (however slow
    /// the machine), failing after a minute.
    pub async fn wait_for_rotations(&self, rotations: u64, what: &str) {
        let target = self.rotations() + rotations;
        self.wait_until(what, || self.rotations() >= target).await;
    }

    /// Waits until at least one request hit a dead node.
    pub async fn wait_for_a_lost_response(&self, what: &str) {
        let target = self.lost_responses() + 1;
        self.wait_until(what, || self.lost_responses() >= target).await;
    }

    async fn wait_until(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops every client; returns each one's last refresh token.
    pub async fn stop(self) -> Vec<String> {
        self.load.stop.store(true, Ordering::Relaxed);
        let mut last = Vec::new();
        for worker in self.workers {
            last.push(worker.await.unwrap());
        }
        last
    }
}

/// One client of a crash test: rotates its refresh token over and over on
/// whichever node answers (`bases` may name one node twice). When a response is lost (the node died mid-way),
/// it presents the same token again on the other node, as a real client
/// retries; the grace period exists for exactly that.
pub async fn refresh_loop(
    client: ClusterClient,
    bases: [String; 2],
    mut token: String,
    load: Arc<Load>,
    id: usize,
) -> String {
    let mut turn = id;
    while !load.stop.load(Ordering::Relaxed) {
        let base = &bases[turn % 2];
        turn += 1;
        match client.refresh(base, &token).await {
            Ok(response) if response.status() == StatusCode::OK => {
                let body: Value = response.json().await.unwrap();
                token = body["refresh_token"].as_str().unwrap().to_owned();
                load.rotations.fetch_add(1, Ordering::Relaxed);
            }
            Ok(response) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {}
            Ok(response) => {
                let status = response.status();
                panic!(
                    "client {id}: refresh answered {status}: {}",
                    response.text().await.unwrap_or_default()
                );
            }
            // Connection refused or reset: the node is down, or died while
            // handling this request. Same token, other node.
            Err(_) => {
                load.lost_responses.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    token
}

/// No refresh token was double-issued: each live session (one per client)
/// has exactly one live token.
pub async fn assert_one_live_token_per_session(database_url: &str, clients: usize) {
    let db = idp_store::Db::connect(database_url, &Default::default()).await.unwrap();
    let live: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.id, COUNT(r.id) FROM sessions s LEFT JOIN refresh_tokens r \
         ON r.session_id = s.id AND r.consumed_at IS NULL AND r.revoked_at IS NULL \
         WHERE s.revoked_at IS NULL GROUP BY s.id",
    )
    .fetch_all(db.read())
    .await
    .unwrap();
    assert_eq!(live.len(), clients, "one live session per client");
    assert!(live.iter().all(|(_, n)| *n == 1), "one live refresh token per session: {live:?}");
    db.close().await;
}
