//! Micro-benchmarks of the hot pieces: signing and verifying per algorithm,
//! the PKCE check, one Argon2id hash, token issuance without HTTP, and refresh rotation
//! against each engine (PostgreSQL when `BENCH_PG_URL` is set).
//!
//!     cargo bench -p idp-server --bench hot_paths
#![allow(clippy::unwrap_used, clippy::expect_used, missing_debug_implementations)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use idp_core::SecretString;
use idp_core::clock::{Clock, SystemClock};
use idp_core::jose::{Algorithm, Expectations, SigningKey, verify};
use idp_core::password::{Argon2Params, PasswordHasher};
use idp_core::session::RequestOrigin;
use idp_core::token::{ACCESS_TOKEN_TYP, AccessClaims, Audience};
use idp_server::config::{Settings, Source};
use idp_server::service::refresh::{self, Requester};
use idp_server::service::registration::{self, Registration};
use idp_server::{AppState, Application, BuildOptions};

fn claims(now: i64) -> AccessClaims {
    AccessClaims {
        iss: "https://id.example.com".into(),
        sub: uuid::Uuid::now_v7().to_string(),
        aud: Audience::One("https://id.example.com".into()),
        exp: now + 1800,
        iat: now,
        jti: "bench-jti-0123456789abcdef".into(),
        client_id: "idp-first-party".into(),
        scope: "openid profile email roles".into(),
        roles: Some(vec!["User".into()]),
        sid: Some(uuid::Uuid::now_v7().to_string()),
        auth_time: Some(now),
    }
}

fn jose(c: &mut Criterion) {
    let now = SystemClock.now();
    for alg in Algorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let verifier = Arc::new(key.verifying_key().unwrap());
        let claims = claims(now.as_secs());
        c.bench_function(&format!("sign access token {alg}"), |b| {
            b.iter(|| black_box(key.sign_jwt(ACCESS_TOKEN_TYP, &claims).unwrap()))
        });
        let token = key.sign_jwt(ACCESS_TOKEN_TYP, &claims).unwrap();
        let expect = Expectations {
            issuer: "https://id.example.com",
            audiences: &["https://id.example.com"],
            typ: ACCESS_TOKEN_TYP,
            now,
            leeway: Duration::from_secs(30),
        };
        c.bench_function(&format!("verify access token {alg}"), |b| {
            b.iter(|| {
                black_box(
                    verify::<AccessClaims>(&token, |_| Some(verifier.clone()), &expect).unwrap(),
                )
            })
        });
    }
}

fn pkce(c: &mut Criterion) {
    // RFC 7636 Appendix B.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    c.bench_function("PKCE S256 check", |b| {
        b.iter(|| black_box(idp_core::pkce::verify(black_box(verifier), black_box(challenge))))
    });
}

fn argon2(c: &mut Criterion) {
    let hasher = PasswordHasher::new(Argon2Params::default()).unwrap();
    let mut memory = hasher.new_memory();
    let stored = hasher.hash(&SecretString::from("Bench-pass-123!")).unwrap();
    let password = SecretString::from("Bench-pass-123!");
    let mut group = c.benchmark_group("argon2id 19 MiB t=2 p=1");
    group.sample_size(20);
    group.bench_function("verify", |b| {
        b.iter(|| black_box(hasher.verify_in(&mut memory, &stored, &password)))
    });
    group.finish();
}

/// A server's state on a fresh database, without the HTTP listener.
async fn app_state(database_url: &str, algorithm: &str) -> AppState {
    let source = Source::from_pairs([
        ("DATABASE_URL", database_url),
        ("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789"),
        ("ALGORITHM", algorithm),
        ("BIND", "127.0.0.1:0"),
        ("ARGON2_MEMORY_KIB", "1024"),
        ("ARGON2_ITERATIONS", "1"),
    ]);
    let settings = Settings::from_source(&source).unwrap();
    let app = Application::build(settings, BuildOptions::default()).await.unwrap();
    app.state().clone()
}

async fn logged_in(state: &AppState) -> String {
    let origin = RequestOrigin::default();
    let name = format!("u{}", uuid::Uuid::new_v4().simple());
    registration::register(
        state,
        Registration {
            username: name.clone(),
            email: format!("{name}@example.com"),
            password: SecretString::from("Bench-pass-123!"),
            name: None,
        },
        &origin,
    )
    .await
    .unwrap();
    let client = idp_server::oauth::client_auth::first_party(state).await.unwrap();
    let user = idp_server::service::login::authenticate(
        state,
        &name,
        SecretString::from("Bench-pass-123!"),
        client.id.as_str(),
        &origin,
    )
    .await
    .unwrap();
    let scope = idp_core::scope::Scope::parse("openid profile").unwrap();
    let new = idp_server::service::sessions::NewSession {
        user: &user,
        client: &client,
        scope: &scope,
        auth_time: state.now(),
        browser_session_id: None,
        origin: &origin,
    };
    let (_, token) = idp_server::service::sessions::start(state, new, &[]).await.unwrap().unwrap();
    token.into_string()
}

fn engines() -> Vec<(&'static str, String, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut engines =
        vec![("sqlite", format!("sqlite://{}/bench.db", dir.path().display()), Some(dir))];
    if let Ok(url) = std::env::var("BENCH_PG_URL") {
        engines.push(("postgres", url, None));
    }
    engines
}

fn storage(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (engine, url, _dir) in engines() {
        for alg in ["RS256", "ES256"] {
            let state = rt.block_on(app_state(&url, alg));
            let origin = RequestOrigin::default();
            let mut token = rt.block_on(logged_in(&state));
            c.bench_function(
                &format!("refresh rotation, one transaction ({engine}, {alg} key loaded)"),
                |b| {
                    b.iter(|| {
                        let rotated = rt
                            .block_on(refresh::rotate(
                                &state,
                                &token,
                                Requester::Unidentified,
                                None,
                                &origin,
                            ))
                            .unwrap();
                        token = rotated.refresh_token.into_string();
                    })
                },
            );
            let client = rt.block_on(idp_server::oauth::client_auth::first_party(&state)).unwrap();
            let scope = idp_core::scope::Scope::parse("openid profile").unwrap();
            let roles = vec!["User".to_owned()];
            c.bench_function(&format!("issue access token, no HTTP ({alg})"), |b| {
                b.iter(|| {
                    let grant = idp_server::service::tokens::AccessGrant {
                        subject: "00000000-0000-7000-8000-000000000009".into(),
                        client: &client,
                        scope: &scope,
                        roles: Some(&roles),
                        session_id: None,
                        auth_time: None,
                        audience: None,
                    };
                    black_box(state.tokens.issue_access(&grant, state.now()).unwrap())
                })
            });
            rt.block_on(state.db.close());
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = jose, pkce, argon2, storage
}
criterion_main!(benches);
