//! What the management commands share: opening the application state, the
//! CLI actor, turning failures into one line, reading a password.

use std::io::BufRead as _;
use std::sync::Arc;

use idp_core::SecretString;
use idp_core::clock::SystemClock;
use idp_server::AppState;
use idp_server::config::Settings;
use idp_server::service::admin::ManageError;

use super::Failure;

/// The server's state, without HTTP, on a migrated database.
pub async fn state(settings: Settings) -> Result<AppState, Failure> {
    idp_server::startup::open_state(settings, Arc::new(SystemClock))
        .await
        .map_err(|e| Failure::failed(e.to_string()))
}

/// One line saying what was wrong.
pub fn failure(err: ManageError) -> Failure {
    match err {
        ManageError::Invalid(violations) => Failure::usage(
            violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        ManageError::NotFound(what) => Failure::failed(format!("no such {what}")),
        ManageError::Conflict(m) | ManageError::Refused(m) => Failure::failed(m),
        other => Failure::failed(other.to_string()),
    }
}

/// The password from the first line of stdin (`--password-stdin`), or a
/// generated one, which is then returned to be shown once.
pub fn password(from_stdin: bool) -> Result<(SecretString, Option<SecretString>), Failure> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::failed(format!("cannot read stdin: {e}")))?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            return Err(Failure::usage("no password on stdin"));
        }
        Ok((SecretString::from(line), None))
    } else {
        let generated = SecretString::from(idp_core::random::token::<18>());
        Ok((generated.clone(), Some(generated)))
    }
}
