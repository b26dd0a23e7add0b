//! The audit log: an entry for each kind of event, filterable, never a secret.

#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

engine_test!(
    async fn every_kind_of_event_is_audited_without_secrets(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let user = app.create_user("frank").await;
        let uid = user["id"].as_str().unwrap().to_owned();
        // Logins, refresh, reuse, revocation.
        let first = app.login("frank").await;
        let rotated = Tokens::from_body(json(app.refresh(&first.refresh_token).await).await);
        app.refresh(&first.refresh_token).await; // reuse
        let again = app.login("frank").await;
        app.post_form("/auth/revoke", &[("token", &again.refresh_token)]).await;
        for _ in 0..5 {
            app.password_grant("frank", "wrong-password").await;
        }
        app.password_grant("frank", "wrong-password").await; // locked
        app.clock.advance(std::time::Duration::from_secs(120));
        // Admin changes.
        let other = json(app.call(Method::POST, "/admin/users", &admin, Some(json!({"username": "gina", "email": "gina@example.com", "password": PASSWORD}))).await).await;
        let gpath = format!("/admin/users/{}", other["id"].as_str().unwrap());
        app.call(Method::PATCH, &gpath, &admin, Some(json!({"name": "Gina"}))).await;
        app.call(Method::PATCH, &gpath, &admin, Some(json!({"disabled": true}))).await;
        app.call(Method::PATCH, &gpath, &admin, Some(json!({"disabled": false}))).await;
        app.call(Method::PUT, &format!("{gpath}/roles"), &admin, Some(json!({"roles": ["Admin"]}))).await;
        app.call(Method::DELETE, &gpath, &admin, None).await;
        let frank = app.login("frank").await;
        app.call(Method::POST, "/auth/password", &frank.access_token, Some(json!({"current_password": PASSWORD, "new_password": "An0ther-pass!"}))).await;
        let role = json(app.call(Method::POST, "/admin/roles", &admin, Some(json!({"name": "Temp"}))).await).await;
        let perm = json(app.call(Method::POST, "/admin/permissions", &admin, Some(json!({"name": "temp:read"}))).await).await;
        app.call(Method::PUT, &format!("/admin/roles/{}/permissions", role["id"].as_str().unwrap()), &admin, Some(json!({"permissions": ["temp:read"]}))).await;
        app.call(Method::DELETE, &format!("/admin/roles/{}", role["id"].as_str().unwrap()), &admin, None).await;
        app.call(Method::DELETE, &format!("/admin/permissions/{}", perm["id"].as_str().unwrap()), &admin, None).await;
        let client = json(app.call(Method::POST, "/admin/clients", &admin, Some(json!({"client_id": "svc", "name": "Svc", "client_type": "confidential", "grant_types": ["client_credentials"], "scopes": ["x"]}))).await).await;
        let secret = client["client_secret"].as_str().unwrap().to_owned();
        app.call(Method::PATCH, "/admin/clients/svc", &admin, Some(json!({"name": "Service"}))).await;
        app.call(Method::POST, "/admin/clients/svc/secret", &admin, None).await;
        app.call(Method::DELETE, "/admin/clients/svc", &admin, None).await;

        let all = json(app.get_bearer("/admin/audit?limit=200", &admin).await).await;
        let text = all.to_string();
        for kind in [
            "login.succeeded", "login.failed", "login.locked", "token.issued", "token.refreshed",
            "token.reuse_detected", "token.revoked", "user.registered", "user.created", "user.updated",
            "user.disabled", "user.enabled", "user.deleted", "user.password_changed", "user.roles_changed",
            "role.created", "role.deleted", "role.permissions_changed", "permission.created",
            "permission.deleted", "client.created", "client.updated", "client.secret_reset", "client.deleted",
            "key.created",
        ] {
            let filtered = json(app.get_bearer(&format!("/admin/audit?event={kind}"), &admin).await).await;
            assert!(filtered["total"].as_i64().unwrap() >= 1, "no {kind} event");
            assert!(filtered["items"].as_array().unwrap().iter().all(|e| e["event"] == kind));
        }
        for secret in [PASSWORD, ADMIN_PASSWORD, "An0ther-pass!", &secret, &first.refresh_token, &rotated.refresh_token, &first.access_token] {
            assert!(!text.contains(secret), "a secret is in the audit log");
        }
        // Filter by user: actor or subject.
        let franks = json(app.get_bearer(&format!("/admin/audit?user={uid}&limit=200"), &admin).await).await;
        assert!(franks["total"].as_i64().unwrap() >= 5);
        assert!(franks["items"].as_array().unwrap().iter().all(|e| e["actor"] == uid.as_str() || e["subject"] == uid.as_str()));
        let entry = &franks["items"][0];
        assert!(entry["occurred_at"].is_string() && entry["outcome"].is_string() && entry["version"] == 1);
        assert_eq!(app.get_bearer("/admin/audit?event=no.such", &admin).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
);
