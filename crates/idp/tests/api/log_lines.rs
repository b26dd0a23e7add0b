//! What a client sends cannot forge or reorder log lines: drive the real
//! binary with a hostile login name, in both log formats, and read what it
//! wrote.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// CR/LF, NEXT LINE, LINE and PARAGRAPH SEPARATOR each start what looks like
/// a new line to some reader; RIGHT-TO-LEFT OVERRIDE reorders the rest.
const HOSTILE_LOGIN: &str =
    "eve\r\nforged-crlf\u{85}forged-nel\u{2028}forged-ls\u{2029}forged-ps\u{202e}desrever";

async fn logs_of_a_failed_login(format: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("idp.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_idp"))
        .current_dir(dir.path())
        .env_clear()
        .env("RUST_LOG", "info")
        .env("LOG_FORMAT", format)
        .env("ISSUER", &base)
        .env("ARGON2_MEMORY_KIB", "1024")
        .env("ARGON2_ITERATIONS", "1")
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(std::fs::File::create(dir.path().join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "idp did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = http
        .post(format!("{base}/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", HOSTILE_LOGIN),
            ("password", "Wrong-pass-123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 400);
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    std::fs::read_to_string(&log_path).unwrap()
        + &std::fs::read_to_string(dir.path().join("stdout.log")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_login_name_stays_on_its_log_line() {
    for format in ["pretty", "json"] {
        let logs = logs_of_a_failed_login(format).await;
        assert!(logs.contains("login.failed"), "{format}: the failure was audited:\n{logs}");
        for c in ['\r', '\u{85}', '\u{2028}', '\u{2029}', '\u{202e}'] {
            assert!(
                !logs.contains(c),
                "{format}: U+{:04X} reached the log raw:\n{logs}",
                u32::from(c)
            );
        }
        for line in logs.split(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
            assert!(!line.starts_with("forged"), "{format}: a forged line: {line}");
            if format == "json" && !line.is_empty() {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            }
        }
    }
}
