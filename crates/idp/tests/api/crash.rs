//! SIGKILL of a single SQLite node under refresh load: every rotation a
//! client was told about survives (WAL with `synchronous=NORMAL` keeps each
//! commit in the OS once it returns, and the group-committing writer answers
//! only after its batch committed). PostgreSQL's counterpart, with two
//! nodes, is in `multi_node`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;

#[allow(unused_imports)]
use crate::helpers::*;
use crate::nodes::*;

const PASSWORD: &str = "Crash-user-pass-1!";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_sqlite_node_under_refresh_load_loses_no_acknowledged_rotation() {
    let db = TestDb::create(Engine::Sqlite).await;
    let settings = [("REFRESH_REUSE_GRACE_SECONDS", "60")];
    let mut node = Node::start(&db.url, &settings).await;
    let client = ClusterClient::new();
    const CLIENTS: usize = 12;
    let mut tokens = Vec::new();
    for i in 0..CLIENTS {
        let name = format!("user{i}");
        client.register(&node, &name, PASSWORD).await;
        tokens.push(
            client.login(&node, &name, PASSWORD).await["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let load = Arc::new(Load {
        stop: AtomicBool::new(false),
        rotations: AtomicU64::new(0),
        lost_responses: AtomicU64::new(0),
    });
    let bases = [node.base.clone(), node.base.clone()];
    let workers: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let (client, load) = (client.clone(), load.clone());
            tokio::spawn(refresh_loop(client, bases.clone(), token, load, i))
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    node.kill9();
    let before_kill = load.rotations.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    node.restart().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    load.stop.store(true, Ordering::Relaxed);
    let mut last_tokens = Vec::new();
    for worker in workers {
        last_tokens.push(worker.await.unwrap());
    }
    assert!(before_kill > 100, "the load ran before the kill ({before_kill} rotations)");
    assert!(
        load.rotations.load(Ordering::Relaxed) > before_kill,
        "rotations went on after the restart"
    );
    assert!(load.lost_responses.load(Ordering::Relaxed) > 0, "some requests hit the dead node");

    for (i, token) in last_tokens.iter().enumerate() {
        let response = client.refresh(&node.base, token).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "client {i}'s last refresh token was lost");
    }
    assert_one_live_token_per_session(&db.url, CLIENTS).await;
}
