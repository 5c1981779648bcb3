//! zstd as Session uses it: configs may be stored as `'z' || zstd(data)` and group messages
//! carry zstd data under `z`. Decompression is bounded so that a small hostile input cannot
//! expand without limit.

use std::io::Read;

use crate::error::{CryptoError, Result};

/// Compresses `data` into one zstd frame (roughly zstd level 1).
pub(crate) fn compress(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// Decompresses every zstd frame in `data`; fails (without reading further) once the output
/// would exceed `max_len` bytes, and on any malformed input.
pub(crate) fn decompress(data: &[u8], max_len: usize, what: &'static str) -> Result<Vec<u8>> {
    let malformed = |reason: String| CryptoError::Malformed { what, reason };
    let mut out = Vec::new();
    let mut input = data;
    if input.is_empty() {
        return Err(malformed("empty zstd data".into()));
    }
    while !input.is_empty() {
        let decoder = ruzstd::decoding::StreamingDecoder::new(&mut input)
            .map_err(|e| malformed(format!("zstd frame: {e}")))?;
        let room = (max_len - out.len()) as u64;
        let read = decoder
            .take(room.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| malformed(format!("zstd data: {e}")))?;
        if out.len() > max_len || (read as u64) > room {
            return Err(malformed(format!(
                "decompresses to more than {max_len} bytes"
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let data = b"hello hello hello hello hello hello hello hello".repeat(20);
        let z = compress(&data);
        assert!(z.len() < data.len());
        assert_eq!(decompress(&z, data.len(), "t").unwrap(), data);
        assert!(decompress(&z, data.len() - 1, "t").is_err());
        // Two concatenated frames decode to both payloads.
        let mut two = z.clone();
        two.extend_from_slice(&compress(b"tail"));
        let mut expected = data.clone();
        expected.extend_from_slice(b"tail");
        assert_eq!(decompress(&two, 10_000, "t").unwrap(), expected);
        assert!(decompress(b"", 10, "t").is_err());
        assert!(decompress(b"not zstd at all", 100, "t").is_err());
        let mut truncated = z.clone();
        truncated.truncate(z.len() / 2);
        assert!(decompress(&truncated, 10_000, "t").is_err());
    }
}
