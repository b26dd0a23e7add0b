//! Sending mail through the outbox: [`enqueue`] composes a mail inside the
//! caller's transaction; the outbox's `mail` handler ([`Deliver`]) hands it
//! to SMTP, and a temporary failure is retried with backoff.

use std::future::Future;
use std::pin::Pin;

use idp_core::clock::UnixTime;
use idp_store::AnyConnection;

use super::failure::Failure;
use super::outbox::{Handler, Outcome};
use crate::mail::{Composed, Content, Mailer, SendError};
use crate::state::AppState;

/// The outbox kind of a mail.
pub const KIND: &str = "mail";

/// A mail job's payload (sealed in the outbox).
#[derive(serde::Serialize, serde::Deserialize)]
struct MailJob {
    to: String,
    mail: Composed,
}

/// Mail is off: there is no `SMTP_URL`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("mail is not configured on this server (SMTP_URL is not set)")]
pub struct MailOff;

/// The mailer, or [`MailOff`].
pub fn mailer(state: &AppState) -> Result<&Mailer, MailOff> {
    state.mailer.as_ref().ok_or(MailOff)
}

/// How the mails call this service: the issuer's host.
pub fn site(state: &AppState) -> String {
    url::Url::parse(&state.settings.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| state.settings.issuer.clone())
}

/// Composes `content` for `to` and adds it to the outbox in `tx`. Wake the
/// outbox after the commit.
pub async fn enqueue(
    state: &AppState,
    mailer: &Mailer,
    tx: &mut AnyConnection,
    to: &str,
    content: &Content<'_>,
    now: UnixTime,
) -> Result<(), Failure> {
    let mail = mailer.catalog.compose(content).map_err(|e| Failure::Unexpected(e.into()))?;
    state.outbox.enqueue(tx, KIND, &MailJob { to: to.to_owned(), mail }, now).await
}

/// The outbox handler of `mail` jobs.
#[derive(Debug)]
pub struct Deliver;

impl Handler for Deliver {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn run<'a>(
        &'a self,
        state: &'a AppState,
        payload: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async move {
            let Ok(job) = serde_json::from_slice::<MailJob>(payload) else {
                return Outcome::Fail("not a mail job".into());
            };
            let kind = job.mail.kind.as_str();
            // Mail was switched off since the job was written: keep it for
            // when it is back on.
            let Ok(mailer) = mailer(state) else {
                return Outcome::Retry("mail is off (no SMTP_URL)".into());
            };
            match mailer.transport.send(&job.to, &job.mail).await {
                Ok(()) => {
                    state.metrics.mail_sent(kind, "sent");
                    tracing::info!(kind, "mail sent");
                    Outcome::Done
                }
                Err(SendError::Transient(error)) => {
                    state.metrics.mail_sent(kind, "retry");
                    Outcome::Retry(error)
                }
                Err(SendError::Permanent(error)) => {
                    state.metrics.mail_sent(kind, "failed");
                    Outcome::Fail(error)
                }
            }
        })
    }
}
