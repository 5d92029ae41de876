//! Finding the system tools a stage runs (nginx, memcached).

use std::path::{Path, PathBuf};

use crate::ClusterError;

/// Where distributions install daemons, searched after `PATH` (which often
/// lacks `/usr/sbin` for non-root users).
pub const SBIN_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/local/sbin",
    "/sbin",
    "/usr/local/nginx/sbin",
];

/// Resolves `given` (a name looked up in `PATH` and [`SBIN_DIRS`], or a
/// path) to an executable file, or says how to install `tool`.
pub fn find_program(
    tool: &'static str,
    given: &Path,
    install: &'static str,
) -> Result<PathBuf, ClusterError> {
    let not_installed = |looked: String| ClusterError::NotInstalled {
        tool,
        looked,
        install,
    };
    if given.components().count() > 1 || given.is_absolute() {
        return if is_executable(given) {
            Ok(given.to_path_buf())
        } else {
            Err(not_installed(given.display().to_string()))
        };
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(SBIN_DIRS.iter().map(PathBuf::from));
    dirs.iter()
        .map(|d| d.join(given))
        .find(|p| is_executable(p))
        .ok_or_else(|| {
            not_installed(format!(
                "{} in PATH and {}",
                given.display(),
                SBIN_DIRS.join(", ")
            ))
        })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_or_explains() {
        assert!(find_program("sh", Path::new("sh"), "-").is_ok());
        let e = find_program(
            "nginx",
            Path::new("/nonexistent/nginx"),
            "sudo apt-get install -y nginx",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("sudo apt-get install -y nginx") && !msg.contains('\n'),
            "{msg}"
        );
        assert!(find_program("x", Path::new("no-such-tool-anywhere"), "-").is_err());
    }
}
