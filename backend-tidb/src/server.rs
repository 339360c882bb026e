//! What the backend knows of the server it talks to: its flavour and
//! version, read once when it connects.

use crate::error::TidbError;

/// Which server the backend talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// TiDB (its version is TiDB's, not the MySQL one it reports).
    Tidb,
    /// Oracle MySQL (and compatible servers that do not say otherwise).
    Mysql,
    /// MariaDB.
    Mariadb,
}

/// What the server said about itself when the backend connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The flavour.
    pub kind: ServerKind,
    /// `(major, minor, patch)` of the flavour's own version.
    pub version: (u32, u32, u32),
    /// `SELECT VERSION()` as returned.
    pub version_string: String,
    /// `@@max_allowed_packet` in bytes.
    pub max_allowed_packet: u64,
}

impl ServerInfo {
    /// Parses a `VERSION()` string: `10.11.6-MariaDB-0+deb12u1`,
    /// `5.5.5-10.11.6-MariaDB`, `8.0.11-TiDB-v7.5.0`, `8.0.35`.
    pub fn parse_version(text: &str) -> Result<(ServerKind, (u32, u32, u32)), TidbError> {
        let bad = || TidbError::Requirement(format!("cannot parse the server version {text:?}"));
        let (kind, numbers) = if let Some(pos) = text.find("-TiDB-") {
            let rest = &text[pos + "-TiDB-".len()..];
            (ServerKind::Tidb, rest.trim_start_matches('v'))
        } else if text.contains("MariaDB") {
            (
                ServerKind::Mariadb,
                text.strip_prefix("5.5.5-").unwrap_or(text),
            )
        } else {
            (ServerKind::Mysql, text)
        };
        let mut parts = numbers
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|p| p.parse::<u32>());
        let major = parts.next().and_then(|p| p.ok()).ok_or_else(bad)?;
        let minor = parts.next().and_then(|p| p.ok()).ok_or_else(bad)?;
        let patch = parts.next().and_then(|p| p.ok()).unwrap_or(0);
        Ok((kind, (major, minor, patch)))
    }

    /// Whether the server is TiDB.
    pub fn is_tidb(&self) -> bool {
        self.kind == ServerKind::Tidb
    }
}
