//! The private run directory of a stage: nginx's configuration, pid file and
//! temporary files live there and nowhere else.

use std::path::{Path, PathBuf};

use crate::ClusterError;

/// A run directory: a fresh temporary one (removed when dropped) or one the
/// user named (kept, for inspecting the generated configuration).
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl RunDir {
    /// Uses `explicit` (created if missing) or creates a temporary directory
    /// named after `prefix`.
    pub fn new(explicit: Option<&Path>, prefix: &str) -> Result<Self, ClusterError> {
        let (path, temp) = match explicit {
            // nginx.conf names this path; a `$` would be read as a variable
            // and a control character has no place in it.
            Some(p)
                if p.to_string_lossy()
                    .chars()
                    .any(|c| c == '$' || c.is_control()) =>
            {
                return Err(ClusterError::RunDir {
                    path: p.into(),
                    err: std::io::Error::other(
                        "a run directory's path may not hold `$` or control characters",
                    ),
                });
            }
            Some(p) => {
                std::fs::create_dir_all(p).map_err(|err| ClusterError::RunDir {
                    path: p.into(),
                    err,
                })?;
                let p = std::fs::canonicalize(p).map_err(|err| ClusterError::RunDir {
                    path: p.into(),
                    err,
                })?;
                (p, None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix(prefix)
                    .tempdir()
                    .map_err(|err| ClusterError::RunDir {
                        path: std::env::temp_dir(),
                        err,
                    })?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        // World-readable and traversable (not writable): when the stage runs
        // as root, nginx's workers run as an unprivileged user and must reach
        // the temporary directories nginx creates (and chowns) in here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(|err| {
            ClusterError::RunDir {
                path: path.clone(),
                err,
            }
        })?;
        Ok(RunDir { path, _temp: temp })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` inside the directory.
    pub fn write(&self, name: &str, contents: &str) -> Result<PathBuf, ClusterError> {
        let p = self.path.join(name);
        std::fs::write(&p, contents).map_err(|err| ClusterError::RunDir {
            path: p.clone(),
            err,
        })?;
        Ok(p)
    }
}
