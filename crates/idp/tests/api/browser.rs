//! The login, consent and sign-out pages in a real browser: headless
//! Chromium driven over WebDriver (chromedriver). Proves what an HTTP client
//! cannot: the pages render and submit under our Content-Security-Policy,
//! the browser keeps the session cookie, the redirect back to the client
//! lands with a code that the client can exchange, and the sign-out
//! confirmation's form works with the cookies a browser really sends.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`; `.ci/run` installs them). Without them the test says so
//! and passes locally, but fails under `CI`, so CI can never skip it.

#[allow(unused_imports)]
use crate::helpers::*;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<String> {
    let candidates = [std::env::var("CHROMEDRIVER").ok(), Some("chromedriver".into())];
    candidates.into_iter().flatten().find(|path| {
        Command::new(path)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

async fn start_driver() -> Option<Driver> {
    let Some(binary) = chromedriver() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver is missing on CI: .ci/run must install chromium and chromium-driver"
        );
        eprintln!("SKIPPED: chromedriver not found (apt-get install chromium chromium-driver)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profile: tempfile::tempdir().unwrap(),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port}");
}

async fn open_browser(driver: &Driver) -> fantoccini::Client {
    let capabilities = json!({
        "browserName": "chrome",
        "goog:loggingPrefs": { "browser": "ALL" },
        "goog:chromeOptions": {
            "binary": std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1024,900",
                format!("--user-data-dir={}", driver.profile.path().display()),
            ],
        },
    });
    let Value::Object(capabilities) = capabilities else { unreachable!() };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// chromedriver's console log endpoint (not part of W3C WebDriver).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// Console messages at SEVERE level (errors, CSP violations, failed loads).
async fn console_errors(browser: &fantoccini::Client) -> Vec<String> {
    let log = browser.issue_cmd(BrowserLog).await.expect("the browser log");
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A client application's callback: answers every request with a small page
/// and reports the request targets it saw.
async fn callback_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (seen, targets) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0_u8; 8192];
                let read = stream.read(&mut buffer).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
                let target = request.split(' ').nth(1).unwrap_or_default().to_owned();
                let _ = seen.send(target);
                let body = "<!doctype html><title>Client</title><p>signed in";
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://127.0.0.1:{}/callback", address.port()), targets)
}

fn save_screenshot(name: &str, png: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

#[tokio::test]
async fn a_person_signs_in_consents_and_signs_out_in_a_real_browser() {
    let Some(driver) = start_driver().await else { return };
    let app = TestApp::builder(Engine::Sqlite).spawn().await;
    app.create_user("alice").await;
    let (redirect_uri, mut targets) = callback_server().await;
    use idp_core::client::{ClientType, GrantType};
    app.create_client(idp_server::service::clients::ClientSpec {
        id: Some("web".into()),
        name: "Photo Album".into(),
        client_type: ClientType::Public,
        redirect_uris: vec![redirect_uri.clone()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec!["openid".into(), "profile".into(), "email".into()],
        first_party: false,
        access_token_ttl: None,
        refresh_token_ttl: None,
        id_token_signed_response_alg: None,
    })
    .await;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", "web"),
            ("redirect_uri", redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", "openid profile email"),
            ("state", "browser-state"),
            ("nonce", "browser-nonce"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .finish();

    let browser = open_browser(&driver).await;
    browser.goto(&app.url(&format!("/auth/authorize?{query}"))).await.unwrap();

    // The login page, styled (its inline stylesheet passed the CSP).
    let button = browser.find(Locator::Css("button[type=submit]")).await.unwrap();
    let background: String = browser
        .execute("return getComputedStyle(arguments[0]).backgroundColor", vec![json!(button)])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(background, "rgb(36, 86, 216)", "the page's stylesheet applies");
    save_screenshot("login-page.png", &browser.screenshot().await.unwrap());

    // A wrong password keeps the person on the page with an error.
    let form = browser.form(Locator::Css("form")).await.unwrap();
    form.set_by_name("username", "alice").await.unwrap();
    form.set_by_name("password", "not-the-password").await.unwrap();
    form.submit().await.unwrap();
    let error = browser.wait().for_element(Locator::Css("[role=alert]")).await.unwrap();
    assert!(error.text().await.unwrap().to_lowercase().contains("incorrect"));
    // The rejected attempt is a 400, which the console reports; nothing else.
    let errors = console_errors(&browser).await;
    assert!(
        errors.len() == 1 && errors[0].contains("/auth/authorize") && errors[0].contains("400"),
        "console errors after a wrong password: {errors:#?}"
    );

    let form = browser.form(Locator::Css("form")).await.unwrap();
    form.set_by_name("username", "alice").await.unwrap();
    form.set_by_name("password", PASSWORD).await.unwrap();
    form.submit().await.unwrap();

    // The consent page names the client and what it asks for.
    let allow = browser.wait().for_element(Locator::Css("button[value=allow]")).await.unwrap();
    let consent = browser.source().await.unwrap();
    assert!(consent.contains("Photo Album"), "consent names the client");
    save_screenshot("consent-page.png", &browser.screenshot().await.unwrap());
    allow.click().await.unwrap();

    // The browser lands on the client's callback with a code and the state.
    let landed = loop {
        let target = tokio::time::timeout(Duration::from_secs(10), targets.recv())
            .await
            .expect("the browser reaches the callback")
            .unwrap();
        if target.starts_with("/callback?") {
            break url::Url::parse(&format!("http://client{target}")).unwrap();
        }
    };
    let params: std::collections::HashMap<_, _> = landed.query_pairs().into_owned().collect();
    assert_eq!(params["state"], "browser-state");
    assert_eq!(params["iss"], app.base_url);
    let tokens = app
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", &redirect_uri),
                ("client_id", "web"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(tokens.status(), 200);
    assert!(json(tokens).await["id_token"].is_string());

    // A second authorization in the same browser needs no password: the
    // session cookie carries the sign-in, and consent was remembered.
    browser.goto(&app.url(&format!("/auth/authorize?{query}"))).await.unwrap();
    let again = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let target = targets.recv().await.unwrap();
            if target.starts_with("/callback?") {
                return target;
            }
        }
    })
    .await
    .expect("straight back to the client");
    assert!(again.contains("code="));

    // Signing out without an ID token hint asks first (RP-Initiated
    // Logout §2); the page renders under the same policy.
    browser.goto(&app.url("/auth/logout")).await.unwrap();
    let sign_out = browser.wait().for_element(Locator::Css("button[type=submit]")).await.unwrap();
    let question = browser.source().await.unwrap();
    assert!(question.contains("Sign out of idp?") && question.contains("alice"), "{question}");
    let background: String = browser
        .execute("return getComputedStyle(arguments[0]).backgroundColor", vec![json!(sign_out)])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(background, "rgb(36, 86, 216)", "the page's stylesheet applies");
    save_screenshot("logout-confirmation-page.png", &browser.screenshot().await.unwrap());
    sign_out.click().await.unwrap();
    browser
        .wait()
        .for_element(Locator::XPath("//h1[contains(., 'signed out')]"))
        .await
        .expect("the signed-out page");
    // Signed out: the next authorization shows the login page again.
    browser.goto(&app.url(&format!("/auth/authorize?{query}"))).await.unwrap();
    browser.wait().for_element(Locator::Css("input[name=password]")).await.unwrap();

    let errors = console_errors(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await.unwrap();
}
