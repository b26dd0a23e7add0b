//! Refresh-token rotation, reuse detection, revocation and lifetimes.

#[allow(unused_imports)]
use crate::helpers::*;

use std::time::Duration;

use reqwest::StatusCode;

async fn assert_refused(app: &TestApp, refresh_token: &str) {
    let response = app.refresh(refresh_token).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json(response).await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["detail"], "Invalid or revoked refresh token");
}

async fn rotate(app: &TestApp, refresh_token: &str) -> Tokens {
    let response = app.refresh(refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    Tokens::from_body(json(response).await)
}

engine_test!(
    async fn each_refresh_rotates_and_the_old_token_is_refused(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let first = app.login("alice").await;
        let second = rotate(&app, &first.refresh_token).await;
        assert!(second.id_token.is_none(), "no ID token on refresh");
        assert_eq!(second.body["scope"], "openid profile email roles");
        // The new access token works.
        assert_eq!(app.get_bearer("/auth/me", &second.access_token).await.status(), StatusCode::OK);
        let third = rotate(&app, &second.refresh_token).await;
        assert_ne!(third.refresh_token, second.refresh_token);
    }
);

engine_test!(
    async fn replaying_a_token_of_an_already_revoked_family_is_refused_once_more_and_nothing_else(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        app.create_user("alice").await;
        let first = app.login("alice").await;
        rotate(&app, &first.refresh_token).await;
        for _ in 0..4 {
            assert_refused(&app, &first.refresh_token).await;
        }
        // One reuse, one audit event, one count: the later replays found
        // the family already ended.
        let events = json(app.call(reqwest::Method::GET, "/admin/audit?event=token.reuse_detected", &admin, None).await).await;
        assert_eq!(events["total"], 1, "{events}");
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("idp_refresh_token_reuse_total 1\n"), "{metrics}");
    }
);

engine_test!(
    async fn reusing_a_consumed_token_revokes_the_whole_family(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let first = app.login("alice").await;
        let second = rotate(&app, &first.refresh_token).await;

        // An attacker replays the first token.
        assert_refused(&app, &first.refresh_token).await;

        // The legitimate successor is dead too, and so is its access token.
        assert_refused(&app, &second.refresh_token).await;
        let me = app.get_bearer("/auth/me", &second.access_token).await;
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(me.headers()["www-authenticate"], r#"Bearer error="invalid_token""#);

        // Another session of the same user is untouched.
        let other = app.login("alice").await;
        rotate(&app, &other.refresh_token).await;
    }
);

engine_test!(
    async fn a_revoked_token_cannot_refresh(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let tokens = app.login("alice").await;
        let revoked = app.post_form("/auth/revoke", &[("token", &tokens.refresh_token)]).await;
        assert_eq!(revoked.status(), StatusCode::OK);
        assert_refused(&app, &tokens.refresh_token).await;
        // Revoking the refresh token ends the session: its access token is refused.
        assert_eq!(app.get_bearer("/auth/me", &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
    }
);

engine_test!(
    async fn fifty_concurrent_refreshes_of_one_token_yield_one_success(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let tokens = app.login("alice").await;

        let attempts = (0..50).map(|_| {
            let client = app.client.clone();
            let url = app.url("/auth/token");
            let token = tokens.refresh_token.clone();
            tokio::spawn(async move {
                client
                    .post(url)
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", token.as_str())])
                    .send()
                    .await
                    .unwrap()
            })
        });
        let mut winners = Vec::new();
        for attempt in attempts.collect::<Vec<_>>() {
            let response = attempt.await.unwrap();
            match response.status() {
                StatusCode::OK => winners.push(Tokens::from_body(json(response).await)),
                StatusCode::BAD_REQUEST => assert_eq!(json(response).await["error"], "invalid_grant"),
                other => panic!("unexpected status {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one refresh succeeds");
        // The losers were reuse: the family, including the winner's successor, is revoked.
        assert_refused(&app, &winners[0].refresh_token).await;
    }
);

engine_test!(
    async fn refresh_tokens_expire_and_sessions_have_an_absolute_cap(engine) {
        let app = TestApp::builder(engine)
            .setting("REFRESH_TOKEN_EXPIRE_DAYS", "7")
            .setting("SESSION_MAX_LIFETIME_DAYS", "10")
            .spawn()
            .await;
        app.create_user("alice").await;

        // Sliding expiry: unused for more than 7 days, the token is dead.
        let idle = app.login("alice").await;
        app.clock.advance(Duration::from_secs(7 * 86_400 + 1));
        assert_refused(&app, &idle.refresh_token).await;

        // Used every 6 days it slides, but never past the session's 10 days.
        let mut tokens = app.login("alice").await;
        app.clock.advance(Duration::from_secs(6 * 86_400));
        tokens = rotate(&app, &tokens.refresh_token).await;
        app.clock.advance(Duration::from_secs(4 * 86_400 - 60));
        tokens = rotate(&app, &tokens.refresh_token).await;
        app.clock.advance(Duration::from_secs(120));
        assert_refused(&app, &tokens.refresh_token).await;
    }
);

engine_test!(
    async fn a_refresh_may_narrow_the_scope_but_not_widen_it(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let tokens = app.login("alice").await;

        let widened = app
            .post_form("/auth/token", &[("grant_type", "refresh_token"), ("refresh_token", &tokens.refresh_token), ("scope", "openid offline_access")])
            .await;
        assert_eq!(widened.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(widened).await["error"], "invalid_scope");

        // The refused request did not consume the token.
        let narrowed = app
            .post_form("/auth/token", &[("grant_type", "refresh_token"), ("refresh_token", &tokens.refresh_token), ("scope", "openid email")])
            .await;
        assert_eq!(narrowed.status(), StatusCode::OK);
        let narrowed = json(narrowed).await;
        assert_eq!(narrowed["scope"], "openid email");
        let info = json(app.get_bearer("/auth/userinfo", narrowed["access_token"].as_str().unwrap()).await).await;
        assert!(info.get("preferred_username").is_none(), "profile was narrowed away: {info}");
        assert_eq!(info["email"], "alice@example.com");
    }
);

engine_test!(
    async fn within_the_grace_period_a_lost_rotation_can_be_retried(engine) {
        let app = TestApp::builder(engine).setting("REFRESH_REUSE_GRACE_SECONDS", "30").spawn().await;
        app.create_user("alice").await;
        let first = app.login("alice").await;

        // The response carrying `lost` never reached the client...
        let lost = rotate(&app, &first.refresh_token).await;
        // ...so it retries with the token it still has, and gets a fresh pair.
        app.clock.advance(Duration::from_secs(5));
        let retried = rotate(&app, &first.refresh_token).await;
        assert_ne!(retried.refresh_token, lost.refresh_token);
        // The successor it never received is dead; the family lives on.
        assert_refused(&app, &lost.refresh_token).await;
        let next = rotate(&app, &retried.refresh_token).await;

        // Past the grace period, presenting the old token again is reuse.
        app.clock.advance(Duration::from_secs(31));
        assert_refused(&app, &first.refresh_token).await;
        assert_refused(&app, &next.refresh_token).await;
    }
);

engine_test!(
    async fn without_a_grace_period_a_retry_is_reuse(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let first = app.login("alice").await;
        let lost = rotate(&app, &first.refresh_token).await;
        assert_refused(&app, &first.refresh_token).await;
        assert_refused(&app, &lost.refresh_token).await;
    }
);

engine_test!(
    async fn garbage_refresh_tokens_are_invalid_grant(engine) {
        let app = TestApp::spawn(engine).await;
        for junk in ["x", "rt_doesnotexist", "' OR 1=1 --", &"a".repeat(10_000)] {
            assert_refused(&app, junk).await;
        }
    }
);

engine_test!(
    async fn access_tokens_can_be_revoked_by_jti(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let tokens = app.login("alice").await;
        let response = app
            .post_form("/auth/revoke", &[("token", &tokens.access_token), ("token_type_hint", "access_token")])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json(response).await["detail"], "Token revoked successfully");
        assert_eq!(app.get_bearer("/auth/me", &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
        // The session itself lives on: the refresh token still works.
        rotate(&app, &tokens.refresh_token).await;

        // Unknown tokens are answered 200 (RFC 7009 §2.2).
        let unknown = app.post_form("/auth/revoke", &[("token", "no-such-token")]).await;
        assert_eq!(unknown.status(), StatusCode::OK);
        let missing = app.post_form("/auth/revoke", &[("token_type_hint", "access_token")]).await;
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    }
);

engine_test!(
    async fn a_rotation_writes_all_of_its_rows_or_none(engine) {
        use idp_core::audit::{AuditEvent, EventKind, Outcome};
        use idp_core::ids::RefreshTokenId;
        use idp_core::secret_hash::SecretHash;
        use idp_core::session::EndReason;
        use idp_store::repo::{refresh_tokens, sessions};

        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let tokens = app.login("alice").await;
        let db = &app.state.db;
        let now = app.state.now();
        let parent = refresh_tokens::find_by_hash(db.read(), &SecretHash::of(&tokens.refresh_token))
            .await
            .unwrap()
            .unwrap();
        let successor = refresh_tokens::RefreshToken {
            id: RefreshTokenId::new(),
            parent_id: Some(parent.id),
            issued_at: now,
            consumed_at: None,
            ..parent.clone()
        };
        let successor_hash = SecretHash::of("successor");
        let event = AuditEvent::new(EventKind::TokenRefreshed, Outcome::Success, now);
        let rotation = refresh_tokens::Rotation {
            parent: &parent,
            successor: &successor,
            successor_hash: &successor_hash,
            event: &event,
            now,
        };
        let audit_rows = || async {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE id = $1")
                .bind(event.id.to_string())
                .fetch_one(db.read())
                .await
                .unwrap();
            n
        };

        assert!(refresh_tokens::rotate(db, &rotation).await.unwrap());
        let consumed =
            refresh_tokens::find_by_hash(db.read(), &SecretHash::of(&tokens.refresh_token))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(consumed.consumed_at, Some(now));
        let stored = refresh_tokens::find_by_hash(db.read(), &successor_hash).await.unwrap();
        assert_eq!(stored.as_ref().map(|t| (t.id, t.parent_id)), Some((successor.id, Some(parent.id))));
        assert_eq!(audit_rows().await, 1);

        // The same parent again (a racer that checked it before the first
        // rotation committed): nothing is written.
        let second_hash = SecretHash::of("second successor");
        let again = refresh_tokens::Rotation { successor_hash: &second_hash, ..rotation };
        assert!(!refresh_tokens::rotate(db, &again).await.unwrap());
        assert!(refresh_tokens::find_by_hash(db.read(), &second_hash)
            .await
            .unwrap()
            .is_none());

        // A live parent whose session ended after the caller checked it:
        // nothing is written either, and the parent stays unconsumed.
        let live = stored.unwrap();
        let grandchild = refresh_tokens::RefreshToken {
            id: RefreshTokenId::new(),
            parent_id: Some(live.id),
            ..live.clone()
        };
        let late_event = AuditEvent::new(EventKind::TokenRefreshed, Outcome::Success, now);
        let mut tx = db.write().await.unwrap();
        sessions::revoke(&mut tx, live.session_id, now, EndReason::Logout).await.unwrap();
        tx.commit().await.unwrap();
        let late = refresh_tokens::Rotation {
            parent: &live,
            successor: &grandchild,
            successor_hash: &SecretHash::of("grandchild"),
            event: &late_event,
            now,
        };
        assert!(!refresh_tokens::rotate(db, &late).await.unwrap());
        let live_after = refresh_tokens::find_by_hash(db.read(), &successor_hash).await.unwrap();
        assert_eq!(live_after.and_then(|t| t.consumed_at), None);
        assert!(refresh_tokens::find_by_hash(db.read(), &SecretHash::of("grandchild"))
            .await
            .unwrap()
            .is_none());
        let (late_audit,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE id = $1")
                .bind(late_event.id.to_string())
                .fetch_one(db.read())
                .await
                .unwrap();
        assert_eq!(late_audit, 0);
    }
);

engine_test!(
    async fn concurrent_refreshes_of_different_sessions_all_succeed(engine) {
        // On SQLite these are written in groups, one transaction each: every
        // caller must get its own successor, and each must work.
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let mut sessions = Vec::new();
        for _ in 0..24 {
            sessions.push(app.login("alice").await);
        }
        let refreshes = sessions.iter().map(|tokens| {
            let client = app.client.clone();
            let url = app.url("/auth/token");
            let token = tokens.refresh_token.clone();
            tokio::spawn(async move {
                let form = [("grant_type", "refresh_token"), ("refresh_token", token.as_str())];
                client.post(url).form(&form).send().await.unwrap()
            })
        });
        let mut successors = Vec::new();
        for refresh in refreshes.collect::<Vec<_>>() {
            let response = refresh.await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            successors.push(Tokens::from_body(json(response).await));
        }
        let mut distinct: Vec<_> = successors.iter().map(|t| t.refresh_token.clone()).collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), sessions.len(), "one successor each");
        for successor in &successors {
            rotate(&app, &successor.refresh_token).await;
        }
    }
);
