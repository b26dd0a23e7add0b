//! PostgreSQL stops and starts under load: idp answers 503 quickly while it
//! is gone and recovers by itself when it is back. The test makes its own
//! PostgreSQL cluster on a free port (`pg_createcluster`), so the shared
//! server on 5432 is never touched.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

#[allow(unused_imports)]
use crate::helpers::*;
use crate::nodes::*;

/// A throw-away PostgreSQL cluster, dropped with the value.
struct PgCluster {
    version: String,
    name: String,
    port: u16,
}

impl PgCluster {
    /// A cluster of its own; fails where the Debian cluster tools (and
    /// root) are missing. nextest's default profile skips this test (its
    /// name has `postgres`); `--profile ci` runs it.
    fn create() -> PgCluster {
        let version = std::fs::read_dir("/etc/postgresql")
            .ok()
            .and_then(|mut dirs| dirs.next())
            .and_then(|d| d.ok())
            .map(|d| d.file_name().to_string_lossy().into_owned());
        let usable =
            version.is_some() && Command::new("pg_createcluster").arg("--help").output().is_ok();
        let version = version
            .filter(|_| usable)
            .expect("this test needs pg_createcluster (postgresql-common) and root");
        let cluster = PgCluster {
            version,
            name: format!("idp_outage_{}", std::process::id()),
            port: free_port(),
        };
        cluster.run("pg_createcluster", &["-p", &cluster.port.to_string(), "--", "--auth=trust"]);
        cluster.start();
        cluster
    }

    fn run(&self, tool: &str, extra: &[&str]) {
        let out = Command::new(tool)
            .args([self.version.as_str(), self.name.as_str()])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool} {} {}: {}{}",
            self.version,
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        self.run("pg_ctlcluster", &["start"]);
    }

    /// A fast shutdown: open sessions are terminated, as in a failover or
    /// a restart for an upgrade.
    fn stop(&self) {
        self.run("pg_ctlcluster", &["stop", "-m", "fast"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster").args(["--stop", &self.version, &self.name]).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_gives_quick_503s_then_recovers_without_restarting_idp() {
    let pg = PgCluster::create();
    let node = Node::start(&pg.url(), &[]).await;
    let client = ClusterClient::new();
    client.register(&node, "olivia", "Outage-pass-123!").await;
    let tokens = client.login(&node, "olivia", "Outage-pass-123!").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // Steady load: userinfo (one session read per request).
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, access, stop) =
                (client.clone(), node.url("/auth/userinfo"), access.clone(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let status =
                        client.http.get(&url).bearer_auth(&access).send().await.unwrap().status();
                    seen.push((status, started.elapsed()));
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    pg.stop();
    let down_at = Instant::now();
    // Readiness says so, and every kind of request fails fast with 503.
    let ready = client.http.get(node.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let started = Instant::now();
    let login = client.password_grant(&node, "olivia", "Outage-pass-123!").await;
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(login.headers().contains_key("retry-after"));
    assert_eq!(login.json::<Value>().await.unwrap()["error"], "temporarily_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a login during the outage took {:?} (DATABASE_ACQUIRE_TIMEOUT_MS is 2000)",
        started.elapsed()
    );
    let refresh =
        client.refresh(&node.base, tokens["refresh_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(refresh.status(), StatusCode::SERVICE_UNAVAILABLE);
    let me = client.get_bearer(&node, "/auth/me", &access).await;
    assert_eq!(me.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(me.headers()["content-type"], "application/problem+json");
    // Static answers do not need the database.
    assert_eq!(
        client.http.get(node.url("/.well-known/jwks.json")).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        client.http.get(node.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    while down_at.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    pg.start();
    let up_at = Instant::now();
    loop {
        let r = client.http.get(node.url("/readyz")).send().await.unwrap();
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(
            up_at.elapsed() < Duration::from_secs(10),
            "idp did not recover within 10 s of PostgreSQL starting"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_in = up_at.elapsed();
    // The refresh token the outage refused still works: nothing was consumed.
    let refresh =
        client.refresh(&node.base, tokens["refresh_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(refresh.status(), StatusCode::OK, "refresh after the outage");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);

    let mut seen = Vec::new();
    for task in load {
        seen.extend(task.await.unwrap());
    }
    let statuses: std::collections::BTreeSet<u16> = seen.iter().map(|(s, _)| s.as_u16()).collect();
    let slowest = seen.iter().map(|(_, d)| *d).max().unwrap();
    eprintln!(
        "outage: {} requests, statuses {statuses:?}, slowest {slowest:?}, readiness back {recovered_in:?} after start",
        seen.len()
    );
    assert!(
        statuses.is_subset(&[200, 503].into()),
        "only 200 or 503 under the outage, saw {statuses:?}"
    );
    assert!(statuses.contains(&503) && statuses.contains(&200));
    // The pool's acquire timeout (DATABASE_ACQUIRE_TIMEOUT_MS, 2 s by
    // default) bounds every request; a little over it for the round trip.
    assert!(slowest < Duration::from_secs(3), "no request hung: slowest took {slowest:?}");
    assert_eq!(seen.last().unwrap().0, StatusCode::OK, "the load succeeds again");
    assert!(!node.log().contains("panicked"), "{}", node.log());
}
