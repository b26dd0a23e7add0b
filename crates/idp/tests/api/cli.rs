//! The `idp` binary itself, run as a user would.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn idp() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idp"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

#[test]
fn help_lists_every_command() {
    let out = idp().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for command in ["serve", "migrate", "seed", "user", "role", "client", "keys"] {
        assert!(text.contains(command), "--help mentions {command}");
    }
    let version = idp().arg("--version").output().unwrap();
    assert!(String::from_utf8(version.stdout).unwrap().starts_with("idp "));
}

#[test]
fn a_bad_database_url_is_one_clear_line_and_a_failure_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = idp()
        .current_dir(dir.path())
        .env("DATABASE_URL", "mysql://root:hunter2@db/idp")
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: DATABASE_URL:"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password is not echoed");
}

#[test]
fn migrate_creates_the_embedded_database_and_reports_status() {
    let dir = tempfile::tempdir().unwrap();
    let up = idp().current_dir(dir.path()).args(["migrate", "up"]).output().unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    assert!(dir.path().join("data/idp.db").exists());
    assert!(dir.path().join("data/secret_key").exists());
    #[cfg(unix)]
    {
        // Password hashes and keys: for idp's user only, whatever the umask.
        use std::os::unix::fs::PermissionsExt as _;
        let mode =
            |p: &str| std::fs::metadata(dir.path().join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("data"), 0o700);
        assert_eq!(mode("data/idp.db"), 0o600);
        assert_eq!(mode("data/secret_key"), 0o600);
    }

    let status = idp().current_dir(dir.path()).args(["migrate", "status"]).output().unwrap();
    let text = String::from_utf8(status.stdout).unwrap();
    assert!(text.contains("applied"), "{text}");
    assert!(!text.contains("pending"), "{text}");
}

#[test]
fn a_bare_migrate_applies_the_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let bare = idp().current_dir(dir.path()).arg("migrate").output().unwrap();
    assert!(bare.status.success(), "{}", String::from_utf8_lossy(&bare.stderr));
    let said = String::from_utf8(bare.stdout).unwrap();
    assert!(said.starts_with("Applied "), "{said}");
    let status = idp().current_dir(dir.path()).args(["migrate", "status"]).output().unwrap();
    let text = String::from_utf8(status.stdout).unwrap();
    assert!(text.contains("applied") && !text.contains("pending"), "{text}");
    // A second run has nothing to do.
    let again = idp().current_dir(dir.path()).arg("migrate").output().unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap().trim(), "The database is up to date.");
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for args in [
        &["serve", "--help"][..],
        &["seed", "--help"],
        &["user", "create", "--help"],
        &["user", "set-password", "--help"],
        &["role", "set-permissions", "--help"],
        &["client", "seed-or-update", "--help"],
        &["keys", "rotate", "--help"],
    ] {
        let out = idp().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8(out.stdout).unwrap().contains("Example"),
            "{args:?} has an example"
        );
    }
}

/// Starts `idp serve` on a fresh embedded database, waits for /readyz.
fn serve(dir: &std::path::Path, port: u16) -> std::process::Child {
    let child = idp()
        .current_dir(dir)
        .env("BIND", format!("127.0.0.1:{port}"))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(port);
    child
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(body) = http_get(port, "/readyz")
            && body.starts_with("HTTP/1.1 200")
        {
            return;
        }
        // Polling a child process we do not control; nothing here depends
        // on the passage of time itself.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("idp did not become ready on port {port}");
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = serve(dir.path(), port);
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "exit status {:?}", output.status);
}

#[test]
fn a_killed_server_leaves_a_database_the_next_start_opens() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve(dir.path(), port);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();

    let mut again = serve(dir.path(), port);
    assert!(http_get(port, "/readyz").unwrap().starts_with("HTTP/1.1 200"));
    again.kill().unwrap();
    again.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_reset_mails_a_link_before_it_returns() {
    let smtp = crate::smtp::SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        idp()
            .current_dir(dir.path())
            .env("SMTP_URL", smtp.url())
            .env("ISSUER", "https://id.example.com")
            .env("ARGON2_MEMORY_KIB", "1024")
            .env("ARGON2_ITERATIONS", "1")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let created = run(&["user", "create", "--username", "alice", "--email", "alice@example.com"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let sent = run(&["user", "send-reset", "alice"]);
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert!(String::from_utf8_lossy(&sent.stdout).contains("on its way"));
    // No server runs: the command itself handed the mail over.
    let mail = &smtp.wait_for(1).await[0];
    assert_eq!(mail.to, "alice@example.com");
    assert!(mail.link("https://id.example.com/auth/password/reset?token=pr_").len() > 60);

    let unknown = run(&["user", "send-reset", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    let off = idp().current_dir(dir.path()).args(["user", "send-reset", "alice"]).output().unwrap();
    assert_eq!(off.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&off.stderr).contains("SMTP_URL"),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
}
