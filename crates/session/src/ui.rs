//! Output helpers shared by the commands: terminal QR codes and JSON printing.

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

/// Renders `text` as a QR code made of Unicode half blocks, with a quiet zone, ready to
/// print to a terminal (dark modules on a light background).
pub fn qr_code(text: &str) -> anyhow::Result<String> {
    let code = QrCode::new(text.as_bytes())?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// Prints one JSON value on one line.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// `text` as a TOML basic string (JSON string escapes are valid TOML escapes).
pub fn toml_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// `init` of a server's configuration: writes `starter()` to `path` unless the file
/// exists; then `overrides` (the options that would have gone into a new file, e.g.
/// `--listen`) are refused, since they would be silently ignored. Returns whether the
/// file was written.
pub fn write_starter_config(
    path: &std::path::Path,
    overrides: &[(&str, bool)],
    starter: impl FnOnce() -> String,
) -> anyhow::Result<bool> {
    use anyhow::Context as _;
    if path.exists() {
        let given: Vec<&str> = overrides
            .iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect();
        if !given.is_empty() {
            anyhow::bail!(
                "{} exists already; edit it instead of passing {} (or choose another file \
                 with --config)",
                path.display(),
                given.join("/")
            );
        }
        return Ok(false);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    std::fs::write(path, starter()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}

/// `text` quoted for a POSIX shell when it needs it (for commands printed to copy).
pub fn shell_quote(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
