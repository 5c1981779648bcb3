//! Private files in the data directory (the account key, the settings): a mode-0700
//! directory and mode-0600 files, written to a temporary file first and renamed into
//! place, so that a crash never leaves half a file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Writes the `parts` one after the other to `dir/name` (created mode 0600, replacing
/// an existing file atomically), creating `dir` (mode 0700) if needed. Parts, so that a
/// secret is written from its own (zeroized) buffer without being copied.
pub fn write_atomic(dir: &Path, name: &str, parts: &[&[u8]]) -> anyhow::Result<PathBuf> {
    create_private_dir(dir)?;
    let file = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = fs::remove_file(&tmp);
    {
        let mut f = private_create(&tmp)?;
        parts
            .iter()
            .try_for_each(|p| f.write_all(p))
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
    }
    fs::rename(&tmp, &file).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
    }
}

/// Creates `file` (which must not exist) with mode 0600.
fn private_create(file: &Path) -> anyhow::Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(file)
        .with_context(|| format!("creating {}", file.display()))
}
