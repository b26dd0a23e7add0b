//! RS256 beside another ALGORITHM: OIDC Core §15.1 and Discovery §3 require
//! every OpenID provider to offer RS256 ID tokens, so with `ALGORITHM=ES256`
//! or `EdDSA` an RS256 key is kept, published, rotated and retired too, and
//! a client that registers `id_token_signed_response_alg=RS256` gets RS256
//! ID tokens. (The full code flow with an independent client library is in
//! `oidc_client.rs`.)

#[allow(unused_imports)]
use crate::helpers::*;

use std::sync::Arc;

use idp_core::client::{ClientType, GrantType};
use idp_core::clock::ManualClock;
use idp_core::jose::Algorithm;
use idp_server::config::{Settings, Source};
use idp_server::service::clients::ClientSpec;
use idp_server::service::keys::KeySource;
use idp_store::repo::signing_keys;
use idp_store::{Db, PoolSettings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn header(jwt: &str) -> jsonwebtoken::Header {
    jsonwebtoken::decode_header(jwt).unwrap()
}

fn alg_of(jwt: &str) -> String {
    format!("{:?}", header(jwt).alg)
}

fn kid_of(jwt: &str) -> String {
    header(jwt).kid.unwrap()
}

async fn jwks(app: &TestApp) -> Value {
    json(app.get("/.well-known/jwks.json").await).await
}

/// The published keys' `(alg, kid)`, sorted.
async fn published(app: &TestApp) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = jwks(app).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["alg"].as_str().unwrap().to_owned(), k["kid"].as_str().unwrap().to_owned()))
        .collect();
    keys.sort();
    keys
}

/// `GET /admin/keys`: `(alg, active)` of every key, sorted.
async fn key_states(app: &TestApp, admin: &str) -> Vec<(String, bool)> {
    let mut keys: Vec<(String, bool)> = json(app.get_bearer("/admin/keys", admin).await)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["alg"].as_str().unwrap().to_owned(), k["active"].as_bool().unwrap()))
        .collect();
    keys.sort();
    keys
}

/// Verifies `jwt` with an independent library against the served JWKS.
async fn verify_with_jwks(app: &TestApp, jwt: &str, audience: &str) -> Value {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks(app).await).unwrap();
    let header = header(jwt);
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("kid in the JWKS");
    assert_eq!(
        jwk.common.key_algorithm.map(|a| format!("{a:?}")),
        Some(format!("{:?}", header.alg)),
        "the JWK's alg is the token's"
    );
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[app.base_url.as_str()]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation).unwrap().claims
}

/// A first-party confidential client with the password grant whose ID
/// tokens are signed with `alg` (the server's default without one).
async fn password_client(app: &TestApp, id: &str, alg: Option<Algorithm>) -> String {
    app.create_client(ClientSpec {
        id: Some(id.into()),
        name: id.into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::Password, GrantType::RefreshToken],
        scopes: vec!["openid".into(), "profile".into(), "offline_access".into()],
        first_party: true,
        access_token_ttl: None,
        refresh_token_ttl: None,
        id_token_signed_response_alg: alg,
    })
    .await
    .unwrap()
}

async fn login_as(app: &TestApp, client: &str, secret: &str, username: &str) -> Tokens {
    let response = app
        .client
        .post(app.url("/auth/token"))
        .basic_auth(client, Some(secret))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", PASSWORD),
            ("scope", "openid profile offline_access"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    Tokens::from_body(json(response).await)
}

async fn rs256_is_published_beside(engine: Engine, algorithm: &str) {
    let app = TestApp::builder(engine).setting("ALGORITHM", algorithm).spawn().await;
    let discovery = json(app.get("/.well-known/openid-configuration").await).await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!([algorithm, "RS256"]),
        "the configured algorithm first, then RS256"
    );
    let jwks = jwks(&app).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{jwks}");
    for alg in [algorithm, "RS256"] {
        let key = keys.iter().find(|k| k["alg"] == alg).unwrap_or_else(|| panic!("{alg}: {jwks}"));
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    }
    assert_ne!(keys[0]["kid"], keys[1]["kid"]);
}

engine_test!(
    async fn an_es256_server_publishes_an_rs256_key_too(engine) {
        rs256_is_published_beside(engine, "ES256").await;
    }
);

engine_test!(
    async fn an_eddsa_server_publishes_an_rs256_key_too(engine) {
        rs256_is_published_beside(engine, "EdDSA").await;
    }
);

async fn each_client_gets_its_algorithm(engine: Engine, algorithm: &str) {
    let app = TestApp::builder(engine).setting("ALGORITHM", algorithm).spawn().await;
    app.create_user("alice").await;
    let rs256_secret = password_client(&app, "wants-rs256", Some(Algorithm::RS256)).await;
    let default_secret = password_client(&app, "takes-default", None).await;

    let rs256 = login_as(&app, "wants-rs256", &rs256_secret, "alice").await;
    let id_token = rs256.id_token.as_deref().unwrap();
    assert_eq!(alg_of(id_token), "RS256");
    let claims = verify_with_jwks(&app, id_token, "wants-rs256").await;
    assert!(claims["at_hash"].is_string());
    assert_eq!(alg_of(&rs256.access_token), algorithm, "access tokens keep ALGORITHM");
    verify_with_jwks(&app, &rs256.access_token, &app.base_url).await;

    let default = login_as(&app, "takes-default", &default_secret, "alice").await;
    let id_token = default.id_token.as_deref().unwrap();
    assert_eq!(alg_of(id_token), algorithm);
    verify_with_jwks(&app, id_token, "takes-default").await;
    // The built-in client, too, gets the default.
    assert_eq!(alg_of(app.login("alice").await.id_token.as_deref().unwrap()), algorithm);

    // An RS256 ID token is as good an id_token_hint as any.
    let logout = app
        .get(&format!("/auth/logout?id_token_hint={}", rs256.id_token.as_deref().unwrap()))
        .await;
    assert_eq!(logout.status(), StatusCode::OK);
    assert_eq!(json(app.refresh(&rs256.refresh_token).await).await["error"], "invalid_grant");
}

engine_test!(
    async fn es256_servers_sign_id_tokens_with_rs256_only_for_clients_that_ask(engine) {
        each_client_gets_its_algorithm(engine, "ES256").await;
    }
);

engine_test!(
    async fn eddsa_servers_sign_id_tokens_with_rs256_only_for_clients_that_ask(engine) {
        each_client_gets_its_algorithm(engine, "EdDSA").await;
    }
);

engine_test!(
    async fn the_admin_api_takes_only_algorithms_the_server_signs_with(engine) {
        let app = TestApp::builder(engine).setting("ALGORITHM", "ES256").spawn().await;
        let admin = app.admin_token().await;
        let create = |alg: Value| {
            let (app, admin) = (&app, &admin);
            async move {
                app.call(Method::POST, "/admin/clients", admin, Some(json!({
                    "name": "RP", "client_type": "public", "redirect_uris": [REDIRECT_URI],
                    "id_token_signed_response_alg": alg})))
                    .await
            }
        };
        for refused in [json!("EdDSA"), json!("HS256"), json!("none"), json!("rs256"), json!("")] {
            let response = create(refused.clone()).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
            let body = json(response).await;
            assert_eq!(body["errors"][0]["field"], "id_token_signed_response_alg", "{body}");
            assert_eq!(
                body["errors"][0]["message"],
                "must be one of ES256, RS256 (id_token_signing_alg_values_supported)"
            );
        }
        let created = create(json!("RS256")).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created = json(created).await;
        assert_eq!(created["id_token_signed_response_alg"], "RS256");
        let path = format!("/admin/clients/{}", created["client_id"].as_str().unwrap());
        assert_eq!(json(app.get_bearer(&path, &admin).await).await["id_token_signed_response_alg"], "RS256");

        let patch = |body: Value| {
            let (app, admin, path) = (&app, &admin, &path);
            async move { app.call(Method::PATCH, path, admin, Some(body)).await }
        };
        let other = json(patch(json!({"name": "Renamed"})).await).await;
        assert_eq!(other["id_token_signed_response_alg"], "RS256", "absent: unchanged");
        let es256 = json(patch(json!({"id_token_signed_response_alg": "ES256"})).await).await;
        assert_eq!(es256["id_token_signed_response_alg"], "ES256");
        let cleared = json(patch(json!({"id_token_signed_response_alg": null})).await).await;
        assert_eq!(cleared["id_token_signed_response_alg"], Value::Null, "null: back to ALGORITHM");
        let refused = patch(json!({"id_token_signed_response_alg": "EdDSA"})).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // A server that signs with RS256 only offers nothing else.
        let rs256 = TestApp::spawn(engine).await;
        let admin = rs256.admin_token().await;
        let response = rs256.call(Method::POST, "/admin/clients", &admin, Some(json!({
            "name": "RP", "client_type": "public", "redirect_uris": [REDIRECT_URI],
            "id_token_signed_response_alg": "ES256"}))).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
);

engine_test!(
    async fn rotation_rotates_every_algorithm_in_use(engine) {
        let app = TestApp::builder(engine).setting("ALGORITHM", "ES256").spawn().await;
        let admin = app.admin_token().await;
        app.create_user("alice").await;
        let secret = password_client(&app, "wants-rs256", Some(Algorithm::RS256)).await;
        let before = published(&app).await;
        assert_eq!(before.len(), 2);

        // Published ahead: both new keys are in the JWKS, the old ones sign.
        let ahead = app.call(Method::POST, "/admin/keys/rotate", &admin, None).await;
        assert_eq!(ahead.status(), StatusCode::CREATED);
        let ahead = json(ahead).await;
        let algs: Vec<&str> = ahead["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
        assert_eq!(algs, ["ES256", "RS256"], "{ahead}");
        assert_eq!(ahead["alg"], "ES256", "the configured algorithm's key first");
        assert_eq!(ahead["kid"], ahead["keys"][0]["kid"]);
        assert_eq!(published(&app).await.len(), 4);
        let tokens = login_as(&app, "wants-rs256", &secret, "alice").await;
        let old_kids: Vec<&String> = before.iter().map(|(_, kid)| kid).collect();
        assert!(old_kids.contains(&&kid_of(&tokens.access_token)));
        assert!(old_kids.contains(&&kid_of(tokens.id_token.as_deref().unwrap())));

        // At once (a second later): each algorithm's new key signs, and the
        // keys before it stop signing but stay published.
        app.clock.advance(std::time::Duration::from_secs(1));
        let now = json(app.call(Method::POST, "/admin/keys/rotate?immediately=true", &admin, None).await).await;
        let new_kid = |alg: &str| {
            now["keys"].as_array().unwrap().iter().find(|k| k["alg"] == alg).unwrap()["kid"].as_str().unwrap().to_owned()
        };
        let tokens = login_as(&app, "wants-rs256", &secret, "alice").await;
        assert_eq!(kid_of(&tokens.access_token), new_kid("ES256"));
        assert_eq!(kid_of(tokens.id_token.as_deref().unwrap()), new_kid("RS256"));
        verify_with_jwks(&app, tokens.id_token.as_deref().unwrap(), "wants-rs256").await;
        assert_eq!(published(&app).await.len(), 6, "retired keys stay published");
        let states = key_states(&app, &admin).await;
        for alg in ["ES256", "RS256"] {
            let active = states.iter().filter(|(a, active)| a == alg && *active).count();
            let retired = states.iter().filter(|(a, active)| a == alg && !*active).count();
            assert_eq!((active, retired), (1, 2), "{alg}: {states:?}");
        }
    }
);

engine_test!(
    async fn a_restart_keeps_both_keys(engine) {
        let test_db = TestDb::create(engine).await;
        let first = TestApp::builder(engine).database(&test_db).setting("ALGORITHM", "EdDSA").spawn().await;
        first.create_user("alice").await;
        let secret = password_client(&first, "wants-rs256", Some(Algorithm::RS256)).await;
        let keys = published(&first).await;
        let id_token = login_as(&first, "wants-rs256", &secret, "alice").await.id_token.unwrap();
        first.stop().await;

        let second = TestApp::builder(engine).database(&test_db).setting("ALGORITHM", "EdDSA").spawn().await;
        assert_eq!(published(&second).await, keys, "no new key at a restart");
        let again = login_as(&second, "wants-rs256", &secret, "alice").await.id_token.unwrap();
        assert_eq!(kid_of(&again), kid_of(&id_token), "the same RS256 key signs");
        assert_eq!(alg_of(&second.login("alice").await.access_token), "EdDSA");
    }
);

engine_test!(
    async fn nodes_starting_together_add_one_key_per_algorithm(engine) {
        let test_db = TestDb::create(engine).await;
        let db = Db::connect(&test_db.url, &PoolSettings::default()).await.unwrap();
        idp_store::migrate::run(&db).await.unwrap();
        let settings = Settings::from_source(&Source::from_pairs([
            ("DATABASE_URL", test_db.url.as_str()),
            ("SECRET_KEY", TEST_SECRET_KEY),
            ("ALGORITHM", "ES256"),
        ]))
        .unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let node = || KeySource::new(&settings, db.clone(), clock.clone()).unwrap();
        let (a, b, c) = (node(), node(), node());
        let (ra, rb, rc) = tokio::join!(a.ensure(), b.ensure(), c.ensure());
        for result in [ra, rb, rc] {
            result.unwrap();
        }

        let keys = signing_keys::all(db.read()).await.unwrap();
        let mut algs: Vec<&str> = keys.iter().map(|k| k.alg.as_str()).collect();
        algs.sort_unstable();
        assert_eq!(algs, ["ES256", "RS256"], "one key per algorithm: {keys:?}");
        let (sa, sb) = (a.load().await.unwrap(), c.load().await.unwrap());
        assert_eq!(sa.jwks(), sb.jwks());
        assert_eq!(sa.signer().alg(), Algorithm::ES256);
        assert_eq!(sa.signer_for(Algorithm::RS256).unwrap().kid(), sb.signer_for(Algorithm::RS256).unwrap().kid());
        assert!(sa.signer_for(Algorithm::EdDSA).is_none());
        db.close().await;
    }
);

engine_test!(
    async fn changing_the_algorithm_retires_the_old_one_and_keeps_rs256(engine) {
        let test_db = TestDb::create(engine).await;
        let start = |alg: &'static str| TestApp::builder(engine).database(&test_db).setting("ALGORITHM", alg).spawn();
        // Each start has its own issuer (a new port), so its own admin token.
        let app = start("ES256").await;
        let mut expected = vec![("ES256".to_owned(), true), ("RS256".to_owned(), true)];
        assert_eq!(key_states(&app, &app.admin_token().await).await, expected);
        app.stop().await;

        // ES256 → EdDSA: the ES256 key retires (and stays published until
        // its tokens expire); the RS256 key stays.
        let app = start("EdDSA").await;
        expected = vec![("ES256".into(), false), ("EdDSA".into(), true), ("RS256".into(), true)];
        assert_eq!(key_states(&app, &app.admin_token().await).await, expected);
        assert_eq!(published(&app).await.len(), 3);
        let rs256_kid = published(&app).await.into_iter().find(|(alg, _)| alg == "RS256").unwrap().1;
        app.stop().await;

        // EdDSA → RS256: the same RS256 key now signs everything.
        let app = start("RS256").await;
        expected = vec![("ES256".into(), false), ("EdDSA".into(), false), ("RS256".into(), true)];
        assert_eq!(key_states(&app, &app.admin_token().await).await, expected);
        app.create_user("alice").await;
        assert_eq!(kid_of(&app.login("alice").await.access_token), rs256_kid);
        let discovery = json(app.get("/.well-known/openid-configuration").await).await;
        assert_eq!(discovery["id_token_signing_alg_values_supported"], json!(["RS256"]));
    }
);

fn openssl(args: &[&str], dir: &std::path::Path) {
    let status =
        std::process::Command::new("openssl").args(args).current_dir(dir).status().unwrap();
    assert!(status.success(), "openssl {args:?}");
}

engine_test!(
    async fn a_key_file_of_another_algorithm_gets_a_generated_rs256_key_beside_it(engine) {
        let dir = tempfile::tempdir().unwrap();
        openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem"], dir.path());
        let test_db = TestDb::create(engine).await;
        let start = || {
            TestApp::builder(engine)
                .database(&test_db)
                .setting("ALGORITHM", "ES256")
                .setting("PRIVATE_KEY_PATH", dir.path().join("ec.pem").display().to_string())
                .spawn()
        };
        let app = start().await;
        let admin = app.admin_token().await;
        app.create_user("alice").await;
        let access = app.login("alice").await.access_token;
        let keys = json(app.get_bearer("/admin/keys", &admin).await).await;
        let source = |alg: &str| keys.as_array().unwrap().iter().find(|k| k["alg"] == alg).unwrap()["source"].clone();
        assert_eq!(source("ES256"), "file");
        assert_eq!(source("RS256"), "generated", "sealed under SECRET_KEY in the database");
        assert!(published(&app).await.contains(&("ES256".into(), kid_of(&access))));

        // Rotation renews the generated key; the file key is the file's.
        let rotated = app.call(Method::POST, "/admin/keys/rotate?immediately=true", &admin, None).await;
        assert_eq!(rotated.status(), StatusCode::CREATED);
        let rotated = json(rotated).await;
        assert_eq!(rotated["keys"].as_array().unwrap().len(), 1, "{rotated}");
        assert_eq!(rotated["alg"], "RS256");
        let secret = password_client(&app, "wants-rs256", Some(Algorithm::RS256)).await;
        let tokens = login_as(&app, "wants-rs256", &secret, "alice").await;
        assert_eq!(kid_of(&tokens.access_token), kid_of(&access), "the file key still signs");
        assert_eq!(kid_of(tokens.id_token.as_deref().unwrap()), rotated["kid"].as_str().unwrap());
        let keys = published(&app).await;
        app.stop().await;

        let app = start().await;
        assert_eq!(published(&app).await, keys, "a restart keeps them");
    }
);

engine_test!(
    async fn an_rs256_key_file_alone_still_cannot_be_rotated_here(engine) {
        let dir = tempfile::tempdir().unwrap();
        openssl(&["genrsa", "-out", "rsa.pem", "2048"], dir.path());
        let app = TestApp::builder(engine)
            .setting("PRIVATE_KEY_PATH", dir.path().join("rsa.pem").display().to_string())
            .spawn()
            .await;
        let admin = app.admin_token().await;
        assert_eq!(published(&app).await.len(), 1, "no second key beside an RS256 file");
        let rotated = app.call(Method::POST, "/admin/keys/rotate", &admin, None).await;
        assert_eq!(rotated.status(), StatusCode::CONFLICT);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_rotates_both_keys_and_registers_rs256_clients() {
    let dir = tempfile::tempdir().unwrap();
    let idp = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_idp"))
            .current_dir(dir.path())
            .env_clear()
            .env("ALGORITHM", "ES256")
            .args(args)
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let out = idp(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&["migrate"]);
    let rotated = ok(&["keys", "rotate"]);
    assert!(rotated.contains("New ES256 key"), "{rotated}");
    assert!(rotated.contains("New RS256 key"), "{rotated}");
    let list = ok(&["keys", "list"]);
    assert_eq!(list.lines().filter(|l| l.contains("active")).count(), 2, "{list}");

    let created = ok(&[
        "client",
        "create",
        "--name",
        "Certification RP",
        "--confidential",
        "--redirect-uri",
        "https://rp.example.com/cb",
        "--id-token-alg",
        "RS256",
    ]);
    assert!(created.contains("client_secret"), "{created}");
    let refused = idp(&[
        "client",
        "create",
        "--name",
        "x",
        "--redirect-uri",
        "https://rp.example.com/cb",
        "--id-token-alg",
        "EdDSA",
        "--file",
        "other.json",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(stderr.contains("--id-token-alg: must be one of ES256, RS256"), "{stderr}");
}

/// Two `idp serve` processes starting at once on an empty PostgreSQL
/// database: the advisory lock lets one of them add both first keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_es256_nodes_starting_together_on_postgres_add_one_key_per_algorithm() {
    use crate::nodes::Node;
    let db = TestDb::create(Engine::Postgres).await;
    let settings = [("ALGORITHM", "ES256")];
    let (a, b) = (Node::launch(&db.url, &settings), Node::launch(&db.url, &settings));
    a.wait_ready().await;
    b.wait_ready().await;
    let http = reqwest::Client::new();
    let jwks = |node: &Node| {
        let request = http.get(node.url("/.well-known/jwks.json")).send();
        async move { request.await.unwrap().json::<Value>().await.unwrap() }
    };
    let (from_a, from_b) = (jwks(&a).await, jwks(&b).await);
    assert_eq!(from_a, from_b);
    let mut algs: Vec<&str> =
        from_a["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort_unstable();
    assert_eq!(algs, ["ES256", "RS256"], "{from_a}");
}
