//! The application state every handler receives: one cheap-to-clone handle.

use std::sync::Arc;

use idp_core::clock::{Clock, UnixTime};
use idp_store::Db;

use crate::config::Settings;

/// Shared, read-mostly state. Cloning copies one pointer.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub settings: Settings,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn new(settings: Settings, db: Db, clock: Arc<dyn Clock>) -> Self {
        Self(Arc::new(Inner { settings, db, clock }))
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
