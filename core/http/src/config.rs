//! Server configuration files: every service reads a TOML file (its own
//! type, unknown keys refused by it) and layers flags and environment
//! variables over it; this is the shared loader and error.

use std::path::Path;

use serde::de::DeserializeOwned;

/// Why a server's configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("invalid config file {0}: {1}")]
    Parse(String, String),
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Reads a TOML config file.
pub fn load_toml<T: DeserializeOwned>(p: &Path) -> Result<T, ConfigError> {
    let text =
        std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.display().to_string(), e))?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse(p.display().to_string(), e.to_string()))
}
