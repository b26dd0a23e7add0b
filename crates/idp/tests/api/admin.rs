//! RBAC and the admin API.

#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

engine_test!(
    async fn a_granted_permission_works_with_the_next_token_and_the_old_one_dies_at_once(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let alice = app.create_user("alice").await;
        let before = app.login("alice").await;

        // No permission yet.
        let denied = app.call(Method::GET, "/admin/users", &before.access_token, None).await;
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        assert_eq!(denied.headers()["content-type"], "application/problem+json");
        assert_eq!(json(denied).await["detail"], "This requires the permission users:read.");

        // The admin creates a role with users:read and gives it to alice.
        let role = app.call(Method::POST, "/admin/roles", &admin, Some(json!({"name": "Support"}))).await;
        assert_eq!(role.status(), StatusCode::CREATED);
        let role = json(role).await;
        let granted = app
            .call(Method::PUT, &format!("/admin/roles/{}/permissions", role["id"].as_str().unwrap()), &admin,
                Some(json!({"permissions": ["users:read"]})))
            .await;
        assert_eq!(json(granted).await["permissions"], json!(["users:read"]));
        let assigned = app
            .call(Method::PUT, &format!("/admin/users/{}/roles", alice["id"].as_str().unwrap()), &admin,
                Some(json!({"roles": ["User", "Support"]})))
            .await;
        assert_eq!(assigned.status(), StatusCode::OK);
        assert_eq!(json(assigned).await["roles"], json!(["Support", "User"]));

        // The token from before the change is refused at once, and its
        // refresh token is dead.
        assert_eq!(app.get_bearer("/auth/me", &before.access_token).await.status(), StatusCode::UNAUTHORIZED);
        let refresh = app.refresh(&before.refresh_token).await;
        assert_eq!(json(refresh).await["error"], "invalid_grant");

        // The next token carries the role and is allowed in.
        let after = app.login("alice").await;
        let listed = app.call(Method::GET, "/admin/users", &after.access_token, None).await;
        assert_eq!(listed.status(), StatusCode::OK);
        // Still not allowed to write.
        let write = app.call(Method::DELETE, &format!("/admin/users/{}", alice["id"].as_str().unwrap()), &after.access_token, None).await;
        assert_eq!(write.status(), StatusCode::FORBIDDEN);
    }
);

engine_test!(
    async fn the_dashboard_is_for_admins_only(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        app.create_user("bob").await;
        let bob = app.login("bob").await.access_token;

        assert_eq!(app.get("/admin/dashboard").await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get_bearer("/admin/dashboard", &bob).await.status(), StatusCode::FORBIDDEN);
        let ok = app.get_bearer("/admin/dashboard", &admin).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(json(ok).await["message"], "Welcome, Admin! Access granted.");
    }
);

engine_test!(
    async fn users_are_paged_and_searchable(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        for i in 0..7 {
            app.create_user(&format!("member{i}")).await;
        }
        let page = json(app.get_bearer("/admin/users?limit=3", &admin).await).await;
        assert_eq!(page["total"], 8);
        assert_eq!(page["items"].as_array().unwrap().len(), 3);
        assert_eq!(page["items"][0]["username"], "member6", "newest first");
        let last = json(app.get_bearer("/admin/users?skip=6&limit=3", &admin).await).await;
        assert_eq!(last["items"].as_array().unwrap().len(), 2);

        let search = json(app.get_bearer("/admin/users?username=MEMBER3", &admin).await).await;
        assert_eq!(search["total"], 1);
        assert_eq!(search["items"][0]["username"], "member3");
        let wildcard = json(app.get_bearer("/admin/users?username=%25", &admin).await).await;
        assert_eq!(wildcard["total"], 0, "% is matched literally");

        for bad in ["limit=0", "limit=201", "skip=-1", "limit=abc"] {
            let response = app.get_bearer(&format!("/admin/users?{bad}"), &admin).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
        let body = json(app.get_bearer("/admin/users?limit=0&skip=-1", &admin).await).await;
        assert_eq!(body["errors"].as_array().unwrap().len(), 2, "both fields listed: {body}");
    }
);

engine_test!(
    async fn patching_disabling_and_deleting_users(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let carol = app.create_user("carol").await;
        app.create_user("dave").await;
        let id = carol["id"].as_str().unwrap();
        let path = format!("/admin/users/{id}");

        let renamed = app.call(Method::PATCH, &path, &admin, Some(json!({"name": "Carol C.", "email": "c@example.com"}))).await;
        assert_eq!(renamed.status(), StatusCode::OK);
        let renamed = json(renamed).await;
        assert_eq!(renamed["name"], "Carol C.");
        assert_eq!(renamed["email"], "c@example.com");

        let taken = app.call(Method::PATCH, &path, &admin, Some(json!({"email": "DAVE@example.com"}))).await;
        assert_eq!(taken.status(), StatusCode::CONFLICT);
        let invalid = app.call(Method::PATCH, &path, &admin, Some(json!({"email": "nope", "name": ""}))).await;
        assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json(invalid).await["errors"].as_array().unwrap().len(), 2);
        let unknown_field = app.call(Method::PATCH, &path, &admin, Some(json!({"password_hash": "x"}))).await;
        assert_eq!(unknown_field.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Disabling ends every session at once and stops logins.
        let tokens = app.login("carol").await;
        let disabled = app.call(Method::PATCH, &path, &admin, Some(json!({"disabled": true}))).await;
        assert_eq!(json(disabled).await["disabled"], true);
        assert_eq!(app.get_bearer("/auth/me", &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(app.refresh(&tokens.refresh_token).await).await["error"], "invalid_grant");
        let login = json(app.password_grant("carol", PASSWORD).await).await;
        assert_eq!(login["detail"], "This account is disabled");
        app.call(Method::PATCH, &path, &admin, Some(json!({"disabled": false}))).await;
        let tokens = app.login("carol").await;

        // Deleting ends everything too.
        assert_eq!(app.call(Method::DELETE, &path, &admin, None).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get_bearer(&path, &admin).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.call(Method::DELETE, &path, &admin, None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.get_bearer("/auth/me", &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get_bearer("/admin/users/not-a-uuid", &admin).await.status(), StatusCode::NOT_FOUND);
    }
);

engine_test!(
    async fn roles_and_permissions_are_managed_with_clear_errors(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;

        let permission = app.call(Method::POST, "/admin/permissions", &admin, Some(json!({"name": "reports:read", "description": "Read reports"}))).await;
        assert_eq!(permission.status(), StatusCode::CREATED);
        let permission = json(permission).await;
        let duplicate = app.call(Method::POST, "/admin/permissions", &admin, Some(json!({"name": "reports:read"}))).await;
        assert_eq!(duplicate.status(), StatusCode::CONFLICT);
        let invalid = app.call(Method::POST, "/admin/permissions", &admin, Some(json!({"name": "Reports"}))).await;
        assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let role = json(app.call(Method::POST, "/admin/roles", &admin, Some(json!({"name": "Analyst"}))).await).await;
        let role_path = format!("/admin/roles/{}", role["id"].as_str().unwrap());
        let unknown = app.call(Method::PUT, &format!("{role_path}/permissions"), &admin, Some(json!({"permissions": ["reports:read", "nope:nope"]}))).await;
        assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(json(unknown).await["detail"].as_str().unwrap().contains("nope:nope"));
        app.call(Method::PUT, &format!("{role_path}/permissions"), &admin, Some(json!({"permissions": ["reports:read"]}))).await;
        assert_eq!(json(app.get_bearer(&role_path, &admin).await).await["permissions"], json!(["reports:read"]));

        let roles = json(app.get_bearer("/admin/roles", &admin).await).await;
        let admin_role = roles.as_array().unwrap().iter().find(|r| r["name"] == "Admin").unwrap();
        assert!(admin_role["permissions"].as_array().unwrap().contains(&json!("reports:read")), "Admin holds every permission");
        let builtin = app.call(Method::DELETE, &format!("/admin/roles/{}", admin_role["id"].as_str().unwrap()), &admin, None).await;
        assert_eq!(builtin.status(), StatusCode::CONFLICT);

        assert_eq!(app.call(Method::DELETE, &role_path, &admin, None).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get_bearer(&role_path, &admin).await.status(), StatusCode::NOT_FOUND);
        let p_path = format!("/admin/permissions/{}", permission["id"].as_str().unwrap());
        assert_eq!(app.get_bearer(&p_path, &admin).await.status(), StatusCode::OK);
        assert_eq!(app.call(Method::DELETE, &p_path, &admin, None).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get_bearer(&p_path, &admin).await.status(), StatusCode::NOT_FOUND);
    }
);

engine_test!(
    async fn clients_get_a_secret_once_and_only_their_own(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;

        let public = app
            .call(Method::POST, "/admin/clients", &admin, Some(json!({
                "name": "My SPA", "client_type": "public", "redirect_uris": ["http://localhost:3000/callback"]})))
            .await;
        assert_eq!(public.status(), StatusCode::CREATED);
        let public = json(public).await;
        assert!(public.get("client_secret").is_none());
        assert_eq!(public["grant_types"], json!(["authorization_code", "refresh_token"]));

        let backend = json(app
            .call(Method::POST, "/admin/clients", &admin, Some(json!({
                "client_id": "reports-backend", "name": "Reports", "client_type": "confidential",
                "grant_types": ["client_credentials"], "scopes": ["reports:read"]})))
            .await).await;
        let secret = backend["client_secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("cs_"));
        let listed = json(app.get_bearer("/admin/clients", &admin).await).await;
        assert!(!listed.to_string().contains(&secret), "secrets are shown once");
        assert!(app.get_bearer("/admin/clients/reports-backend", &admin).await.text().await.unwrap().find("client_secret").is_none());

        // The secret authenticates the client (at the revocation endpoint).
        let revoke = |secret: String| {
            let app = &app;
            async move {
                app.client.post(app.url("/auth/revoke")).basic_auth("reports-backend", Some(secret))
                    .form(&[("token", "whatever")]).send().await.unwrap().status()
            }
        };
        assert_eq!(revoke(secret.clone()).await, StatusCode::OK);
        assert_eq!(revoke("cs_wrong".into()).await, StatusCode::UNAUTHORIZED);
        let reset = json(app.call(Method::POST, "/admin/clients/reports-backend/secret", &admin, None).await).await;
        let new_secret = reset["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(revoke(secret).await, StatusCode::UNAUTHORIZED, "the old secret stopped working");
        assert_eq!(revoke(new_secret).await, StatusCode::OK);

        let dup = app.call(Method::POST, "/admin/clients", &admin, Some(json!({"client_id": "reports-backend", "name": "x", "client_type": "confidential", "grant_types": ["client_credentials"]}))).await;
        assert_eq!(dup.status(), StatusCode::CONFLICT);
        let bad = app.call(Method::POST, "/admin/clients", &admin, Some(json!({"name": "", "client_type": "public", "redirect_uris": ["javascript:alert(1)"], "grant_types": ["client_credentials", "magic"]}))).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let bad = app.call(Method::POST, "/admin/clients", &admin, Some(json!({"name": "", "client_type": "public", "redirect_uris": ["javascript:alert(1)"], "grant_types": ["client_credentials"]}))).await;
        let fields: Vec<String> = json(bad).await["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect();
        assert_eq!(fields, ["name", "redirect_uris", "grant_types"]);

        let path = format!("/admin/clients/{}", public["client_id"].as_str().unwrap());
        let patched = json(app.call(Method::PATCH, &path, &admin, Some(json!({"redirect_uris": ["https://app.example.com/cb"]}))).await).await;
        assert_eq!(patched["redirect_uris"], json!(["https://app.example.com/cb"]));
        assert_eq!(app.call(Method::DELETE, "/admin/clients/idp-first-party", &admin, None).await.status(), StatusCode::CONFLICT);
        assert_eq!(app.call(Method::DELETE, &path, &admin, None).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get_bearer(&path, &admin).await.status(), StatusCode::NOT_FOUND);
    }
);

engine_test!(
    async fn admins_see_and_end_a_users_sessions(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let erin = app.create_user("erin").await;
        let laptop = app.login("erin").await;
        let phone = app.login("erin").await;
        let path = format!("/admin/users/{}/sessions", erin["id"].as_str().unwrap());
        let sessions = json(app.get_bearer(&path, &admin).await).await;
        assert_eq!(sessions.as_array().unwrap().len(), 2);
        let phone_sid = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&phone.access_token).unwrap().claims["sid"].clone();
        let ended = app.call(Method::DELETE, &format!("{path}/{}", phone_sid.as_str().unwrap()), &admin, None).await;
        assert_eq!(ended.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get_bearer("/auth/me", &phone.access_token).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get_bearer("/auth/me", &laptop.access_token).await.status(), StatusCode::OK);
        let sessions = json(app.get_bearer(&path, &admin).await).await;
        assert_eq!(sessions.as_array().unwrap().iter().filter(|s| s["ended_at"].is_string()).count(), 1);
    }
);

engine_test!(
    async fn delegated_permissions_do_not_lead_to_admin(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let admin_id = json(app.get_bearer("/auth/me", &admin).await).await["id"].as_str().unwrap().to_owned();
        let mallory = app.create_user("mallory").await;
        let mallory_id = mallory["id"].as_str().unwrap().to_owned();
        let bob = app.create_user("bob").await;
        let bob_id = bob["id"].as_str().unwrap().to_owned();

        // An admin delegates user and role management (not Admin itself).
        let role = json(app.call(Method::POST, "/admin/roles", &admin, Some(json!({"name": "Helpdesk"}))).await).await;
        let role_path = format!("/admin/roles/{}", role["id"].as_str().unwrap());
        let perms = json!({"permissions": ["users:read", "users:write", "roles:read", "roles:write", "sessions:read", "sessions:write"]});
        assert_eq!(app.call(Method::PUT, &format!("{role_path}/permissions"), &admin, Some(perms)).await.status(), StatusCode::OK);
        let assign = json!({"roles": ["User", "Helpdesk"]});
        let assigned = app.call(Method::PUT, &format!("/admin/users/{mallory_id}/roles"), &admin, Some(assign)).await;
        assert_eq!(assigned.status(), StatusCode::OK);
        let mallory_token = app.login("mallory").await.access_token;

        // The delegated work is allowed: managing an ordinary user.
        let bob_roles = json!({"roles": ["User", "Helpdesk"]});
        let ok = app.call(Method::PUT, &format!("/admin/users/{bob_id}/roles"), &mallory_token, Some(bob_roles)).await;
        assert_eq!(ok.status(), StatusCode::OK);

        // Every path to Admin is refused with 403, and nothing changes.
        let to_admin = json!({"roles": ["User", "Admin"]});
        let own = app.call(Method::PUT, &format!("/admin/users/{mallory_id}/roles"), &mallory_token, Some(to_admin.clone())).await;
        assert_eq!(own.status(), StatusCode::FORBIDDEN);
        assert_eq!(json(own).await["detail"], "Only an administrator may assign the Admin role.");
        let new_admin = json!({"username": "sock", "email": "sock@example.com", "password": PASSWORD, "roles": ["Admin"]});
        assert_eq!(app.call(Method::POST, "/admin/users", &mallory_token, Some(new_admin)).await.status(), StatusCode::FORBIDDEN);
        let sessions = json(app.call(Method::GET, &format!("/admin/users/{admin_id}/sessions"), &mallory_token, None).await).await;
        let session = sessions[0]["id"].as_str().expect("the admin's session is listed").to_owned();
        let logout = app.call(Method::DELETE, &format!("/admin/users/{admin_id}/sessions/{session}"), &mallory_token, None).await;
        assert_eq!(logout.status(), StatusCode::FORBIDDEN);
        let disable = app.call(Method::PATCH, &format!("/admin/users/{admin_id}"), &mallory_token, Some(json!({"disabled": true}))).await;
        assert_eq!(disable.status(), StatusCode::FORBIDDEN);
        let delete = app.call(Method::DELETE, &format!("/admin/users/{admin_id}"), &mallory_token, None).await;
        assert_eq!(delete.status(), StatusCode::FORBIDDEN);
        // Nor can a role be widened past what its manager holds.
        let widen = json!({"permissions": ["users:read", "users:write", "roles:read", "roles:write", "sessions:read", "sessions:write", "clients:write"]});
        let widened = app.call(Method::PUT, &format!("{role_path}/permissions"), &mallory_token, Some(widen)).await;
        assert_eq!(widened.status(), StatusCode::FORBIDDEN);
        assert_eq!(json(widened).await["detail"], "You cannot grant permissions you do not hold: clients:write.");

        assert_eq!(app.get_bearer("/auth/me", &admin).await.status(), StatusCode::OK, "the admin is untouched");
        let mallory_now = json(app.call(Method::GET, &format!("/admin/users/{mallory_id}"), &admin, None).await).await;
        assert_eq!(mallory_now["roles"], json!(["Helpdesk", "User"]));
        let role_now = json(app.get_bearer(&role_path, &admin).await).await;
        assert!(!role_now["permissions"].as_array().unwrap().contains(&json!("clients:write")));
    }
);

engine_test!(
    async fn built_in_permissions_cannot_be_deleted_and_others_only_by_their_holders(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        for name in ["reports:read", "reports:write"] {
            let created = app.call(Method::POST, "/admin/permissions", &admin, Some(json!({"name": name}))).await;
            assert_eq!(created.status(), StatusCode::CREATED);
        }
        let listed = json(app.get_bearer("/admin/permissions", &admin).await).await;
        let path_of = |name: &str| {
            let found = listed.as_array().unwrap().iter().find(|p| p["name"] == name).unwrap();
            format!("/admin/permissions/{}", found["id"].as_str().unwrap())
        };

        // Not even Admin deletes a permission the API checks: that would
        // lock everyone out of its routes.
        for name in ["users:read", "permissions:write"] {
            let refused = app.call(Method::DELETE, &path_of(name), &admin, None).await;
            assert_eq!(refused.status(), StatusCode::CONFLICT, "{name}");
            assert_eq!(refused.headers()["content-type"], "application/problem+json");
            assert_eq!(json(refused).await["detail"], format!("The built-in permission {name} cannot be deleted: the admin API checks it"));
        }

        // A delegate with permissions:write deletes only what it holds.
        let role = json(app.call(Method::POST, "/admin/roles", &admin, Some(json!({"name": "Curator"}))).await).await;
        let perms = json!({"permissions": ["permissions:read", "permissions:write", "reports:write"]});
        let granted = app.call(Method::PUT, &format!("/admin/roles/{}/permissions", role["id"].as_str().unwrap()), &admin, Some(perms)).await;
        assert_eq!(granted.status(), StatusCode::OK);
        let mallory = app.create_user("mallory").await;
        let assign = json!({"roles": ["User", "Curator"]});
        let assigned = app.call(Method::PUT, &format!("/admin/users/{}/roles", mallory["id"].as_str().unwrap()), &admin, Some(assign)).await;
        assert_eq!(assigned.status(), StatusCode::OK);
        let mallory = app.login("mallory").await.access_token;

        let not_held = app.call(Method::DELETE, &path_of("reports:read"), &mallory, None).await;
        assert_eq!(not_held.status(), StatusCode::FORBIDDEN);
        assert_eq!(json(not_held).await["detail"], "You cannot delete a permission you do not hold: reports:read.");
        let built_in = app.call(Method::DELETE, &path_of("permissions:write"), &mallory, None).await;
        assert_eq!(built_in.status(), StatusCode::CONFLICT);
        let held = app.call(Method::DELETE, &path_of("reports:write"), &mallory, None).await;
        assert_eq!(held.status(), StatusCode::NO_CONTENT);

        // What was refused is still there, and the admin API still works.
        let names: Vec<String> = json(app.get_bearer("/admin/permissions", &admin).await).await.as_array().unwrap()
            .iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
        assert!(names.contains(&"reports:read".to_owned()) && names.contains(&"users:read".to_owned()), "{names:?}");
        assert!(!names.contains(&"reports:write".to_owned()));
        assert_eq!(app.get_bearer("/admin/users", &admin).await.status(), StatusCode::OK);
    }
);

engine_test!(
    async fn users_write_reaches_only_users_whose_permissions_the_actor_holds(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let id_of = |user: &serde_json::Value| user["id"].as_str().unwrap().to_owned();
        let role_with = |name: &'static str, permissions: serde_json::Value| {
            let (app, admin) = (&app, &admin);
            async move {
                let role = json(app.call(Method::POST, "/admin/roles", admin, Some(json!({"name": name}))).await).await;
                let path = format!("/admin/roles/{}/permissions", role["id"].as_str().unwrap());
                let set = app.call(Method::PUT, &path, admin, Some(json!({"permissions": permissions}))).await;
                assert_eq!(set.status(), StatusCode::OK);
                path
            }
        };
        let assign = |user: String, roles: serde_json::Value| {
            let (app, admin) = (&app, &admin);
            async move {
                let assigned = app.call(Method::PUT, &format!("/admin/users/{user}/roles"), admin, Some(json!({"roles": roles}))).await;
                assert_eq!(assigned.status(), StatusCode::OK);
            }
        };
        let helpdesk = role_with("Helpdesk", json!(["users:read", "users:write", "roles:read", "roles:write", "sessions:read", "sessions:write"])).await;
        role_with("Auditor", json!(["audit:read"])).await;
        let mallory = id_of(&app.create_user("mallory").await);
        assign(mallory.clone(), json!(["User", "Helpdesk"])).await;
        let carol = id_of(&app.create_user("carol").await);
        assign(carol.clone(), json!(["User", "Auditor"])).await;
        let bob = id_of(&app.create_user("bob").await);
        let carol_tokens = app.login("carol").await;
        let mallory_token = app.login("mallory").await.access_token;

        // Carol holds audit:read, which mallory lacks: every change of her
        // account is refused, and nothing changes.
        let sid = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&carol_tokens.access_token).unwrap().claims["sid"].as_str().unwrap().to_owned();
        let user_path = format!("/admin/users/{carol}");
        let attempts = [
            (Method::PATCH, user_path.clone(), Some(json!({"email": "mallory+carol@example.com"}))),
            (Method::PATCH, user_path.clone(), Some(json!({"name": "Carol"}))),
            (Method::PATCH, user_path.clone(), Some(json!({"disabled": true}))),
            (Method::PUT, format!("{user_path}/roles"), Some(json!({"roles": ["User"]}))),
            (Method::DELETE, format!("{user_path}/sessions/{sid}"), None),
            (Method::DELETE, user_path.clone(), None),
        ];
        for (method, path, body) in attempts {
            let refused = app.call(method.clone(), &path, &mallory_token, body).await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{method} {path}");
            assert_eq!(json(refused).await["detail"], "You cannot change a user who holds permissions you do not hold: audit:read.");
        }
        let as_mallory = idp_server::service::admin::Actor::user(mallory.parse().unwrap(), Default::default());
        let password = idp_server::service::users::set_password(&app.state, &as_mallory, carol.parse().unwrap(), "Taken-0ver-pass!".into()).await;
        assert!(matches!(password, Err(idp_server::service::admin::ManageError::Forbidden(_))), "{password:?}");
        let carol_now = json(app.get_bearer(&user_path, &admin).await).await;
        assert_eq!((carol_now["email"].as_str(), carol_now["disabled"].as_bool()), (Some("carol@example.com"), Some(false)));
        assert_eq!(carol_now["roles"], json!(["Auditor", "User"]));
        assert_eq!(app.get_bearer("/auth/me", &carol_tokens.access_token).await.status(), StatusCode::OK, "her session lives");

        // Users who hold nothing mallory lacks are hers to manage, herself included.
        let bob_changed = app.call(Method::PATCH, &format!("/admin/users/{bob}"), &mallory_token, Some(json!({"email": "bob2@example.com"}))).await;
        assert_eq!(bob_changed.status(), StatusCode::OK);
        let own = app.call(Method::PATCH, &format!("/admin/users/{mallory}"), &mallory_token, Some(json!({"name": "Mallory"}))).await;
        assert_eq!(own.status(), StatusCode::OK);

        // Once mallory holds audit:read too, carol is within reach.
        let widened = json!({"permissions": ["users:read", "users:write", "roles:read", "roles:write", "sessions:read", "sessions:write", "audit:read"]});
        assert_eq!(app.call(Method::PUT, &helpdesk, &admin, Some(widened)).await.status(), StatusCode::OK);
        let renamed = app.call(Method::PATCH, &user_path, &mallory_token, Some(json!({"name": "Carol"}))).await;
        assert_eq!(renamed.status(), StatusCode::OK);

        // The command line acts with every right.
        let cli = idp_server::service::admin::Actor::cli();
        idp_server::service::users::set_password(&app.state, &cli, carol.parse().unwrap(), "Reset-by-0perator!".into()).await.unwrap();
    }
);

engine_test!(
    async fn the_last_enabled_administrator_cannot_be_demoted_disabled_or_deleted(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let me = json(app.get_bearer("/auth/me", &admin).await).await;
        let path = format!("/admin/users/{}", me["id"].as_str().unwrap());

        for (method, suffix, body) in [
            (Method::PATCH, "", Some(json!({"disabled": true}))),
            (Method::PUT, "/roles", Some(json!({"roles": ["User"]}))),
            (Method::DELETE, "", None),
        ] {
            let response = app.call(method.clone(), &format!("{path}{suffix}"), &admin, body).await;
            assert_eq!(response.status(), StatusCode::CONFLICT, "{method} {suffix}");
            let detail = json(response).await["detail"].as_str().unwrap().to_owned();
            assert!(detail.contains("last enabled administrator"), "{detail}");
        }
        // Nothing changed: the admin's token still works on the admin API.
        assert_eq!(app.get_bearer("/admin/users", &admin).await.status(), StatusCode::OK);

        // The command line has every right, but not this one either.
        let cli = idp_server::service::admin::Actor::cli();
        let id = me["id"].as_str().unwrap().parse().unwrap();
        let change = idp_server::service::users::ProfileChange { disabled: Some(true), ..Default::default() };
        assert!(idp_server::service::users::update(&app.state, &cli, id, change).await.is_err());

        // A disabled administrator does not count; a second enabled one does.
        let other = app.create_user("second").await;
        let other_path = format!("/admin/users/{}", other["id"].as_str().unwrap());
        let promoted = app.call(Method::PUT, &format!("{other_path}/roles"), &admin, Some(json!({"roles": ["Admin"]}))).await;
        assert_eq!(promoted.status(), StatusCode::OK);
        let off = app.call(Method::PATCH, &other_path, &admin, Some(json!({"disabled": true}))).await;
        assert_eq!(off.status(), StatusCode::OK);
        let still = app.call(Method::PUT, &format!("{path}/roles"), &admin, Some(json!({"roles": ["User"]}))).await;
        assert_eq!(still.status(), StatusCode::CONFLICT);
        let on = app.call(Method::PATCH, &other_path, &admin, Some(json!({"disabled": false}))).await;
        assert_eq!(on.status(), StatusCode::OK);
        let demoted = app.call(Method::PUT, &format!("{path}/roles"), &admin, Some(json!({"roles": ["User"]}))).await;
        assert_eq!(demoted.status(), StatusCode::OK);
    }
);

engine_test!(
    async fn two_administrators_disabling_each_other_at_once_leave_one(engine) {
        for trial in 0..5 {
            let app = TestApp::spawn(engine).await;
            let seeded = app.admin_token().await;
            let mut ids = Vec::new();
            for name in ["adm-a", "adm-b"] {
                let id = app.create_user(name).await["id"].as_str().unwrap().to_owned();
                let r = app.call(Method::PUT, &format!("/admin/users/{id}/roles"), &seeded, Some(json!({"roles": ["Admin"]}))).await;
                assert_eq!(r.status(), StatusCode::OK);
                ids.push(id);
            }
            // The seeded admin steps down: a and b are the only two.
            let a = app.login("adm-a").await.access_token;
            let b = app.login("adm-b").await.access_token;
            let seeded_id = json(app.get_bearer("/auth/me", &seeded).await).await["id"].as_str().unwrap().to_owned();
            let r = app.call(Method::PUT, &format!("/admin/users/{seeded_id}/roles"), &a, Some(json!({"roles": ["User"]}))).await;
            assert_eq!(r.status(), StatusCode::OK);

            let (path_a, path_b) = (format!("/admin/users/{}", ids[0]), format!("/admin/users/{}", ids[1]));
            let (ra, rb) = tokio::join!(
                app.call(Method::PATCH, &path_b, &a, Some(json!({"disabled": true}))),
                app.call(Method::PATCH, &path_a, &b, Some(json!({"disabled": true}))),
            );
            let statuses = [ra.status(), rb.status()];
            // One wins; the other is refused (409), or finds its own
            // session ended by the winner (401). Never both.
            assert!(statuses.iter().filter(|s| **s == StatusCode::OK).count() <= 1, "trial {trial}: {statuses:?}");
            let left = idp_store::repo::users::count_enabled_with_role(app.state.db.read(), "Admin").await.unwrap();
            assert_eq!(left, 1, "trial {trial}: {statuses:?}");
        }
    }
);
