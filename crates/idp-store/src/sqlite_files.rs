//! The embedded database's files are private to idp's user: they hold
//! password hashes and the sealed signing keys. The folder idp creates for
//! them is 0700, the database file and SQLite's companions (`-wal`, `-shm`,
//! `-journal`) 0600, whatever the umask.
//!
//! SQLite creates the companions itself, later, with the permissions of the
//! database file (`findCreateFileMode` in `os_unix.c`), so creating the
//! database file as 0600 before SQLite first opens it is what keeps them
//! private too; setting the process umask instead would reach every file
//! the process writes.

use std::path::{Path, PathBuf};

/// Creates `dir` and any missing parents, each 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Before the first connection: creates the database file as 0600 when
/// `create` and it is missing, and tightens the database file and its
/// companions to 0600 when they exist with looser modes (an install from
/// before this rule, a copied backup), with one warning naming them.
pub fn secure(path: &Path, create: bool) {
    #[cfg(unix)]
    {
        if create {
            create_private_file(path);
        }
        tighten_existing(path);
    }
    #[cfg(not(unix))]
    let _ = (path, create);
}

#[cfg(unix)]
fn create_private_file(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt as _;
    // An empty file is an empty SQLite database. A failure here (no such
    // folder, no right to write) is left for SQLite's own open to report.
    let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    if let Err(e) = created
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        tracing::debug!(path = %path.display(), error = %e, "could not create the database file");
    }
}

#[cfg(unix)]
fn tighten_existing(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut tightened = Vec::new();
    for file in files_of(path) {
        let Ok(meta) = std::fs::metadata(&file) else { continue };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            continue;
        }
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => tightened.push(format!("{} (was {mode:o})", file.display())),
            // Not ours to change (another owner): say so and go on; the
            // operator has to fix it, and refusing to start would not.
            Err(e) => tracing::error!(
                path = %file.display(),
                mode = %format!("{mode:o}"),
                error = %e,
                "the database file is readable by other users and could not be made private (0600)"
            ),
        }
    }
    if !tightened.is_empty() {
        tracing::warn!(
            files = %tightened.join(", "),
            "the database files were readable by other users; now 0600 (they hold password hashes)"
        );
    }
}

/// The database file and the files SQLite keeps beside it.
fn files_of(path: &Path) -> [PathBuf; 4] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_path_buf(), with("-wal"), with("-shm"), with("-journal")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_companions_sit_beside_the_database() {
        let [db, wal, shm, journal] = files_of(Path::new("data/idp.db"));
        assert_eq!(db, Path::new("data/idp.db"));
        assert_eq!(wal, Path::new("data/idp.db-wal"));
        assert_eq!(shm, Path::new("data/idp.db-shm"));
        assert_eq!(journal, Path::new("data/idp.db-journal"));
    }
}
