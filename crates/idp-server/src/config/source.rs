//! Where setting values come from, merged by precedence.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::Path;
use std::str::FromStr;

use super::ConfigError;

/// Names the settings that are secrets: their values are never repeated in
/// an error message.
const SECRET_SETTINGS: &[&str] = &[
    "SECRET_KEY",
    "SECRET_KEY_PREVIOUS",
    "DATABASE_URL",
    "SQLALCHEMY_URL",
    "ADMIN_PASSWORD",
    "SMTP_URL",
];

/// Every setting idp reads. The TOML file is checked against this list so
/// that a typo is an error rather than a silently ignored line.
pub const KNOWN_SETTINGS: &[&str] = &[
    "DATABASE_URL",
    "SQLALCHEMY_URL",
    "DATABASE_MAX_CONNECTIONS",
    "DATABASE_ACQUIRE_TIMEOUT_MS",
    "SECRET_KEY",
    "SECRET_KEY_PREVIOUS",
    "ALGORITHM",
    "ACCESS_TOKEN_EXPIRE_MINUTES",
    "REFRESH_TOKEN_EXPIRE_DAYS",
    "SESSION_MAX_LIFETIME_DAYS",
    "REFRESH_REUSE_GRACE_SECONDS",
    "PRIVATE_KEY_PATH",
    "PUBLIC_KEY_PATH",
    "ISSUER",
    "DEFAULT_AUDIENCE",
    "BIND",
    "METRICS_BIND",
    "LOG_FORMAT",
    "RUST_LOG",
    "REQUEST_TIMEOUT_SECONDS",
    "HEADER_READ_TIMEOUT_SECONDS",
    "IDLE_TIMEOUT_SECONDS",
    "MAX_CONNECTIONS",
    "SHUTDOWN_TIMEOUT_SECONDS",
    "JWT_LEEWAY_SECONDS",
    "ARGON2_MEMORY_KIB",
    "ARGON2_ITERATIONS",
    "ARGON2_PARALLELISM",
    "HASH_CONCURRENCY",
    "HASH_QUEUE_TIMEOUT_MS",
    "HASH_QUEUE_MAX",
    "ALLOW_PASSWORD_GRANT_WITHOUT_CLIENT",
    "ALLOWED_RESOURCES",
    "LOGIN_MAX_FAILURES",
    "LOCKOUT_SECONDS",
    "LOCKOUT_MAX_SECONDS",
    "RATE_LIMIT_PER_MINUTE",
    "TRUSTED_PROXIES",
    "CLEANUP_INTERVAL_SECONDS",
    "KEYS_REFRESH_SECONDS",
    "SESSION_RETENTION_DAYS",
    "AUDIT_RETENTION_DAYS",
    "ADMIN_USERNAME",
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "REQUIRE_PKCE_FOR_CONFIDENTIAL_CLIENTS",
    "SMTP_URL",
    "MAIL_FROM",
    "REQUIRE_VERIFIED_EMAIL",
    "PASSWORD_RESET_TTL_MINUTES",
    "EMAIL_VERIFICATION_TTL_HOURS",
    "MAIL_PER_ADDRESS_PER_HOUR",
];

/// Raw setting values by upper-case name, already merged by precedence.
#[derive(Clone, Debug, Default)]
pub struct Source {
    values: HashMap<String, String>,
}

impl Source {
    /// Defaults < TOML file < `.env` < process environment.
    pub fn gather(config_file: Option<&Path>, dotenv: &Path) -> Result<Self, ConfigError> {
        let mut source = Self::default();
        if let Some(path) = config_file {
            source.merge_toml_file(path)?;
        }
        if dotenv.exists() {
            source.merge_dotenv(dotenv)?;
        }
        for (name, value) in std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        {
            if KNOWN_SETTINGS.contains(&name.as_str()) {
                source.values.insert(name, value);
            }
        }
        Ok(source)
    }

    /// A source holding exactly these pairs (tests, tools).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_uppercase(), v.to_owned()))
                .collect(),
        }
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_ascii_uppercase(), value.into());
    }

    fn merge_toml_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(&file, format!("cannot read the config file ({e})")))?;
        self.merge_toml(&file, &text)
    }

    fn merge_toml(&mut self, file: &str, text: &str) -> Result<(), ConfigError> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| ConfigError::new(file, format!("not valid TOML: {}", e.message())))?;
        for (key, value) in table {
            let name = key.to_ascii_uppercase();
            if !KNOWN_SETTINGS.contains(&name.as_str()) {
                return Err(ConfigError::new(file, format!("unknown setting `{key}`")));
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => items
                    .into_iter()
                    .map(|v| match v {
                        toml::Value::String(s) => Ok(s),
                        _ => Err(ConfigError::new(&name, "list items must be strings")),
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                _ => {
                    return Err(ConfigError::new(
                        &name,
                        "expected a string, number, boolean or list",
                    ));
                }
            };
            self.values.insert(name, text);
        }
        Ok(())
    }

    fn merge_dotenv(&mut self, path: &Path) -> Result<(), ConfigError> {
        let iter = dotenvy::from_path_iter(path)
            .map_err(|e| ConfigError::new(".env", format!("cannot read ({e})")))?;
        for item in iter {
            let (name, value) = item.map_err(|e| ConfigError::new(".env", dotenv_problem(&e)))?;
            self.values.insert(name.to_ascii_uppercase(), value);
        }
        Ok(())
    }

    /// A non-empty value, trimmed.
    pub fn string(&self, name: &str) -> Option<String> {
        self.values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// A secret value, untrimmed (spaces may be part of it).
    pub fn secret(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn parsed<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.string(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e| ConfigError::new(name, describe(name, &raw, &e))),
        }
    }

    /// A setting with no default: `None` when unset.
    pub fn optional<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.string(name)
            .map(|raw| raw.parse().map_err(|e| ConfigError::new(name, describe(name, &raw, &e))))
            .transpose()
    }

    pub fn number(
        &self,
        name: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let Some(raw) = self.string(name) else { return Ok(default) };
        match raw.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError::new(
                name,
                format!(
                    "expected a whole number from {} to {}, got {raw:?}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.string(name).map(|s| s.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => {
                Err(ConfigError::new(name, format!("expected true or false, got {other:?}")))
            }
        }
    }
}

fn describe(name: &str, raw: &str, err: &dyn std::fmt::Display) -> String {
    if SECRET_SETTINGS.contains(&name) { err.to_string() } else { format!("{err}, got {raw:?}") }
}

/// dotenvy's line errors quote the offending line, which may be a secret.
fn dotenv_problem(err: &dotenvy::Error) -> String {
    match err {
        dotenvy::Error::LineParse(_, index) => format!("cannot parse the line at byte {index}"),
        dotenvy::Error::Io(e) => format!("cannot read ({e})"),
        _ => "cannot parse".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_keys_may_be_lower_case_and_lists_become_comma_separated() {
        let mut s = Source::default();
        s.merge_toml(
            "idp.toml",
            "access_token_expire_minutes = 15\nissuer = \"https://id.example.com\"\n",
        )
        .unwrap();
        assert_eq!(s.string("ACCESS_TOKEN_EXPIRE_MINUTES").as_deref(), Some("15"));
        assert_eq!(s.string("ISSUER").as_deref(), Some("https://id.example.com"));
    }

    #[test]
    fn a_typo_in_the_toml_file_is_an_error_naming_it() {
        let mut s = Source::default();
        let err = s.merge_toml("idp.toml", "acess_token_expire_minutes = 15").unwrap_err();
        assert_eq!(err.to_string(), "idp.toml: unknown setting `acess_token_expire_minutes`");
    }

    #[test]
    fn numbers_outside_their_range_are_refused_with_the_range() {
        let s = Source::from_pairs([("ACCESS_TOKEN_EXPIRE_MINUTES", "0")]);
        let err = s.number("ACCESS_TOKEN_EXPIRE_MINUTES", 30, 1..=1440).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ACCESS_TOKEN_EXPIRE_MINUTES: expected a whole number from 1 to 1440, got \"0\""
        );
    }

    #[test]
    fn secret_values_are_not_repeated_in_errors() {
        let s = Source::from_pairs([("SECRET_KEY", "hunter2")]);
        let err = s.parsed::<u8>("SECRET_KEY", 0).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn dotenv_files_are_read_without_touching_the_process_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "ALGORITHM=ES256\n# comment\nISSUER=\"https://x.example\"\n")
            .unwrap();
        let mut s = Source::default();
        s.merge_dotenv(&path).unwrap();
        assert_eq!(s.string("ALGORITHM").as_deref(), Some("ES256"));
        assert_eq!(s.string("ISSUER").as_deref(), Some("https://x.example"));
    }
}
