//! Attachments on the command line: reading a file to send (`session send --file`),
//! `session save` (download, check and decrypt a received file), the progress bar both
//! show, and how attachments are described in listings.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use session_client::attachments::{Attachment, NewFile, Progress};

use super::{Env, NetArgs, find_hash, open};
use crate::ui;

/// Options of `session save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// The message with the file: its hash, or its first characters (at least 6), as
    /// `session read` shows it.
    #[arg(value_name = "MESSAGE")]
    message: String,
    #[command(flatten)]
    to: SaveTo,
    #[command(flatten)]
    net: NetArgs,
}

/// Where and which file to save (`session save`, `session community save`).
#[derive(Debug, Args)]
pub struct SaveTo {
    /// Where to save it: a file name, or an existing directory to save it in under the
    /// sender's file name (default: the current directory).
    #[arg(value_name = "PATH")]
    path: Option<PathBuf>,
    /// Which file of the message (1 = the first).
    #[arg(long, default_value_t = 1, value_name = "N")]
    index: usize,
    /// Replace the target file if it exists.
    #[arg(long)]
    force: bool,
}

impl SaveTo {
    /// The chosen attachment (0-based index and pointer) and the file to write, checked
    /// before anything is downloaded.
    pub fn pick<'a>(
        &self,
        attachments: &'a [Attachment],
    ) -> anyhow::Result<(usize, &'a Attachment, PathBuf)> {
        if self.index == 0 {
            bail!("--index counts from 1 (the first file)");
        }
        if attachments.is_empty() {
            bail!("that message has no attachment");
        }
        let Some(pointer) = attachments.get(self.index - 1) else {
            bail!(
                "that message has {} attachment(s); --index {} does not exist",
                attachments.len(),
                self.index
            );
        };
        let target = target_path(self.path.as_deref(), pointer);
        if !self.force && target.exists() {
            bail!(
                "{} exists; give another PATH, or --force to replace it",
                target.display()
            );
        }
        Ok((self.index - 1, pointer, target))
    }

    /// Writes a downloaded file (whole or not at all) and says so: a line for people,
    /// or `about` plus the path, size, name and type as JSON.
    pub fn write(
        &self,
        target: &Path,
        pointer: &Attachment,
        fetched: anyhow::Result<Vec<u8>>,
        json: bool,
        mut about: Value,
    ) -> anyhow::Result<()> {
        let data = fetched.with_context(|| {
            format!(
                "cannot save {} (nothing was written)",
                pointer.safe_file_name()
            )
        })?;
        write_whole(target, &data, self.force)?;
        if json {
            about["path"] = json!(target.display().to_string());
            about["size"] = json!(data.len());
            about["file_name"] = json!(pointer.file_name);
            about["content_type"] = json!(pointer.content_type);
            ui::print_json(&about);
        } else {
            println!(
                "Saved {} to {} ({})",
                pointer.safe_file_name(),
                target.display(),
                human_size(data.len() as u64)
            );
        }
        Ok(())
    }
}

/// A progress bar for moving a file (hidden with `--json` or when standard error is not
/// a terminal), and the callback that drives it.
pub struct TransferBar {
    bar: ProgressBar,
}

impl TransferBar {
    /// A bar on standard error; hidden (no ticker) with `--json` or off a terminal.
    pub fn new(json: bool) -> Self {
        if json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return Self {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:<12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    /// Shows a progress report.
    pub fn update(&self, p: Progress) {
        self.bar.set_message(p.stage.label());
        if p.total > 0 {
            self.bar.set_length(p.total);
            self.bar.set_position(p.done);
        } else {
            // The size is not known before the answer arrives.
            self.bar.set_length(0);
            self.bar.set_position(0);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A rough MIME type from a file name's extension (what the recipient's app uses to
/// open it); `application/octet-stream` when unknown.
pub fn content_type_for(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" => "audio/ogg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "txt" | "md" => "text/plain",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        _ => "application/octet-stream",
    }
}

/// Reads the file to send (at most `max` bytes), with errors that say what to fix.
pub fn read_file_to_send(path: &Path, max: usize) -> anyhow::Result<NewFile> {
    let meta = fs::metadata(path)
        .with_context(|| format!("cannot read {}: check the path", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", path.display());
    }
    if meta.len() > max as u64 {
        bail!(
            "{} is {} ({} bytes); attachments can be at most {} ({max} bytes)",
            path.display(),
            human_size(meta.len()),
            meta.len(),
            human_size(max as u64)
        );
    }
    let data = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty());
    Ok(NewFile {
        data,
        file_name,
        content_type: Some(content_type_for(path).to_owned()),
    })
}

/// `1.5 MB`, `320 B`, … (decimal units, as file sizes are shown to people).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1000.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// One attachment for people: `📎 report.pdf (1.2 MB, application/pdf)`.
pub fn attachment_label(a: &Attachment) -> String {
    let mut details = vec![human_size(a.size)];
    if let Some(t) = &a.content_type {
        details.push(t.clone());
    }
    format!("📎 {} ({})", a.safe_file_name(), details.join(", "))
}

/// One attachment in `--json` output (no key: the output may be logged).
pub fn attachment_json(a: &Attachment) -> Value {
    json!({
        "file_name": a.file_name,
        "size": a.size,
        "content_type": a.content_type,
        "url": a.url,
    })
}

/// Where to save: `path` (a directory gets the sender's file name inside it).
pub fn target_path(path: Option<&Path>, a: &Attachment) -> PathBuf {
    match path {
        None => PathBuf::from(a.safe_file_name()),
        Some(p) if p.is_dir() => p.join(a.safe_file_name()),
        Some(p) => p.to_path_buf(),
    }
}

/// Writes `data` to `target` through a temporary file in the same directory that is
/// renamed into place, so an interrupted save never leaves a partial file under the
/// target's name. Refuses to replace an existing file unless `force`.
pub fn write_whole(target: &Path, data: &[u8], force: bool) -> anyhow::Result<()> {
    if !force && target.exists() {
        bail!(
            "{} exists; give another PATH, or --force to replace it",
            target.display()
        );
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".into());
    let temp = dir.join(format!(".{name}.part-{}", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let mut f: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        f.write_all(data)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}", temp.display()))?;
        if !force && target.exists() {
            bail!("{} appeared meanwhile; not replaced", target.display());
        }
        fs::rename(&temp, target)
            .with_context(|| format!("cannot move the file to {}", target.display()))
    })();
    if result.is_err() {
        match fs::remove_file(&temp) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => eprintln!("warning: could not remove {}: {e}", temp.display()),
        }
    }
    result
}

/// `session save`.
pub async fn save(args: SaveArgs, env: Env<'_>) -> anyhow::Result<()> {
    let m = open(env, Some(&args.net))?;
    let hash = find_hash(m.store().as_ref(), &args.message)?;
    let Some(msg) = m.store().message_by_hash(&hash)? else {
        bail!(
            "no message {:?} on this device; `session read <id>` shows the hashes",
            args.message.trim()
        );
    };
    let (index, pointer, target) = args.to.pick(&msg.attachments)?;
    let bar = TransferBar::new(env.json);
    let fetched = m
        .fetch_attachment(&msg, index, &mut |p| bar.update(p))
        .await;
    bar.finish();
    args.to.write(
        &target,
        pointer,
        fetched.map_err(Into::into),
        env.json,
        json!({ "hash": hash }),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

    use super::*;

    #[test]
    fn sizes_and_types_read_well() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_048_576), "1.0 MB");
        assert_eq!(human_size(10_000_000), "10.0 MB");
        assert_eq!(content_type_for(Path::new("a/b.JPG")), "image/jpeg");
        assert_eq!(
            content_type_for(Path::new("noext")),
            "application/octet-stream"
        );
    }

    #[test]
    fn saving_never_leaves_a_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        write_whole(&target, b"one", false).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"one");
        // No overwrite without --force, and the old content stays.
        assert!(write_whole(&target, b"two", false).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"one");
        write_whole(&target, b"two", true).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        // A directory that does not exist: an error and nothing left behind.
        assert!(write_whole(&dir.path().join("nope/x"), b"z", false).is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.bin")]);
    }
}
