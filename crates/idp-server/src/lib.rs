//! The idp server: configuration, start-up, and the HTTP surface.

pub mod config;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod oauth;
mod serve;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Settings;
pub use startup::{Application, BuildOptions, StartupError};
pub use state::AppState;
