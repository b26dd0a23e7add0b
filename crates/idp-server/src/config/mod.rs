//! Settings: environment variables, a `.env` file, and an optional TOML file.
//!
//! Precedence, lowest first: built-in defaults, the TOML file (`--config`),
//! `.env` in the working directory, the process environment. The original
//! service's names are accepted as they are (`SECRET_KEY`, `ALGORITHM`,
//! `SQLALCHEMY_URL`, …). A bad value stops start-up with one line naming the
//! setting; values of secret settings are never repeated in messages.

mod mail;
mod secret_key;
mod source;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use idp_core::SecretString;
use idp_core::jose::Algorithm;
use idp_core::password::Argon2Params;
use idp_store::{Dialect, PoolSettings};

pub use mail::{MailSettings, Smtp, SmtpSecurity, SmtpServer};
pub use source::Source;

/// The embedded database used when neither `DATABASE_URL` nor
/// `SQLALCHEMY_URL` is set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/idp.db";

/// A setting that could not be used. Displays as one line:
/// `ACCESS_TOKEN_EXPIRE_MINUTES: expected a whole number ≥ 1, got "abc"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { setting: setting.into(), problem: problem.into() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything idp can be told. Built once at start-up by [`Settings::load`]
/// (or [`Settings::from_source`] in tests) and shared read-only.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub database_max_connections: u32,
    /// How long a query waits for a pooled connection before the request
    /// gets a 503; during a database outage, how long requests take to fail.
    pub database_acquire_timeout: Duration,
    /// `None` only with PostgreSQL and no `SECRET_KEY`; commands that need it
    /// call [`Settings::secret_key`], which says what is missing.
    secret_key: Option<SecretString>,
    /// `SECRET_KEY_PREVIOUS`: during a rotation of `SECRET_KEY`, what was
    /// sealed under the old key still opens, and is sealed again under the
    /// new one.
    secret_key_previous: Option<SecretString>,
    pub algorithm: Algorithm,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub session_max_lifetime: Duration,
    pub refresh_reuse_grace: Duration,
    pub private_key_path: Option<PathBuf>,
    pub public_key_path: Option<PathBuf>,
    /// The public base URL, without a trailing slash.
    pub issuer: String,
    pub default_audience: String,
    pub bind: SocketAddr,
    /// Serve `/metrics` on this address only (and not on `bind`).
    pub metrics_bind: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub request_timeout: Duration,
    /// A request's headers must arrive within this, counted from the
    /// connection's opening or, on a kept-alive connection, from the first
    /// byte of the request.
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once on each listener; at the cap, the
    /// connection that has waited longest without a request in progress is
    /// closed to make room.
    pub max_connections: usize,
    /// After SIGTERM, how long in-flight requests may take before the
    /// connections still open are closed and the process exits.
    pub shutdown_timeout: Duration,
    pub jwt_leeway: Duration,
    pub argon2: Argon2Params,
    /// Hashes computed at once (each on a blocking thread).
    pub hash_concurrency: usize,
    /// How long a request waits for a hashing slot before 503.
    pub hash_queue_timeout: Duration,
    /// Requests that may wait for a hashing slot; more get 503 at once.
    pub hash_queue_max: usize,
    /// The password grant without `client_id` uses the built-in client.
    pub allow_password_grant_without_client: bool,
    /// RFC 8707 resources access tokens may be issued for.
    pub allowed_resources: Vec<String>,
    /// Failures for one login name before it is locked.
    pub login_max_failures: u32,
    /// The first lockout; each further one doubles, up to `lockout_max`.
    pub lockout: Duration,
    pub lockout_max: Duration,
    /// Requests per minute per client IP on the token, register, login and
    /// password endpoints; 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Peers whose `X-Forwarded-For` is believed (none by default).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How often expired rows are swept; `None` turns the sweeper off.
    pub cleanup_interval: Option<Duration>,
    /// How often each node re-reads the signing-key table (a key rotated on
    /// another node is in this node's JWKS within this time).
    pub keys_refresh_interval: Duration,
    /// Ended sessions are kept this long (admins see them), then deleted.
    pub session_retention: Duration,
    /// Audit events are kept this long; `None` keeps them forever.
    pub audit_retention: Option<Duration>,
    /// `idp seed`: the admin user's name, email and (optional) password.
    pub admin_username: String,
    pub admin_email: String,
    pub admin_password: Option<SecretString>,
    /// PKCE for confidential clients too (public clients always need it).
    pub require_pkce_for_confidential_clients: bool,
    /// Mail: SMTP, the sender, and the one-time links' rules.
    pub mail: MailSettings,
}

impl Settings {
    /// Reads the process environment, `.env` and the optional TOML file, and
    /// in the default embedded mode creates or reads the generated secret key.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        let source = Source::gather(config_file, Path::new(".env"))?;
        let mut settings = Self::from_source(&source)?;
        if settings.secret_key.is_none() && settings.dialect() == Dialect::Sqlite {
            settings.secret_key = Some(secret_key::load_or_create_beside(&settings.database_url)?);
        }
        Ok(settings)
    }

    /// Parses settings from `source` alone, with no side effects.
    pub fn from_source(source: &Source) -> Result<Self, ConfigError> {
        let database_url = database_url(source)?;
        let issuer = issuer(source)?;
        let default_audience = source.string("DEFAULT_AUDIENCE").unwrap_or_else(|| issuer.clone());
        let secret_key = match source.secret("SECRET_KEY") {
            Some(key) => Some(secret_key::validate(key)?),
            None => None,
        };
        let secret_key_previous = match source.secret("SECRET_KEY_PREVIOUS") {
            Some(key) => Some(secret_key::validate_previous(key, secret_key.as_ref())?),
            None => None,
        };
        let private_key_path = source.string("PRIVATE_KEY_PATH").map(PathBuf::from);
        let public_key_path = source.string("PUBLIC_KEY_PATH").map(PathBuf::from);
        if public_key_path.is_some() && private_key_path.is_none() {
            return Err(ConfigError::new(
                "PUBLIC_KEY_PATH",
                "set only together with PRIVATE_KEY_PATH (the public key is derived from the private one)",
            ));
        }
        let mail = MailSettings::from_source(source, &issuer)?;
        let database_max_connections =
            u32::try_from(source.number("DATABASE_MAX_CONNECTIONS", 16, 1..=1_000)?).unwrap_or(16);
        Ok(Self {
            database_max_connections,
            database_acquire_timeout: Duration::from_millis(source.number(
                "DATABASE_ACQUIRE_TIMEOUT_MS",
                2_000,
                100..=60_000,
            )?),
            database_url,
            secret_key,
            secret_key_previous,
            algorithm: source.parsed("ALGORITHM", Algorithm::RS256)?,
            access_token_ttl: minutes(source.number(
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                30,
                1..=1_440,
            )?),
            refresh_token_ttl: days(source.number("REFRESH_TOKEN_EXPIRE_DAYS", 7, 1..=365)?),
            session_max_lifetime: days(source.number(
                "SESSION_MAX_LIFETIME_DAYS",
                30,
                1..=3_650,
            )?),
            refresh_reuse_grace: secs(source.number("REFRESH_REUSE_GRACE_SECONDS", 0, 0..=300)?),
            private_key_path,
            public_key_path,
            issuer,
            default_audience,
            bind: source.parsed("BIND", SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            metrics_bind: source.optional("METRICS_BIND")?,
            log_format: match source.string("LOG_FORMAT").as_deref() {
                None | Some("pretty") => LogFormat::Pretty,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(ConfigError::new(
                        "LOG_FORMAT",
                        format!("expected pretty or json, got {other:?}"),
                    ));
                }
            },
            log_filter: source.string("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
            request_timeout: secs(source.number("REQUEST_TIMEOUT_SECONDS", 30, 1..=3_600)?),
            header_read_timeout: secs(source.number("HEADER_READ_TIMEOUT_SECONDS", 10, 1..=300)?),
            idle_timeout: secs(source.number("IDLE_TIMEOUT_SECONDS", 60, 1..=3_600)?),
            max_connections: usize::try_from(source.number(
                "MAX_CONNECTIONS",
                default_max_connections(database_max_connections),
                1..=1_000_000,
            )?)
            .unwrap_or(MAX_CONNECTIONS_CEILING),
            shutdown_timeout: secs(source.number("SHUTDOWN_TIMEOUT_SECONDS", 30, 0..=3_600)?),
            jwt_leeway: secs(source.number("JWT_LEEWAY_SECONDS", 30, 0..=300)?),
            argon2: argon2_params(source)?,
            hash_concurrency: usize::try_from(source.number(
                "HASH_CONCURRENCY",
                default_hash_concurrency(),
                1..=256,
            )?)
            .unwrap_or(1),
            hash_queue_timeout: Duration::from_millis(source.number(
                "HASH_QUEUE_TIMEOUT_MS",
                10_000,
                0..=60_000,
            )?),
            hash_queue_max: usize::try_from(source.number("HASH_QUEUE_MAX", 1_024, 0..=100_000)?)
                .unwrap_or(1_024),
            allow_password_grant_without_client: source
                .flag("ALLOW_PASSWORD_GRANT_WITHOUT_CLIENT", true)?,
            allowed_resources: allowed_resources(source)?,
            login_max_failures: u32::try_from(source.number("LOGIN_MAX_FAILURES", 5, 1..=1_000)?)
                .unwrap_or(5),
            lockout: secs(source.number("LOCKOUT_SECONDS", 60, 1..=86_400)?),
            lockout_max: secs(source.number("LOCKOUT_MAX_SECONDS", 3_600, 1..=604_800)?),
            rate_limit_per_minute: u32::try_from(source.number(
                "RATE_LIMIT_PER_MINUTE",
                60,
                0..=1_000_000,
            )?)
            .unwrap_or(60),
            trusted_proxies: trusted_proxies(source)?,
            cleanup_interval: match source.number("CLEANUP_INTERVAL_SECONDS", 60, 0..=86_400)? {
                0 => None,
                n => Some(secs(n)),
            },
            keys_refresh_interval: secs(source.number("KEYS_REFRESH_SECONDS", 30, 1..=3_600)?),
            session_retention: days(source.number("SESSION_RETENTION_DAYS", 7, 0..=3_650)?),
            audit_retention: match source.number("AUDIT_RETENTION_DAYS", 90, 0..=36_500)? {
                0 => None,
                n => Some(days(n)),
            },
            admin_username: source.string("ADMIN_USERNAME").unwrap_or_else(|| "admin".to_owned()),
            admin_email: source
                .string("ADMIN_EMAIL")
                .unwrap_or_else(|| "admin@example.com".to_owned()),
            admin_password: source
                .secret("ADMIN_PASSWORD")
                .map(|p| SecretString::from(p.to_owned())),
            require_pkce_for_confidential_clients: source
                .flag("REQUIRE_PKCE_FOR_CONFIDENTIAL_CLIENTS", true)?,
            mail,
        })
    }

    pub fn dialect(&self) -> Dialect {
        // database_url() validated the scheme.
        Dialect::from_url(&self.database_url).unwrap_or(Dialect::Sqlite)
    }

    pub fn pool_settings(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.database_max_connections,
            acquire_timeout: self.database_acquire_timeout,
            ..PoolSettings::default()
        }
    }

    /// The key every node derives its encryption and CSRF keys from.
    pub fn secret_key(&self) -> Result<&SecretString, ConfigError> {
        self.secret_key.as_ref().ok_or_else(|| {
            ConfigError::new(
                "SECRET_KEY",
                "required with PostgreSQL, and every node must share it (e.g. `openssl rand -hex 32`)",
            )
        })
    }

    /// The `SECRET_KEY` being rotated away from, if one is.
    pub fn secret_key_previous(&self) -> Option<&SecretString> {
        self.secret_key_previous.as_ref()
    }

    /// For tests and tools that build settings by hand.
    pub fn with_secret_key(mut self, key: SecretString) -> Self {
        self.secret_key = Some(key);
        self
    }
}

fn default_hash_concurrency() -> u64 {
    std::thread::available_parallelism().map_or(2, |n| u64::try_from(n.get()).unwrap_or(2))
}

/// The default connection cap when the open-file limit leaves room for it.
const MAX_CONNECTIONS_CEILING: usize = 10_000;

/// Descriptors kept for everything but client connections: the database
/// pool (`DATABASE_MAX_CONNECTIONS`), SQLite's files, the metrics listener
/// and its scrapers, the key files, logs and the runtime's own.
const FD_RESERVE: u64 = 128;

/// `MAX_CONNECTIONS` by default: what the open-file limit leaves after the
/// reserve, at most 10 000. Past the limit `accept` fails with EMFILE and
/// even `/healthz` goes unanswered; at the cap the server makes room by
/// closing idle connections instead (see `serve`).
fn default_max_connections(database_max_connections: u32) -> u64 {
    let ceiling = u64::try_from(MAX_CONNECTIONS_CEILING).unwrap_or(10_000);
    connections_the_file_limit_allows(database_max_connections)
        .map_or(ceiling, |room| room.clamp(16, ceiling))
}

/// How many connections the open-file limit leaves room for, or `None`
/// where it is unlimited or unknown.
pub fn connections_the_file_limit_allows(database_max_connections: u32) -> Option<u64> {
    open_file_limit()
        .map(|limit| limit.saturating_sub(FD_RESERVE + u64::from(database_max_connections)))
}

/// The soft `RLIMIT_NOFILE`, or `None` where unlimited or unknown.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

fn argon2_params(source: &Source) -> Result<Argon2Params, ConfigError> {
    let d = Argon2Params::default();
    let n = |name: &str, default: u32, max: u64| -> Result<u32, ConfigError> {
        Ok(u32::try_from(source.number(name, u64::from(default), 1..=max)?).unwrap_or(default))
    };
    let params = Argon2Params {
        memory_kib: n("ARGON2_MEMORY_KIB", d.memory_kib, 1_048_576)?,
        iterations: n("ARGON2_ITERATIONS", d.iterations, 20)?,
        parallelism: n("ARGON2_PARALLELISM", d.parallelism, 16)?,
    };
    params.validate().map_err(|problem| ConfigError::new("ARGON2_MEMORY_KIB", problem))?;
    Ok(params)
}

fn allowed_resources(source: &Source) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = source.string("ALLOWED_RESOURCES") else { return Ok(Vec::new()) };
    raw.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| match url::Url::parse(r) {
            // RFC 8707 §2: an absolute URI without a fragment.
            Ok(u) if u.fragment().is_none() => Ok(r.to_owned()),
            _ => Err(ConfigError::new(
                "ALLOWED_RESOURCES",
                format!("not an absolute URI without fragment: {r:?}"),
            )),
        })
        .collect()
}

fn trusted_proxies(source: &Source) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let Some(raw) = source.string("TRUSTED_PROXIES") else { return Ok(Vec::new()) };
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new("TRUSTED_PROXIES", format!("not an IP address or CIDR: {p:?}"))
                })
        })
        .collect()
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn database_url(source: &Source) -> Result<String, ConfigError> {
    let (setting, url) = match (source.secret("DATABASE_URL"), source.secret("SQLALCHEMY_URL")) {
        (Some(url), _) => ("DATABASE_URL", url.to_owned()),
        // The original's SQLAlchemy URL names its driver in the scheme.
        (None, Some(url)) => ("SQLALCHEMY_URL", translate_sqlalchemy_url(url)),
        (None, None) => return Ok(DEFAULT_DATABASE_URL.to_owned()),
    };
    if Dialect::from_url(&url).is_none() {
        // The URL may hold a password: name the problem, not the value.
        return Err(ConfigError::new(
            setting,
            "unsupported scheme: expected sqlite://path or postgres://user@host/db",
        ));
    }
    if url.starts_with("postgres") {
        url::Url::parse(&url)
            .map_err(|e| ConfigError::new(setting, format!("not a valid URL ({e})")))?;
    }
    Ok(url)
}

fn translate_sqlalchemy_url(url: &str) -> String {
    for prefix in [
        "postgresql+psycopg2://",
        "postgresql+psycopg://",
        "postgresql+asyncpg://",
        "postgresql://",
    ] {
        if let Some(rest) = url.strip_prefix(prefix) {
            return format!("postgres://{rest}");
        }
    }
    if let Some(rest) = url.strip_prefix("sqlite:///") {
        return format!("sqlite://{rest}");
    }
    url.to_owned()
}

fn issuer(source: &Source) -> Result<String, ConfigError> {
    let raw = source.string("ISSUER").unwrap_or_else(|| "http://127.0.0.1:8000".to_owned());
    let parsed = url::Url::parse(&raw)
        .map_err(|e| ConfigError::new("ISSUER", format!("not a valid URL ({e}): {raw:?}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            "ISSUER",
            format!("must be an http or https URL, got {raw:?}"),
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConfigError::new(
            "ISSUER",
            "must not have a query or fragment (OIDC Discovery §3)",
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests;
