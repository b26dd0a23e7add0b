//! Prometheus metrics: requests by route and status with a latency
//! histogram, tokens issued by grant, login failures and lockouts,
//! refresh-token reuse, the password-hashing queue and its wait, the
//! database pool and the wait to start a write, mail sent and the outbox's
//! depth, and the build.

use idp_core::clock::DurationObserver;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailLabels {
    kind: &'static str,
    result: &'static str,
}

/// Latency buckets in seconds: sub-millisecond for the cached GETs up to
/// seconds for password hashing under load.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Values read at scrape time rather than counted as they happen.
#[derive(Debug, Clone, Copy)]
pub struct Gauges {
    pub hash_queue: usize,
    pub hash_in_use: usize,
    pub db_size: u32,
    pub db_idle: usize,
    pub db_max: u32,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    tokens_issued: Family<GrantLabels, Counter>,
    login_failures: Counter,
    lockouts: Counter,
    refresh_reuse: Counter,
    hash_queue: Gauge,
    hash_in_use: Gauge,
    hash_wait: Histogram,
    db_pool_size: Gauge,
    db_pool_idle: Gauge,
    db_pool_max: Gauge,
    db_write_begin: Histogram,
    mail_sent: Family<MailLabels, Counter>,
    outbox_depth: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("idp");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS.iter().copied())
        });
        let tokens_issued = Family::<GrantLabels, Counter>::default();
        let login_failures = Counter::default();
        let lockouts = Counter::default();
        let refresh_reuse = Counter::default();
        let hash_queue = Gauge::default();
        let hash_in_use = Gauge::default();
        let hash_wait = Histogram::new(LATENCY_BUCKETS.iter().copied());
        let db_pool_size = Gauge::default();
        let db_pool_idle = Gauge::default();
        let db_pool_max = Gauge::default();
        let db_write_begin = Histogram::new(LATENCY_BUCKETS.iter().copied());
        let mail_sent = Family::<MailLabels, Counter>::default();
        let outbox_depth = Gauge::default();
        let build = Family::<BuildLabels, Gauge>::default();
        build.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION") }).set(1);
        registry.register("build_info", "The running idp version (always 1)", build);
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "tokens_issued",
            "Access tokens issued, by grant type",
            tokens_issued.clone(),
        );
        registry.register(
            "login_failures",
            "Failed password checks (wrong password, unknown user, locked)",
            login_failures.clone(),
        );
        registry.register(
            "lockouts",
            "Lockouts started (LOGIN_MAX_FAILURES failures in a row for one login name)",
            lockouts.clone(),
        );
        registry.register(
            "refresh_token_reuse",
            "Consumed refresh tokens presented again (families revoked)",
            refresh_reuse.clone(),
        );
        registry.register(
            "password_hash_queue",
            "Requests waiting for a password-hashing slot",
            hash_queue.clone(),
        );
        registry.register(
            "password_hash_in_use",
            "Password hashes being computed",
            hash_in_use.clone(),
        );
        registry.register(
            "password_hash_wait_seconds",
            "Time a password check or hash waited for a hashing slot",
            hash_wait.clone(),
        );
        registry.register("db_pool_connections", "Open database connections", db_pool_size.clone());
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            db_pool_idle.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "The pool's limit (DATABASE_MAX_CONNECTIONS)",
            db_pool_max.clone(),
        );
        registry.register(
            "db_write_begin_seconds",
            "Time to start a write transaction: waiting for a pooled connection \
             (on SQLite also for the single writer) plus BEGIN",
            db_write_begin.clone(),
        );
        registry.register(
            "mail_sent",
            "Mails handed to SMTP, by kind and result (sent; retry: a temporary \
             failure, tried again later; failed: given up)",
            mail_sent.clone(),
        );
        registry.register(
            "outbox_depth",
            "Outbox jobs not yet finished (due, waiting for a retry, or running)",
            outbox_depth.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            tokens_issued,
            login_failures,
            lockouts,
            refresh_reuse,
            hash_queue,
            hash_in_use,
            hash_wait,
            db_pool_size,
            db_pool_idle,
            db_pool_max,
            db_write_begin,
            mail_sent,
            outbox_depth,
        }
    }

    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let labels = RequestLabels { route: route.to_owned(), method: method.to_owned(), status };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&RouteLabels { route: labels.route }).observe(seconds);
    }

    pub fn token_issued(&self, grant_type: &'static str) {
        self.tokens_issued.get_or_create(&GrantLabels { grant_type }).inc();
    }

    pub fn login_failed(&self) {
        self.login_failures.inc();
    }

    pub fn lockout_started(&self) {
        self.lockouts.inc();
    }

    /// What the hashing pool calls with each wait for a slot.
    pub fn hash_wait_observer(&self) -> DurationObserver {
        let histogram = self.hash_wait.clone();
        DurationObserver::new(move |waited| histogram.observe(waited.as_secs_f64()))
    }

    /// What the database calls with each write transaction's start time.
    pub fn db_write_begin_observer(&self) -> DurationObserver {
        let histogram = self.db_write_begin.clone();
        DurationObserver::new(move |took| histogram.observe(took.as_secs_f64()))
    }

    pub fn refresh_reuse_detected(&self) {
        self.refresh_reuse.inc();
    }

    /// `result`: `sent`, `retry` or `failed`.
    pub fn mail_sent(&self, kind: &'static str, result: &'static str) {
        self.mail_sent.get_or_create(&MailLabels { kind, result }).inc();
    }

    /// Set by the outbox sender after each round.
    pub fn set_outbox_depth(&self, depth: i64) {
        self.outbox_depth.set(depth);
    }

    /// The Prometheus text exposition, with the gauges read now.
    pub fn render(&self, gauges: &Gauges) -> String {
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.hash_queue.set(as_i64(gauges.hash_queue));
        self.hash_in_use.set(as_i64(gauges.hash_in_use));
        self.db_pool_size.set(i64::from(gauges.db_size));
        self.db_pool_idle.set(as_i64(gauges.db_idle));
        self.db_pool_max.set(i64::from(gauges.db_max));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
