//! SIGKILL of a single SQLite node under refresh load: every rotation a
//! client was told about survives (WAL with `synchronous=NORMAL` keeps each
//! commit in the OS once it returns, and the group-committing writer answers
//! only after its batch committed). PostgreSQL's counterpart, with two
//! nodes, is in `multi_node`.

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
    let load = RefreshLoad::start(&client, [node.base.clone(), node.base.clone()], tokens);
    load.wait_for_rotations(200, "rotations before the kill").await;
    node.kill9();
    load.wait_for_a_lost_response("a request meeting the dead node").await;
    node.restart().await;
    load.wait_for_rotations(100, "rotations after the restart").await;
    let last_tokens = load.stop().await;

    for (i, token) in last_tokens.iter().enumerate() {
        let response = client.refresh(&node.base, token).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "client {i}'s last refresh token was lost");
    }
    assert_one_live_token_per_session(&db.url, CLIENTS).await;
}
