//! OpenID Connect RP-Initiated Logout 1.0 at `/auth/logout`: who may end a
//! sign-in without being asked, the confirmation page for everyone else, and
//! the audit trail.

#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::StatusCode;

/// The claims of a JWT, unverified (the test issued it).
fn claims(jwt: &str) -> serde_json::Value {
    jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(jwt).unwrap().claims
}

/// The `session.ended` audit events about session `sid`.
async fn session_ended_events(app: &TestApp, admin: &str, sid: &str) -> Vec<serde_json::Value> {
    let all = json(app.get_bearer("/admin/audit?event=session.ended&limit=200", admin).await).await;
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["details"]["session"] == sid)
        .cloned()
        .collect()
}

engine_test!(
    async fn a_logout_through_an_id_token_hint_is_audited(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let alice = app.create_user("alice").await;
        let tokens = app.login("alice").await;
        let id_token = tokens.id_token.clone().unwrap();
        let sid = claims(&id_token)["sid"].as_str().unwrap().to_owned();

        let out = app.get(&format!("/auth/logout?id_token_hint={id_token}")).await;
        assert_eq!(out.status(), StatusCode::OK);
        assert_eq!(json(app.refresh(&tokens.refresh_token).await).await["error"], "invalid_grant");
        let events = session_ended_events(&app, &admin, &sid).await;
        assert_eq!(events.len(), 1, "one session.ended event for the hinted session: {events:#?}");
        let event = &events[0];
        assert_eq!(event["subject"], alice["id"]);
        assert_eq!(event["actor"], alice["id"]);
        assert_eq!(event["client_id"], claims(&id_token)["aud"]);
        assert_eq!(event["details"]["reason"], "logout");
        assert!(!event.to_string().contains(&id_token), "the hint itself is not logged");

        // The same hint again ends nothing, and writes nothing.
        assert_eq!(app.get(&format!("/auth/logout?id_token_hint={id_token}")).await.status(), StatusCode::OK);
        assert_eq!(session_ended_events(&app, &admin, &sid).await.len(), 1);
    }
);
