//! Several `idp serve` processes on one PostgreSQL database: whatever one
//! node does, the other sees (refresh rotation and reuse, lockout, key
//! rotation, role changes), and a node killed with SIGKILL under load loses
//! no refresh token a client received.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

#[allow(unused_imports)]
use crate::helpers::*;
use crate::nodes::*;

const PASSWORD: &str = "Cluster-user-pass-1!";

/// A fresh PostgreSQL database (`TEST_DATABASE_URL`; these tests have
/// `postgres` in their names, so nextest's default profile skips them).
async fn postgres_db() -> TestDb {
    TestDb::create(Engine::Postgres).await
}

fn kid_of(jwt: &str) -> String {
    use base64::Engine as _;
    let header = jwt.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn jwks_kids(client: &ClusterClient, node: &Node) -> Vec<String> {
    let jwks: Value = client
        .http
        .get(node.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_database_behave_as_one_server() {
    let db = postgres_db().await;
    // Both start at once on an empty database: the migrations must cope.
    let settings = [("KEYS_REFRESH_SECONDS", "1")];
    let (a, b) = (Node::launch(&db.url, &settings), Node::launch(&db.url, &settings));
    a.wait_ready().await;
    b.wait_ready().await;
    idp_cli(&db.url, &["seed"], &[("ADMIN_PASSWORD", CLUSTER_ADMIN_PASSWORD)]);
    let client = ClusterClient::new();
    // Both nodes found (or made) the same signing key.
    assert_eq!(jwks_kids(&client, &a).await, jwks_kids(&client, &b).await);

    // A refresh token issued by A rotates on B; A's access token works on B.
    client.register(&a, "alice", PASSWORD).await;
    let tokens = client.login(&a, "alice", PASSWORD).await;
    let userinfo =
        client.get_bearer(&b, "/auth/userinfo", tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(userinfo.status(), StatusCode::OK);
    let rotated = client.refresh(&b.base, tokens["refresh_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();

    // 50 concurrent refreshes of one token over both nodes: one wins, the
    // rest are reuse, and reuse revokes the family (the winner's token too).
    let current = rotated["refresh_token"].as_str().unwrap().to_owned();
    let attempts: Vec<_> = (0..50)
        .map(|i| {
            let (client, token) = (client.clone(), current.clone());
            let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
            tokio::spawn(async move { client.refresh(&base, &token).await.unwrap() })
        })
        .collect();
    let mut winners = Vec::new();
    for attempt in attempts {
        let response = attempt.await.unwrap();
        match response.status() {
            StatusCode::OK => winners.push(response.json::<Value>().await.unwrap()),
            StatusCode::BAD_REQUEST => {
                assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant")
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one of 50 concurrent refreshes succeeds");
    let winner = winners[0]["refresh_token"].as_str().unwrap();
    for node in [&a, &b] {
        let refused = client.refresh(&node.base, winner).await.unwrap();
        assert_eq!(
            refused.status(),
            StatusCode::BAD_REQUEST,
            "the family is revoked on both nodes"
        );
    }

    // Five wrong passwords on A lock the account on B too.
    client.register(&b, "carol", PASSWORD).await;
    for _ in 0..5 {
        let wrong = client.password_grant(&a, "carol", "Not-the-password-1").await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    }
    let locked = client.password_grant(&b, "carol", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));

    // A key rotated through A: A signs with it at once, and B accepts those
    // tokens at once (an unknown kid makes B re-read the key table).
    let admin = client.login(&a, "admin", CLUSTER_ADMIN_PASSWORD).await;
    let admin_token = admin["access_token"].as_str().unwrap();
    let rotate = |node: &Node| {
        client
            .http
            .post(node.url("/admin/keys/rotate?immediately=true"))
            .bearer_auth(admin_token)
            .send()
    };
    let first = rotate(&a).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_kid = first.json::<Value>().await.unwrap()["kid"].as_str().unwrap().to_owned();
    let signed_by_new_key = client.login(&a, "alice", PASSWORD).await;
    let access = signed_by_new_key["access_token"].as_str().unwrap();
    assert_eq!(kid_of(access), first_kid);
    assert_eq!(client.get_bearer(&b, "/auth/userinfo", access).await.status(), StatusCode::OK);
    assert!(jwks_kids(&client, &b).await.contains(&first_kid));

    // With no token to prompt it, B's JWKS shows a key rotated on A within
    // KEYS_REFRESH_SECONDS (1 s here; 30 s by default).
    let second = rotate(&a).await.unwrap();
    let second_kid = second.json::<Value>().await.unwrap()["kid"].as_str().unwrap().to_owned();
    let rotated_at = Instant::now();
    while !jwks_kids(&client, &b).await.contains(&second_kid) {
        assert!(
            rotated_at.elapsed() < Duration::from_secs(3),
            "B never published the key rotated on A"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // B now signs with it too.
    let from_b = client.login(&b, "alice", PASSWORD).await;
    assert_eq!(kid_of(from_b["access_token"].as_str().unwrap()), second_kid);

    // A role change on A refuses B's older access token at once (the
    // session check reads the database on every request; nothing is cached).
    let alice_token = from_b["access_token"].as_str().unwrap();
    assert_eq!(client.get_bearer(&b, "/auth/me", alice_token).await.status(), StatusCode::OK);
    let users: Value =
        client.get_bearer(&a, "/admin/users?limit=100", admin_token).await.json().await.unwrap();
    let alice_id =
        users["items"].as_array().unwrap().iter().find(|u| u["username"] == "alice").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let changed = client
        .http
        .put(a.url(&format!("/admin/users/{alice_id}/roles")))
        .bearer_auth(admin_token)
        .json(&json!({"roles": ["User", "Admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        client.get_bearer(&b, "/auth/me", alice_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let refused = client.refresh(&b.base, from_b["refresh_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_postgres_node_under_refresh_load_loses_no_token() {
    let db = postgres_db().await;
    let settings = [("REFRESH_REUSE_GRACE_SECONDS", "60")];
    let mut a = Node::start(&db.url, &settings).await;
    let b = Node::start(&db.url, &settings).await;
    let client = ClusterClient::new();
    const CLIENTS: usize = 12;
    let mut tokens = Vec::new();
    for i in 0..CLIENTS {
        let name = format!("user{i}");
        client.register(&a, &name, PASSWORD).await;
        tokens.push(
            client.login(&b, &name, PASSWORD).await["refresh_token"].as_str().unwrap().to_owned(),
        );
    }

    let load = RefreshLoad::start(&client, [a.base.clone(), b.base.clone()], tokens);
    load.wait_for_rotations(100, "rotations before the kill").await;
    a.kill9();
    // B keeps serving while A is down; some requests meet the dead A.
    load.wait_for_a_lost_response("a request meeting the dead node").await;
    load.wait_for_rotations(100, "rotations on B while A is down").await;
    a.restart().await;
    load.wait_for_rotations(100, "rotations after A restarted").await;
    let last_tokens = load.stop().await;

    // Every token a client last received works, on either node.
    for (i, token) in last_tokens.iter().enumerate() {
        let node = if i % 2 == 0 { &a } else { &b };
        let response = client.refresh(&node.base, token).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "client {i}'s last refresh token was lost");
    }
    // And none was double-issued: each session has exactly one live token.
    assert_one_live_token_per_session(&db.url, CLIENTS).await;
}
