//! The community server's configuration file (`sogs.toml`). Not built yet.
