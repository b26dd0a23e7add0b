//! Mail: composing messages from template files and a string catalog, and
//! handing them to SMTP. Knows nothing of users or the outbox; the use cases
//! in `service` decide what to send and when.

mod compose;
mod transport;

pub use compose::{Catalog, ComposeError, Composed, Content, MailKind};
pub use transport::{SEND_TIMEOUT, SendError, Transport};

use crate::config::Smtp;

/// Mail is on: the catalog mails are composed from and the SMTP transport.
#[derive(Debug)]
pub struct Mailer {
    pub catalog: Catalog,
    pub transport: Transport,
}

impl Mailer {
    pub fn new(smtp: &Smtp) -> Result<Self, String> {
        Ok(Self {
            catalog: Catalog::english().map_err(|e| e.to_string())?,
            transport: Transport::new(smtp)?,
        })
    }
}
