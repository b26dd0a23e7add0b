//! What every use case can fail with besides its own refusals: the server
//! is busy, or something unexpected happened. Each use case's error has one
//! `Failed(Failure)` variant for these, and the HTTP layer maps [`Failure`]
//! once per protocol (problem+json, OAuth errors, pages).

use idp_store::StoreError;

use super::hashing::HashingError;

/// What a client is told when the database refused a value it sent (a NUL
/// character, an over-long value): its 400, in every protocol.
pub const UNSTORABLE_INPUT: &str = "The request contains a value the database cannot take (a NUL character or an over-long value).";

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Password hashing is at capacity (the bounded queue is full or the
    /// wait ran out): answered with 503 and `Retry-After`.
    #[error("password hashing is at capacity")]
    Busy,
    /// The database refused or could not be reached. Kept apart from
    /// [`Failure::Unexpected`]: an outage is a 503, and a value the
    /// database cannot store is the client's 400.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or a broken dependency: logged with its cause chain, answered
    /// with a fixed body.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashingError> for Failure {
    fn from(err: HashingError) -> Self {
        match err {
            HashingError::Busy => Self::Busy,
            failed @ HashingError::Failed(_) => Self::Unexpected(failed.into()),
        }
    }
}

/// `From<StoreError>` and `From<HashingError>` for a use case's error
/// whose `Failed` variant holds a [`Failure`], so that `?` works on both.
macro_rules! failure_from {
    ($error:ty) => {
        impl From<idp_store::StoreError> for $error {
            fn from(err: idp_store::StoreError) -> Self {
                Self::Failed(err.into())
            }
        }

        impl From<$crate::service::hashing::HashingError> for $error {
            fn from(err: $crate::service::hashing::HashingError) -> Self {
                Self::Failed(err.into())
            }
        }
    };
}
pub(crate) use failure_from;
