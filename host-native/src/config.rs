//! Configuration (a TOML file holding the engine's [`Config`]), the server key and the
//! engine's seed: the host's side of what the engine must not read by itself.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use imps_engine::server::Config;
use imps_engine::server::auth::parse_key;
use serde::{Deserialize, Serialize};

/// Name of the generated key file inside the data directory.
pub const KEY_FILE: &str = "server.key";

/// Settings of the host itself (the `[host]` table): listeners and channels. The rest of the
/// file is the engine's [`Config`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostConfig {
    /// CSP over HTTP listen address (`imps serve --listen` overrides it).
    pub listen: String,
    /// Standalone TCP CIR listen address; when set, STCP is offered (advertised as the bound
    /// address unless `[cir] stcp` says otherwise).
    pub stcp_listen: Option<String>,
    /// Offer standalone HTTP CIR at this server's `/cir/` (advertised from the bound CSP
    /// address unless `[cir] shttp_base` says otherwise).
    pub shttp: bool,
    /// Whether the admin endpoint runs.
    pub admin: bool,
    /// Admin endpoint listen address; loopback only.
    pub admin_listen: String,
    /// Directory served at `GET /` (the web demo); without it `GET /` shows a placeholder.
    pub web_root: Option<String>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            listen: "127.0.0.1:8080".into(),
            stcp_listen: None,
            shttp: false,
            admin: true,
            admin_listen: "127.0.0.1:0".into(),
            web_root: None,
        }
    }
}

/// Reads the configuration from `path` (TOML; every field optional), or the defaults.
pub fn load(path: Option<&Path>) -> Result<Config, String> {
    load_full(path).map(|(c, _)| c)
}

/// Reads the engine's and the host's configuration from `path`, or the defaults.
pub fn load_full(path: Option<&Path>) -> Result<(Config, HostConfig), String> {
    let Some(path) = path else {
        return Ok((Config::default(), HostConfig::default()));
    };
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_full(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a TOML configuration (the engine's part).
pub fn parse(text: &str) -> Result<Config, String> {
    parse_full(text).map(|(c, _)| c)
}

/// Parses a TOML configuration: the `[host]` table and the engine's settings.
pub fn parse_full(text: &str) -> Result<(Config, HostConfig), String> {
    let one_line = |e: toml::de::Error| e.to_string().trim_end().replace('\n', " ");
    let mut table: toml::Table = toml::from_str(text).map_err(one_line)?;
    let host = match table.remove("host") {
        Some(v) => v
            .try_into()
            .map_err(|e| format!("[host]: {}", one_line(e)))?,
        None => HostConfig::default(),
    };
    let config = toml::Value::Table(table).try_into().map_err(one_line)?;
    Ok((config, host))
}

/// Where the server key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `server_key` in the configuration.
    Configured,
    /// `DIR/server.key`, written at an earlier start.
    File,
    /// Generated now and written to `DIR/server.key`.
    Generated,
}

/// Makes sure `config.server_key` holds a valid key: the configured one, else the one in
/// `data_dir/server.key`, else 32 fresh random bytes written there hex-encoded (mode 0600).
pub fn ensure_server_key(config: &mut Config, data_dir: &Path) -> Result<KeySource, String> {
    if let Some(k) = &config.server_key {
        if parse_key(k).is_none() {
            return Err(
                "server_key in the configuration must be 64 hexadecimal digits (32 bytes)".into(),
            );
        }
        return Ok(KeySource::Configured);
    }
    let path = data_dir.join(KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let key = text.trim();
            if parse_key(key).is_none() {
                return Err(format!(
                    "{}: not a key of 64 hexadecimal digits",
                    path.display()
                ));
            }
            let mode = fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{} is readable by others (mode {mode:o}); chmod 600 it",
                    path.display()
                );
            }
            config.server_key = Some(key.to_owned());
            Ok(KeySource::File)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes)
                .map_err(|e| format!("no OS randomness for the server key: {e}"))?;
            let hex = to_hex(&bytes);
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            f.write_all(format!("{hex}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            config.server_key = Some(hex);
            Ok(KeySource::Generated)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// 32 bytes of OS entropy for the engine's generator.
pub fn os_seed() -> Result<[u8; 32], String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no OS randomness: {e}"))?;
    Ok(seed)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const EXAMPLE: &str = include_str!("../../imps.example.toml");

    #[test]
    fn example_config_is_exactly_the_defaults() {
        assert_eq!(
            parse_full(EXAMPLE).unwrap(),
            (Config::default(), HostConfig::default())
        );
    }

    #[test]
    fn example_config_documents_every_host_field() {
        let example: toml::Table = toml::from_str(EXAMPLE).unwrap();
        let host = example.get("host").and_then(|h| h.as_table()).unwrap();
        let defaults = toml::Table::try_from(HostConfig::default()).unwrap();
        for k in defaults.keys() {
            assert!(host.contains_key(k), "imps.example.toml lacks host.{k}");
        }
        assert!(EXAMPLE.contains("# stcp_listen = "));
        assert!(parse_full("[host]\nlisten = 3").is_err());
        assert!(parse_full("[host]\nlsten = \"x\"").is_err());
        let (_, h) = parse_full("[host]\nstcp_listen = \"127.0.0.1:0\"\nshttp = true").unwrap();
        assert_eq!(h.stcp_listen.as_deref(), Some("127.0.0.1:0"));
        assert!(h.shttp);
    }

    /// Every field of the engine's configuration is documented in the example: as a setting,
    /// or (for fields that are absent by default) as a commented-out `# key = ...` line.
    #[test]
    fn example_config_documents_every_field() {
        let example: toml::Table = toml::from_str(EXAMPLE).unwrap();
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        fn walk(
            path: &str,
            defaults: &toml::Table,
            example: &toml::Table,
            missing: &mut Vec<String>,
        ) {
            for (k, v) in defaults {
                let name = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (v, example.get(k)) {
                    (toml::Value::Table(d), Some(toml::Value::Table(e))) => {
                        walk(&name, d, e, missing)
                    }
                    (_, Some(_)) => {}
                    (_, None) => missing.push(name),
                }
            }
        }
        let mut missing = Vec::new();
        walk("", &defaults, &example, &mut missing);
        assert!(missing.is_empty(), "imps.example.toml lacks {missing:?}");
        // Optional fields (None by default) serialize to nothing; they must be shown commented out.
        for key in ["server_key", "url", "stcp", "shttp_base"] {
            assert!(
                EXAMPLE.contains(&format!("# {key} = ")),
                "imps.example.toml lacks a commented-out {key}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(parse("domian = \"x\"").is_err());
        assert!(
            parse("[login]\nopen_registration = true")
                .unwrap()
                .login
                .open_registration
        );
    }

    #[test]
    fn server_key_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        assert_eq!(
            ensure_server_key(&mut c, dir.path()).unwrap(),
            KeySource::Generated
        );
        let key = c.server_key.clone().unwrap();
        assert!(parse_key(&key).is_some());
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let mut again = Config::default();
        assert_eq!(
            ensure_server_key(&mut again, dir.path()).unwrap(),
            KeySource::File
        );
        assert_eq!(again.server_key, Some(key));
        let mut configured = Config {
            server_key: Some("00".repeat(32)),
            ..Config::default()
        };
        assert_eq!(
            ensure_server_key(&mut configured, dir.path()).unwrap(),
            KeySource::Configured
        );
        let mut bad = Config {
            server_key: Some("xyz".into()),
            ..Config::default()
        };
        assert!(ensure_server_key(&mut bad, dir.path()).is_err());
    }
}
