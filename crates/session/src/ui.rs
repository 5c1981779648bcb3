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
