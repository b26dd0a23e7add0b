//! `SECRET_KEY`: given, or generated once for the embedded database.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use idp_core::SecretString;

use super::ConfigError;

/// The shortest `SECRET_KEY` accepted. Everything idp encrypts or MACs is
/// keyed from it, so it must carry at least 128 bits even if typed by hand.
pub const MIN_SECRET_KEY_LEN: usize = 32;

const FILE_NAME: &str = "secret_key";

pub fn validate(key: &str) -> Result<SecretString, ConfigError> {
    if key.chars().count() < MIN_SECRET_KEY_LEN {
        return Err(ConfigError::new(
            "SECRET_KEY",
            format!(
                "must be at least {MIN_SECRET_KEY_LEN} characters (e.g. `openssl rand -hex 32`)"
            ),
        ));
    }
    Ok(SecretString::from(key.to_owned()))
}

/// `SECRET_KEY_PREVIOUS`: as long as `SECRET_KEY`, and another value (the
/// same one twice is a rotation that was not meant).
pub fn validate_previous(
    key: &str,
    current: Option<&SecretString>,
) -> Result<SecretString, ConfigError> {
    use idp_core::ExposeSecret as _;
    let setting = "SECRET_KEY_PREVIOUS";
    if key.chars().count() < MIN_SECRET_KEY_LEN {
        return Err(ConfigError::new(
            setting,
            format!("must be at least {MIN_SECRET_KEY_LEN} characters, as SECRET_KEY was"),
        ));
    }
    match current {
        None => Err(ConfigError::new(setting, "set only together with SECRET_KEY, the new key")),
        Some(current) if current.expose_secret() == key => {
            Err(ConfigError::new(setting, "is the same as SECRET_KEY; set it to the old key"))
        }
        Some(_) => Ok(SecretString::from(key.to_owned())),
    }
}

/// The key kept next to the SQLite file: read it, or create it (mode 0600)
/// on first start so that `idp serve` works with no set-up at all.
pub fn load_or_create_beside(database_url: &str) -> Result<SecretString, ConfigError> {
    let dir = idp_store::sqlite_path(database_url)
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    load_or_create(&dir.join(FILE_NAME))
}

fn load_or_create(path: &Path) -> Result<SecretString, ConfigError> {
    let setting = "SECRET_KEY";
    match std::fs::read_to_string(path) {
        Ok(text) => return validate(text.trim()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ConfigError::new(setting, format!("cannot read {} ({e})", path.display())));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The database's folder, which it shares: private (see idp_store).
        idp_store::create_private_dir(dir).map_err(|e| {
            ConfigError::new(setting, format!("cannot create {} ({e})", dir.display()))
        })?;
    }
    let key = hex::encode(idp_core::random::bytes::<32>());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(key.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| {
                ConfigError::new(setting, format!("cannot write {} ({e})", path.display()))
            })?;
            Ok(SecretString::from(key))
        }
        // Another process created it between our read and our create.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(e) => Err(ConfigError::new(setting, format!("cannot create {} ({e})", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idp_core::ExposeSecret as _;

    #[test]
    fn a_generated_key_is_kept_private_and_reused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("srv/data");
        let url = format!("sqlite://{}/idp.db", dir.display());
        let first = load_or_create_beside(&url).unwrap();
        let second = load_or_create_beside(&url).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(first.expose_secret().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.join(FILE_NAME)), 0o600);
            // The folders it created (shared with the database) too.
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&root.path().join("srv")), 0o700);
        }
    }

    #[test]
    fn short_keys_are_refused_without_echoing_them() {
        let err = validate("your_secret_key").unwrap_err();
        assert!(err.to_string().starts_with("SECRET_KEY: must be at least 32 characters"));
        assert!(!err.to_string().contains("your_secret_key"));
    }
}
