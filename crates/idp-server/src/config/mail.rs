//! Mail settings: where mail goes (`SMTP_URL`), who it is from, and the
//! rules of the links it carries.

use std::time::Duration;

use idp_core::SecretString;
use lettre::message::Mailbox;

use super::{ConfigError, Source};

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP, for a relay on the same host or network.
    None,
    /// STARTTLS, required: no credentials or mail before TLS is up.
    StartTls,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Tls,
}

/// The SMTP server mail is handed to.
#[derive(Clone, Debug)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

/// Mail is on: the server and the sender.
#[derive(Clone, Debug)]
pub struct Smtp {
    pub server: SmtpServer,
    pub from: Mailbox,
}

#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `None`: mail is off (no `SMTP_URL`); its endpoints answer 503.
    pub smtp: Option<Smtp>,
    /// Refuse a correct password of a user whose address is not verified.
    pub require_verified_email: bool,
    pub password_reset_ttl: Duration,
    pub email_verification_ttl: Duration,
    /// Links sent to one address per hour; further requests are answered
    /// as usual but send nothing.
    pub per_address_per_hour: u32,
}

impl MailSettings {
    pub fn from_source(source: &Source, issuer: &str) -> Result<Self, ConfigError> {
        let smtp = match source.secret("SMTP_URL").filter(|url| !url.trim().is_empty()) {
            None => None,
            Some(url) => Some(Smtp { server: smtp_server(url)?, from: from(source, issuer)? }),
        };
        let require_verified_email = source.flag("REQUIRE_VERIFIED_EMAIL", false)?;
        if require_verified_email && smtp.is_none() {
            return Err(ConfigError::new(
                "REQUIRE_VERIFIED_EMAIL",
                "needs SMTP_URL: without mail, nobody could verify an address",
            ));
        }
        Ok(Self {
            smtp,
            require_verified_email,
            password_reset_ttl: Duration::from_secs(
                60 * source.number("PASSWORD_RESET_TTL_MINUTES", 30, 5..=1_440)?,
            ),
            email_verification_ttl: Duration::from_secs(
                3_600 * source.number("EMAIL_VERIFICATION_TTL_HOURS", 48, 1..=720)?,
            ),
            per_address_per_hour: u32::try_from(source.number(
                "MAIL_PER_ADDRESS_PER_HOUR",
                5,
                1..=1_000,
            )?)
            .unwrap_or(5),
        })
    }

    pub fn is_on(&self) -> bool {
        self.smtp.is_some()
    }
}

/// `smtp://host:port` (plain), `smtp://user:pass@host:587` (STARTTLS,
/// required whenever there are credentials), `smtps://user:pass@host:465`
/// (TLS). `?tls=required` asks for STARTTLS without credentials too. The
/// URL holds a password: errors name the problem, never the value.
fn smtp_server(raw: &str) -> Result<SmtpServer, ConfigError> {
    let bad = |problem: &str| ConfigError::new("SMTP_URL", problem);
    let url = url::Url::parse(raw.trim())
        .map_err(|_| bad("not a valid URL: expected smtp://host:port or smtps://user:pass@host"))?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("has no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad("the user name or password is not valid UTF-8"))
    };
    let username = match url.username() {
        "" => None,
        name => Some(decode(name)?),
    };
    let password = url.password().map(decode).transpose()?.map(SecretString::from);
    let tls_param = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
    let security = match (url.scheme(), tls_param.as_deref()) {
        ("smtps", None | Some("wrapper")) => SmtpSecurity::Tls,
        ("smtp", Some("required")) => SmtpSecurity::StartTls,
        ("smtp", None) if username.is_some() => SmtpSecurity::StartTls,
        ("smtp", None) => SmtpSecurity::None,
        ("smtp" | "smtps", Some(_)) => {
            return Err(bad("the tls parameter takes `required` (smtp://) only"));
        }
        _ => return Err(bad("the scheme must be smtp:// or smtps://")),
    };
    if username.is_some() != password.is_some() {
        return Err(bad("give both a user name and a password, or neither"));
    }
    let default_port = match security {
        SmtpSecurity::None => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    };
    Ok(SmtpServer { host, port: url.port().unwrap_or(default_port), security, username, password })
}

/// `MAIL_FROM`, or `idp@` the issuer's host.
fn from(source: &Source, issuer: &str) -> Result<Mailbox, ConfigError> {
    if let Some(raw) = source.string("MAIL_FROM") {
        return raw.parse::<Mailbox>().map_err(|e| {
            ConfigError::new(
                "MAIL_FROM",
                format!(
                    "not a mail address ({e}): {raw:?}; e.g. MAIL_FROM=\"idp <idp@example.com>\""
                ),
            )
        });
    }
    // An IP address is taken as it is (the mailbox parser does not read
    // domain literals); a sender at an IP is for local testing only.
    let host = url::Url::parse(issuer)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned());
    lettre::Address::new("idp", &host).map(|address| Mailbox::new(None, address)).map_err(|e| {
        ConfigError::new(
            "MAIL_FROM",
            format!("the issuer's host makes no sender address ({e}); set MAIL_FROM"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: &str) -> Result<SmtpServer, ConfigError> {
        smtp_server(url)
    }

    #[test]
    fn the_three_kinds_of_smtp_url() {
        let plain = server("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.security),
            ("127.0.0.1", 2525, SmtpSecurity::None)
        );
        assert!(plain.username.is_none());

        let starttls = server("smtp://me%40example.com:p%40ss@mail.example.com").unwrap();
        assert_eq!((starttls.port, starttls.security), (587, SmtpSecurity::StartTls));
        assert_eq!(starttls.username.as_deref(), Some("me@example.com"));
        use idp_core::ExposeSecret as _;
        assert_eq!(starttls.password.unwrap().expose_secret(), "p@ss");

        let tls = server("smtps://u:p@mail.example.com").unwrap();
        assert_eq!((tls.port, tls.security), (465, SmtpSecurity::Tls));

        let required = server("smtp://relay.internal?tls=required").unwrap();
        assert_eq!(required.security, SmtpSecurity::StartTls);
    }

    #[test]
    fn bad_smtp_urls_are_named_without_their_password() {
        for url in
            ["http://u:hunter2@x", "smtp://u:hunter2@x?tls=none", "smtp://u@x", "not a url hunter2"]
        {
            let err = server(url).unwrap_err();
            assert_eq!(err.setting, "SMTP_URL");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn the_sender_defaults_to_the_issuers_host() {
        let source = Source::from_pairs([]);
        assert_eq!(
            from(&source, "https://id.example.com").unwrap().email.to_string(),
            "idp@id.example.com"
        );
        assert!(from(&source, "http://127.0.0.1:8000").is_ok());
        let named = Source::from_pairs([("MAIL_FROM", "Example ID <id@example.com>")]);
        let mailbox = from(&named, "https://x").unwrap();
        assert_eq!(mailbox.name.as_deref(), Some("Example ID"));
        assert!(from(&Source::from_pairs([("MAIL_FROM", "a\r\nBcc: x@y")]), "https://x").is_err());
    }

    #[test]
    fn requiring_verified_addresses_needs_mail() {
        let err = MailSettings::from_source(
            &Source::from_pairs([("REQUIRE_VERIFIED_EMAIL", "true")]),
            "https://x",
        )
        .unwrap_err();
        assert_eq!(err.setting, "REQUIRE_VERIFIED_EMAIL");
        let off = MailSettings::from_source(&Source::from_pairs([]), "https://x").unwrap();
        assert!(!off.is_on());
    }
}
