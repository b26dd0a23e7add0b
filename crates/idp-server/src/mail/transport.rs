//! Handing a composed mail to the SMTP server (`SMTP_URL`), over pooled
//! connections.

use std::time::Duration;

use idp_core::ExposeSecret as _;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use super::compose::Composed;
use crate::config::{Smtp, SmtpSecurity};

/// How long one SMTP conversation may take; well inside the outbox's claim
/// on the job, so that no other node starts the same mail meanwhile.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a mail was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth another try: the server is down, busy, or said "later" (4xx).
    #[error("{0}")]
    Transient(String),
    /// Another try would fail the same way: a refused recipient or sender
    /// (5xx), an address that is not one.
    #[error("{0}")]
    Permanent(String),
}

pub struct Transport {
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("from", &self.from.email.to_string()).finish()
    }
}

impl Transport {
    pub fn new(settings: &Smtp) -> Result<Self, String> {
        let server = &settings.server;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&server.host)
            .port(server.port)
            .timeout(Some(SEND_TIMEOUT));
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|e| format!("SMTP_URL: TLS set-up: {e}"))
        };
        builder = match server.security {
            SmtpSecurity::None => builder.tls(Tls::None),
            SmtpSecurity::StartTls => builder.tls(Tls::Required(tls(&server.host)?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls(&server.host)?)),
        };
        if let (Some(user), Some(password)) = (&server.username, &server.password) {
            builder = builder
                .credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
        }
        Ok(Self { smtp: builder.build(), from: settings.from.clone() })
    }

    pub async fn send(&self, to: &str, mail: &Composed) -> Result<(), SendError> {
        let to: Mailbox =
            to.parse().map_err(|e| SendError::Permanent(format!("recipient address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
            .map_err(|e| SendError::Permanent(format!("message: {e}")))?;
        match self.smtp.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}
