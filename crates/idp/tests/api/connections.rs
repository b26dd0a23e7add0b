//! Slow and idle clients, the connection cap, shutdown with a deadline, and
//! connection hygiene after refused bodies, seen from raw sockets the way
//! an attacker or a keep-alive client sees them.
//!
//! Pure HTTP behaviour: SQLite only. Timing checks poll for the condition
//! and use generous upper bounds, so that a loaded two-core CI machine
//! passes them; lower bounds are only those the server cannot beat.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[allow(unused_imports)]
use crate::helpers::*;

/// Far above every deadline set below: a connection still open then has
/// not been closed by the rule under test.
const PATIENCE: Duration = Duration::from_secs(20);

/// A response as read off the wire.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn closes(&self) -> bool {
        self.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A hand-driven HTTP/1.1 client connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    opened: Instant,
}

impl Conn {
    async fn open(app: &TestApp) -> Conn {
        let addr = app.base_url.trim_start_matches("http://");
        let stream = TcpStream::connect(addr).await.unwrap();
        Conn { stream, buf: Vec::new(), opened: Instant::now() }
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    async fn get(&mut self, path: &str) -> Raw {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: idp\r\n\r\n").as_bytes()).await.unwrap();
        self.response().await
    }

    /// More bytes into `buf`; false at EOF.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk))
            .await
            .expect("no answer in time")
            .expect("read failed");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn response(&mut self) -> Raw {
        let head_end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            assert!(self.fill().await, "connection closed before a response: {:?}", self.text());
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).unwrap();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_owned(), v.trim().to_owned())
            })
            .collect();
        let mut raw = Raw { status, headers, body: Vec::new() };
        if let Some(length) = raw.header("content-length") {
            let length: usize = length.parse().unwrap();
            while self.buf.len() < length {
                assert!(self.fill().await, "connection closed inside a response body");
            }
            raw.body = self.buf.drain(..length).collect();
        } else if raw.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let line_end = loop {
                    if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        break at;
                    }
                    assert!(self.fill().await, "connection closed inside a chunk size");
                };
                let size = std::str::from_utf8(&self.buf[..line_end]).unwrap();
                let size =
                    usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
                while self.buf.len() < line_end + 2 + size + 2 {
                    assert!(self.fill().await, "connection closed inside a chunk");
                }
                raw.body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
        }
        raw
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// Waits until the server closes the connection and returns how long
    /// after opening that was.
    async fn closed(&mut self) -> Duration {
        wait_closed(&mut self.stream, self.opened).await
    }

    /// Whether the server has closed the connection, without waiting.
    async fn is_closed(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        matches!(
            tokio::time::timeout(Duration::from_millis(50), self.stream.read(&mut chunk)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

/// Waits until the server closes the connection (EOF or reset), reading
/// and dropping whatever comes first, and returns how long after `opened`
/// that was; panics after `PATIENCE`.
async fn wait_closed(
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
    opened: Instant,
) -> Duration {
    let mut chunk = [0u8; 4096];
    let give_up = Instant::now() + PATIENCE;
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, reader.read(&mut chunk)).await {
            Err(_) => panic!("still open after {PATIENCE:?}"),
            Ok(Ok(0) | Err(_)) => return opened.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_or_missing_headers_are_cut_off_after_the_header_timeout() {
    let app = TestApp::builder(Engine::Sqlite)
        .setting("HEADER_READ_TIMEOUT_SECONDS", "1")
        .setting("IDLE_TIMEOUT_SECONDS", "60")
        .spawn()
        .await;
    // Slowloris: a header line every 200 ms, never the blank line.
    let opened = Instant::now();
    let stream = TcpStream::connect(app.base_url.trim_start_matches("http://")).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(b"GET /healthz HTTP/1.1\r\nHost: idp\r\n").await.unwrap();
    let trickle = tokio::spawn(async move {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).await.is_err() {
                break;
            }
        }
    });
    // And a connection that sends nothing at all.
    let mut silent = Conn::open(&app).await;

    let slow_closed = wait_closed(&mut reader, opened).await;
    let silent_closed = silent.closed().await;
    trickle.abort();
    for (what, after) in [("trickled headers", slow_closed), ("no request", silent_closed)] {
        assert!(after >= Duration::from_millis(900), "{what}: closed early, after {after:?}");
        assert!(after < Duration::from_secs(10), "{what}: closed only after {after:?}");
    }
    // The server itself is fine.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_not_the_header_timeout() {
    let app = TestApp::builder(Engine::Sqlite)
        .setting("HEADER_READ_TIMEOUT_SECONDS", "1")
        .setting("IDLE_TIMEOUT_SECONDS", "3")
        .spawn()
        .await;
    let mut conn = Conn::open(&app).await;
    let first = conn.get("/healthz").await;
    assert_eq!(first.status, 200);
    assert!(!first.closes());
    // Idle for longer than the header timeout: still open, and usable.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let second = conn.get("/healthz").await;
    assert_eq!(second.status, 200, "an idle connection outlives the header timeout");
    let idle_from = conn.opened.elapsed();
    let closed = conn.closed().await - idle_from;
    assert!(closed >= Duration::from_millis(2_900), "closed early, after {closed:?} idle");
    assert!(closed < Duration::from_secs(13), "closed only after {closed:?} idle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_the_longest_idle_connections_make_room() {
    let app = TestApp::builder(Engine::Sqlite)
        .setting("MAX_CONNECTIONS", "4")
        .setting("HEADER_READ_TIMEOUT_SECONDS", "60")
        .setting("IDLE_TIMEOUT_SECONDS", "60")
        .spawn()
        .await;
    // A request in progress: its body is still on the way.
    let mut busy = Conn::open(&app).await;
    let body = br#"{"username":"alice","email":"alice@example.com","password":"S3cure-pass!"}"#;
    busy.send(
        format!(
            "POST /auth/register HTTP/1.1\r\nHost: idp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    busy.send(&body[..10]).await.unwrap();
    // Ten connections held open by a client that sends nothing more: half
    // kept alive after a request, half silent from the start.
    let mut held = Vec::new();
    for i in 0..10 {
        let mut conn = Conn::open(&app).await;
        if i % 2 == 0 {
            assert_eq!(conn.get("/healthz").await.status, 200);
        }
        held.push(conn);
    }
    // A health check from a new client still gets through, at once.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    drop(client);
    // The cap holds: of the held connections, at most 3 (with the busy
    // one, 4) are still open, and the ones closed are the oldest.
    let give_up = Instant::now() + PATIENCE;
    let open = loop {
        let mut open = Vec::new();
        for (i, conn) in held.iter_mut().enumerate() {
            if !conn.is_closed().await {
                open.push(i);
            }
        }
        if open.len() <= 3 || Instant::now() > give_up {
            break open;
        }
    };
    assert!(open.len() <= 3, "still open beyond the cap of 4: {open:?}");
    assert!(open.iter().all(|&i| i >= 7), "the newest stay open: {open:?}");
    // The request in progress was not cut to make room.
    busy.send(&body[10..]).await.unwrap();
    let registered = busy.response().await;
    assert_eq!(registered.status, 201, "{}", String::from_utf8_lossy(&registered.body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_and_slow_connections_at_once() {
    let app = TestApp::builder(Engine::Sqlite)
        .setting("HEADER_READ_TIMEOUT_SECONDS", "60")
        .setting("IDLE_TIMEOUT_SECONDS", "60")
        .setting("SHUTDOWN_TIMEOUT_SECONDS", "60")
        .spawn()
        .await;
    let mut slow = Conn::open(&app).await;
    slow.send(b"GET /healthz HTTP/1.1\r\nHost: idp\r\nX-Half: ").await.unwrap();
    let mut idle = Conn::open(&app).await;
    assert_eq!(idle.get("/healthz").await.status, 200);
    let mut silent = Conn::open(&app).await;

    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("shutdown waited for connections with no request in progress");
    assert!(started.elapsed() < Duration::from_secs(10));
    for conn in [&mut slow, &mut idle, &mut silent] {
        conn.closed().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_requests_finish_until_the_deadline() {
    let app = TestApp::builder(Engine::Sqlite)
        .setting("HEADER_READ_TIMEOUT_SECONDS", "60")
        .setting("IDLE_TIMEOUT_SECONDS", "60")
        .setting("REQUEST_TIMEOUT_SECONDS", "60")
        .setting("SHUTDOWN_TIMEOUT_SECONDS", "3")
        .spawn()
        .await;
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    let body = br#"{"username":"al","email":"not-an-email","password":"x"}"#;
    let head = format!(
        "POST /auth/register HTTP/1.1\r\nHost: idp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // Two requests in progress, their bodies half sent.
    let mut finishing = Conn::open(&app).await;
    let mut stuck = Conn::open(&app).await;
    for conn in [&mut finishing, &mut stuck] {
        conn.send(head.as_bytes()).await.unwrap();
        conn.send(&body[..10]).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let stopping = tokio::spawn(app.stop());
    // Shutdown has begun once new connections are refused.
    while TcpStream::connect(&addr).await.is_ok() {
        assert!(started.elapsed() < PATIENCE, "still accepting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // One request completes during shutdown and gets its answer, which
    // says the connection closes.
    finishing.send(&body[10..]).await.unwrap();
    let answer = finishing.response().await;
    assert_eq!(answer.status, 422, "{}", String::from_utf8_lossy(&answer.body));
    assert!(answer.closes(), "{:?}", answer.headers);
    finishing.closed().await;
    // The other never completes: the deadline ends it, and the server.
    tokio::time::timeout(PATIENCE, stopping).await.expect("shutdown passed its deadline").unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(2_900), "cut before the deadline: {took:?}");
    assert!(took < Duration::from_secs(13), "shutdown took {took:?}");
    stuck.closed().await;
}

/// `POST path` with `content_type` and `body`, the headers and the body
/// sent apart so that the server can answer before the body arrives.
async fn post_in_two_parts(
    conn: &mut Conn,
    path: &str,
    content_type: &str,
    body: &[u8],
    chunked: bool,
) {
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: idp\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n"
    );
    conn.send(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    if chunked {
        let mut framed = format!("{:x}\r\n", body.len()).into_bytes();
        framed.extend_from_slice(body);
        framed.extend_from_slice(b"\r\n0\r\n\r\n");
        conn.send(&framed).await.unwrap();
    } else {
        conn.send(body).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_small_bodies_leave_the_connection_usable() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let body = vec![b'a'; 10_000];
    for round in 0..20 {
        let mut conn = Conn::open(&app).await;
        // 415: the content type is refused before the body is read.
        post_in_two_parts(&mut conn, "/auth/token", "text/plain", &body, false).await;
        let wrong_type = conn.response().await;
        assert_eq!(wrong_type.status, 415, "round {round}");
        assert!(!wrong_type.closes(), "round {round}: kept alive");
        // 401: no token, the body (chunked this time) is never looked at.
        post_in_two_parts(&mut conn, "/auth/me", "application/json", &body, true).await;
        let unauthenticated = conn.response().await;
        assert_eq!(unauthenticated.status, 401, "round {round}");
        assert!(!unauthenticated.closes(), "round {round}: kept alive");
        // 404 for a body posted where nothing lives.
        post_in_two_parts(&mut conn, "/no/such/thing", "application/json", &body, false).await;
        let missing = conn.response().await;
        assert_eq!(missing.status, 404, "round {round}");
        // And the connection still serves the next request.
        assert_eq!(conn.get("/healthz").await.status, 200, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_gets_a_whole_413_and_connection_close() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let body = vec![b'a'; 2 * 1024 * 1024];
    for round in 0..20 {
        let mut conn = Conn::open(&app).await;
        let head = format!(
            "POST /auth/token HTTP/1.1\r\nHost: idp\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        conn.send(head.as_bytes()).await.unwrap();
        // The whole body goes out, as a plain client sends it, although
        // the server answers before reading it.
        conn.send(&body).await.unwrap_or_else(|e| panic!("round {round}: writing the body: {e}"));
        let refused = conn.response().await;
        assert_eq!(refused.status, 413, "round {round}");
        assert!(refused.closes(), "round {round}: says it closes: {:?}", refused.headers);
        let problem: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
        assert!(problem["error"].is_string(), "round {round}: a whole body: {problem}");
        conn.closed().await;
    }
    // The same body at network pace, still arriving after the server has
    // answered: the server half-closes and reads on until the client is
    // done, so the client's writes do not meet a reset.
    for round in 0..5 {
        let mut conn = Conn::open(&app).await;
        let head = format!(
            "POST /auth/token HTTP/1.1\r\nHost: idp\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        conn.send(head.as_bytes()).await.unwrap();
        for chunk in body.chunks(64 * 1024) {
            conn.send(chunk)
                .await
                .unwrap_or_else(|e| panic!("paced round {round}: writing the body: {e}"));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let refused = conn.response().await;
        assert_eq!(refused.status, 413, "paced round {round}");
        assert!(refused.closes(), "paced round {round}");
        conn.closed().await;
    }
    // A client that waits for `100 Continue` is refused without being asked
    // for the body, and told the connection closes (it may not know whether
    // to send the body after all).
    let mut conn = Conn::open(&app).await;
    conn.send(
        format!(
            "POST /auth/token HTTP/1.1\r\nHost: idp\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let refused = conn.response().await;
    assert_eq!(refused.status, 415);
    assert!(refused.closes(), "{:?}", refused.headers);
    conn.closed().await;
}
