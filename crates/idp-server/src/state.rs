//! The application state every handler receives: one cheap-to-clone handle.

use std::sync::Arc;

use axum::body::Bytes;
use idp_core::clock::{Clock, UnixTime};
use idp_store::Db;

use crate::config::Settings;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::service::bearer::BearerVerifier;
use crate::service::hashing::HashingPool;
use crate::service::keys::KeyRing;
use crate::service::outbox::queue::Outbox;
use crate::service::tokens::TokenIssuer;

/// Shared, read-mostly state. Cloning copies one pointer.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub settings: Settings,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<KeyRing>,
    pub tokens: TokenIssuer,
    pub bearer: BearerVerifier,
    pub hashing: HashingPool,
    /// The discovery document, serialized once.
    pub discovery: Bytes,
    pub metrics: Metrics,
    /// Keys the CSRF tokens of the login and consent forms.
    pub csrf: idp_core::csrf::CsrfKey,
    /// Jobs that follow a change (mail), sealed and run by a sender task.
    pub outbox: Outbox,
    /// `None` while mail is off (no `SMTP_URL`).
    pub mailer: Option<Mailer>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    pub fn now(&self) -> UnixTime {
        self.0.clock.now()
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
