//! Typed TOML configuration. Every key of the file must be known to the target type:
//! the loader reports any key that deserialisation would silently ignore as an error
//! (so a typo never falls back to a default), whether or not the type itself uses
//! `#[serde(deny_unknown_fields)]`.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::RtError;

/// Parses `text` (from `origin`, used in messages) into `T`, rejecting unknown keys.
pub fn parse_toml<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, RtError> {
    let de = toml::Deserializer::parse(text).map_err(|e| RtError::Config {
        origin: origin.to_owned(),
        reason: e.to_string(),
    })?;
    let mut unknown = Vec::new();
    let value: T =
        serde_ignored::deserialize(de, |path| unknown.push(path.to_string())).map_err(|e| {
            RtError::Config {
                origin: origin.to_owned(),
                reason: e.to_string(),
            }
        })?;
    if !unknown.is_empty() {
        return Err(RtError::Config {
            origin: origin.to_owned(),
            reason: format!("unknown key(s): {}", unknown.join(", ")),
        });
    }
    Ok(value)
}

/// Reads and parses the TOML file at `path` (see [`parse_toml`]).
pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T, RtError> {
    let text = std::fs::read_to_string(path).map_err(|e| RtError::io("read", path, e))?;
    parse_toml(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(default)]
    struct Inner {
        port: u16,
    }
    impl Default for Inner {
        fn default() -> Self {
            Self { port: 7 }
        }
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(default)]
    struct Cfg {
        name: String,
        inner: Inner,
    }

    #[test]
    fn defaults_and_values() {
        let c: Cfg = parse_toml("name = \"x\"", "t").unwrap();
        assert_eq!(c.name, "x");
        assert_eq!(c.inner.port, 7);
        let c: Cfg = parse_toml("[inner]\nport = 9", "t").unwrap();
        assert_eq!(c.inner.port, 9);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = parse_toml::<Cfg>("nmae = \"x\"", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nmae"), "{e}");
        let e = parse_toml::<Cfg>("[inner]\nprot = 1", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("inner.prot"), "{e}");
    }

    #[test]
    fn type_errors_name_the_origin() {
        let e = parse_toml::<Cfg>("name = 3", "node.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("node.toml"), "{e}");
    }
}
