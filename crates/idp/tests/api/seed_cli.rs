//! `idp seed`, `idp user`, `idp role`, `idp client` as an operator runs them.

#[allow(unused_imports)]
use crate::helpers::*;
use std::process::{Command, Output};

struct Cli {
    dir: tempfile::TempDir,
    database_url: String,
}

impl Cli {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_idp"));
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("DATABASE_URL", &self.database_url)
            .env("SECRET_KEY", TEST_SECRET_KEY)
            .env("ARGON2_MEMORY_KIB", "1024")
            .env("ARGON2_ITERATIONS", "1")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

async fn snapshot(db: &idp_store::Db) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT id || ':' || name FROM roles ORDER BY id",
        "SELECT id || ':' || name FROM permissions ORDER BY id",
        "SELECT role_id || ':' || permission_id FROM role_permissions ORDER BY 1",
        "SELECT id || ':' || username || ':' || password_hash FROM users ORDER BY id",
        "SELECT user_id || ':' || role_id FROM user_roles ORDER BY 1",
    ] {
        let found: Vec<(String,)> = sqlx::query_as(sql).fetch_all(db.read()).await.unwrap();
        rows.extend(found.into_iter().map(|(r,)| r));
    }
    rows
}

engine_test!(
    async fn seeding_twice_gives_the_same_database(engine) {
        let test_db = TestDb::create(engine).await;
        let cli = Cli { dir: tempfile::tempdir().unwrap(), database_url: test_db.url.clone() };
        let first = cli.ok(&["seed"]);
        assert!(first.contains("generated password, shown only now"), "{first}");
        let db = idp_store::Db::connect(&test_db.url, &Default::default()).await.unwrap();
        let after_first = snapshot(&db).await;
        let second = cli.ok(&["seed"]);
        assert!(second.contains("nothing to change"), "{second}");
        assert!(!second.contains("password, shown"), "the password is not reset or shown again");
        assert_eq!(snapshot(&db).await, after_first);
        db.close().await;
    }
);

engine_test!(
    async fn the_management_commands_work_on_a_fresh_database(engine) {
        let test_db = TestDb::create(engine).await;
        let cli = Cli { dir: tempfile::tempdir().unwrap(), database_url: test_db.url.clone() };

        let out = cli.run(&["user", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin"], Some("S3cure-pass!\n"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("S3cure-pass!"));
        let again = cli.run(&["user", "create", "--username", "alice", "--email", "other@example.com"], None);
        assert_eq!(again.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&again.stderr).trim(), "error: Username already taken");
        let bad = cli.run(&["user", "create", "--username", "x", "--email", "nope"], None);
        assert_eq!(bad.status.code(), Some(2));

        assert!(cli.ok(&["user", "set-roles", "alice", "Admin", "User"]).contains("now has roles: Admin, User"));
        assert!(cli.ok(&["user", "set-roles", "alice", "Admin", "User"]).contains("nothing changed"));
        // Alice is the only administrator: not even the CLI takes that away.
        let last = cli.run(&["user", "disable", "alice"], None);
        assert_eq!(last.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&last.stderr).contains("last enabled administrator"));
        cli.run(&["user", "create", "--username", "bob", "--email", "bob@example.com", "--role", "Admin"], None);
        assert!(cli.ok(&["user", "disable", "alice"]).contains("disabled"));
        assert!(cli.ok(&["user", "disable", "alice"]).contains("already disabled"));
        assert!(cli.ok(&["user", "enable", "alice"]).contains("enabled"));
        let generated = cli.ok(&["user", "set-password", "alice"]);
        assert!(generated.contains("generated password, shown only now"));
        let list = cli.ok(&["user", "list"]);
        assert!(list.contains("alice") && list.contains("Admin,User"), "{list}");

        assert!(cli.ok(&["role", "create", "Support"]).contains("created"));
        assert!(cli.ok(&["role", "create", "Support"]).contains("nothing changed"));
        assert!(cli.ok(&["role", "create-permission", "reports:read"]).contains("created"));
        assert!(cli.ok(&["role", "set-permissions", "Support", "reports:read"]).contains("grants: reports:read"));
        assert!(cli.ok(&["role", "list"]).contains("Support"));
        let missing = cli.run(&["role", "delete", "Nope"], None);
        assert_eq!(missing.status.code(), Some(1));
    }
);

engine_test!(
    async fn oauth_client_json_round_trips_like_the_original(engine) {
        let test_db = TestDb::create(engine).await;
        let cli = Cli { dir: tempfile::tempdir().unwrap(), database_url: test_db.url.clone() };
        let file = cli.dir.path().join("oauth_client.json");

        let created = cli.ok(&["client", "seed-or-update", "--name", "My SPA", "--public", "--redirect-uri", "http://localhost:3000/callback"]);
        assert!(created.contains("Created public client"), "{created}");
        let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let client_id = recorded["client_id"].as_str().unwrap().to_owned();
        assert_eq!(recorded["redirect_uris"], serde_json::json!(["http://localhost:3000/callback"]));

        // Running it again changes nothing.
        let again = cli.ok(&["client", "seed-or-update", "--name", "My SPA", "--public", "--redirect-uri", "http://localhost:3000/callback"]);
        assert!(again.contains("nothing changed"), "{again}");

        // The original's update_redirect_uris: the client id comes from the file.
        let updated = cli.ok(&["client", "update-redirect-uris", "--redirect-uri", "https://app.example.com/callback"]);
        assert!(updated.contains(&client_id));
        let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(recorded["client_id"], client_id.as_str());
        assert_eq!(recorded["redirect_uris"], serde_json::json!(["https://app.example.com/callback"]));
        assert!(cli.ok(&["client", "list"]).contains("https://app.example.com/callback"));

        // A confidential client's file holds its secret, readable only by its owner.
        let secret_file = cli.dir.path().join("backend.json");
        let out = cli.ok(&["client", "create", "--name", "Backend", "--confidential", "--grant-type", "client_credentials", "--scope", "reports:read", "--file", secret_file.to_str().unwrap()]);
        assert!(out.contains("client_secret, shown only now"));
        let backend: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&secret_file).unwrap()).unwrap();
        let first_secret = backend["client_secret"].as_str().unwrap().to_owned();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let backend_id = backend["client_id"].as_str().unwrap();
        cli.ok(&["client", "reset-secret", backend_id, "--file", secret_file.to_str().unwrap()]);
        let backend: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&secret_file).unwrap()).unwrap();
        assert_ne!(backend["client_secret"].as_str().unwrap(), first_secret);
        assert!(cli.ok(&["client", "delete", backend_id]).contains("deleted"));
        assert_eq!(cli.run(&["client", "delete", "idp-first-party"], None).status.code(), Some(1));
    }
);
