//! Small file-system helpers for services' data directories.

use std::io::Write;
use std::path::Path;

use crate::error::RtError;

/// Writes `bytes` to `path` atomically (temporary file + rename) with mode 0600 on Unix,
/// so that secrets are never readable by others, not even briefly.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), RtError> {
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .map_err(|e| RtError::io("create", &tmp, e))?;
    // A pre-existing temporary file keeps its old mode: force 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| RtError::io("chmod", &tmp, e))?;
    }
    f.write_all(bytes)
        .map_err(|e| RtError::io("write", &tmp, e))?;
    f.sync_all().map_err(|e| RtError::io("sync", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| RtError::io("rename", path, e))?;
    Ok(())
}

/// Creates `dir` (and parents) if needed, with mode 0700 on Unix when newly created.
pub fn ensure_dir(dir: &Path) -> Result<(), RtError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| RtError::io("create directory", dir, e))
}
