//! A real SMTP server for the mail tests: aiosmtpd (Debian's
//! `python3-aiosmtpd`, which `.ci/run` installs) on a free loopback port,
//! writing each message it accepts into a Maildir that the tests read.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python that has aiosmtpd: Debian's, unless `IDP_TEST_PYTHON` says.
fn python() -> String {
    std::env::var("IDP_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".to_owned())
}

/// A mail as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The content types of the parts, in order.
    pub parts: Vec<String>,
}

impl Mail {
    /// The first link in the text part that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        let start =
            self.text.find(prefix).unwrap_or_else(|| panic!("no {prefix} link in {}", self.text));
        let rest = &self.text[start..];
        rest.split_whitespace().next().unwrap().to_owned()
    }

    /// The `token` query parameter of the first link starting with `prefix`.
    pub fn token(&self, prefix: &str) -> String {
        let link = url::Url::parse(&self.link(prefix)).unwrap();
        link.query_pairs().find(|(k, _)| k == "token").unwrap().1.into_owned()
    }
}

pub struct SmtpServer {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: Option<Child>,
}

impl SmtpServer {
    /// A port nothing listens on (yet).
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// Starts a server on a free port.
    pub async fn start() -> SmtpServer {
        let mut server = Self::stopped(Self::free_port());
        server.run().await;
        server
    }

    /// A server that will listen on `port` once [`SmtpServer::run`] is called.
    pub fn stopped(port: u16) -> SmtpServer {
        SmtpServer { port, maildir: tempfile::tempdir().unwrap(), child: None }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts listening and waits until connections are accepted.
    pub async fn run(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port)])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir.path().join("Maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start aiosmtpd: install python3-aiosmtpd (or set IDP_TEST_PYTHON)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start on port {}", self.port);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server (connections are refused until it runs again).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn new_dir(&self) -> PathBuf {
        self.maildir.path().join("Maildir").join("new")
    }

    /// Every mail received so far, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.new_dir()) else { return Vec::new() };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| (e.metadata().and_then(|m| m.modified()).ok(), e.path()))
            .collect();
        files.sort();
        files.into_iter().map(|(_, path)| parse(&std::fs::read(path).unwrap())).collect()
    }

    /// Waits until at least `n` mails have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            assert!(Instant::now() < deadline, "{} mail(s) arrived, expected {n}", mails.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn parse(raw: &[u8]) -> Mail {
    let parsed = mailparse::parse_mail(raw).unwrap();
    let header = |name: &str| {
        use mailparse::MailHeaderMap as _;
        parsed.headers.get_first_value(name).unwrap_or_default()
    };
    let mut text = String::new();
    let mut html = String::new();
    let mut parts = Vec::new();
    for part in parsed.subparts.iter() {
        let mime = part.ctype.mimetype.clone();
        let body = part.get_body().unwrap();
        match mime.as_str() {
            "text/plain" => text = body,
            "text/html" => html = body,
            _ => {}
        }
        parts.push(mime);
    }
    Mail { to: header("To"), from: header("From"), subject: header("Subject"), text, html, parts }
}
