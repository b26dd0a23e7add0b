//! Bounded storage: days of steady traffic (on a moved clock) leave every
//! table's size bounded.

use std::time::Duration;

#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::StatusCode;

const TABLES: &[&str] = &[
    "sessions",
    "refresh_tokens",
    "authorization_codes",
    "browser_sessions",
    "revoked_access_tokens",
    "rate_limit_buckets",
    "login_failures",
    "audit_events",
];

async fn sizes(app: &TestApp) -> Vec<i64> {
    let mut sizes = Vec::new();
    for table in TABLES {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(app.state.db.read()).await.unwrap();
        sizes.push(n);
    }
    sizes
}

/// One simulated hour: logins, rotations, a logout, an access-token
/// revocation, failed logins under new names, rate-limited requests, and a
/// browser sign-in through the authorization code flow.
async fn an_hour_of_traffic(app: &TestApp, hour: usize) {
    let browser = app.browser();
    let redirect = app.browser_login(&browser, &app.authorize_url(&[]), "user1").await;
    let (_, params) = location_params(&redirect);
    assert_eq!(app.exchange(&params["code"], VERIFIER).await.status(), StatusCode::OK);

    for user in ["user1", "user2", "user3"] {
        let tokens = app.login(user).await;
        let rotated = app.refresh(&tokens.refresh_token).await;
        assert_eq!(rotated.status(), StatusCode::OK);
        let rotated = Tokens::from_body(json(rotated).await);
        if user == "user1" {
            app.post_form("/auth/revoke", &[("token", &rotated.refresh_token)]).await;
        }
        if user == "user2" {
            app.post_form(
                "/auth/revoke",
                &[("token", &rotated.access_token), ("token_type_hint", "access_token")],
            )
            .await;
        }
    }
    app.password_grant(&format!("nobody-{hour}"), "wrong-password").await;
}

engine_test!(
    async fn days_of_traffic_leave_the_tables_bounded(engine) {
        let app = TestApp::builder(engine)
            .setting("CLEANUP_INTERVAL_SECONDS", "0")
            .setting("ACCESS_TOKEN_EXPIRE_MINUTES", "5")
            .setting("REFRESH_TOKEN_EXPIRE_DAYS", "1")
            .setting("SESSION_MAX_LIFETIME_DAYS", "1")
            .setting("SESSION_RETENTION_DAYS", "0")
            .setting("AUDIT_RETENTION_DAYS", "1")
            .setting("RATE_LIMIT_PER_MINUTE", "1000")
            .spawn()
            .await;
        for user in ["user1", "user2", "user3"] {
            app.create_user(user).await;
        }
        app.create_spa(true).await;
        let mut after_day = Vec::new();
        for hour in 0..72 {
            an_hour_of_traffic(&app, hour).await;
            app.clock.advance(Duration::from_secs(3600));
            idp_server::service::retention::sweep(&app.state).await.unwrap().expect("no other sweeper");
            let now = sizes(&app).await;
            if hour == 47 {
                after_day = now.clone();
            }
            if hour == 71 {
                // Another day of the same traffic added nothing lasting:
                // every table is no bigger than a day earlier (give or take
                // the rows of one hour).
                for ((table, two_days), three_days) in TABLES.iter().zip(&after_day).zip(&now) {
                    assert!(*three_days <= two_days + 40, "{table} grew from {two_days} to {three_days}");
                    assert!(*three_days < 72 * 40, "{table} holds {three_days} rows");
                }
            }
        }
        // Sessions ended or expired are gone; live ones stay.
        assert!(after_day[0] > 0);
        // One sign-in an hour: a day's codes (kept a day past expiry to
        // recognise replays) and a day's browser sign-ins, no more.
        let now = sizes(&app).await;
        assert!((20..=26).contains(&now[2]), "authorization codes: {}", now[2]);
        assert!((20..=26).contains(&now[3]), "browser sessions: {}", now[3]);
        // The sweeper never removes what is still needed: a fresh login
        // and its refresh work.
        let tokens = app.login("user3").await;
        assert_eq!(app.refresh(&tokens.refresh_token).await.status(), StatusCode::OK);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_postgres_node_sweeps_at_a_time() {
    use idp_server::service::retention::{SWEEP_LOCK, sweep};
    let app =
        TestApp::builder(Engine::Postgres).setting("CLEANUP_INTERVAL_SECONDS", "0").spawn().await;
    // Another node's pool on the same database, mid-sweep.
    let other = idp_store::Db::connect(&app.database_url, &idp_store::PoolSettings::default())
        .await
        .unwrap();
    let held = other.try_exclusive(SWEEP_LOCK).await.unwrap().expect("free at first");
    assert!(sweep(&app.state).await.unwrap().is_none(), "skipped while the other node sweeps");
    held.release().await.unwrap();
    assert!(sweep(&app.state).await.unwrap().is_some(), "runs once the lock is free");
    // A sweeper that dies without releasing (dropped guard) frees the lock
    // too, once PostgreSQL has seen its connection close: wait for that.
    let dropped = other.try_exclusive(SWEEP_LOCK).await.unwrap().expect("free again");
    drop(dropped);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sweep(&app.state).await.unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "a dropped guard's lock is gone");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    other.close().await;
}
