//! The in-memory reference backend's harness
//! ([`backend_core::testkit::MemoryBackend`]): a restart is its simulated
//! crash; rows are read back from its target by decoding the reference
//! encoder's value text.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use backend_core::model::TidbTableInfo;
use backend_core::testkit::MemoryBackend;
use backend_core::{Backend, TargetInfoGetter};
use uuid::Uuid;

use super::{BackendHarness, Capabilities, DuplicateMode, Instance, Row, table_model};

/// Harness of [`MemoryBackend`].
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryHarness;

impl MemoryHarness {
    /// The harness.
    pub fn new() -> Self {
        MemoryHarness
    }
}

#[derive(Debug)]
struct MemoryInstance {
    memory: MemoryBackend,
    backend: Arc<dyn Backend>,
    table: Arc<TidbTableInfo>,
}

/// Parses the reference encoder's value, the `Debug` text of the row's
/// datums (`[Int(1), Bytes([97]), Null]`), into column texts.
fn parse_value(text: &str) -> anyhow::Result<Row> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .with_context(|| format!("value `{text}` is not a list"))?;
    let mut out = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("Null") {
            out.push(None);
            rest = r;
        } else if let Some(r) = rest.strip_prefix("Int(") {
            let end = r.find(')').context("unterminated Int")?;
            out.push(Some(r[..end].to_string()));
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix("Bytes([") {
            let end = r.find("])").context("unterminated Bytes")?;
            let bytes = r[..end]
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::parse::<u8>)
                .collect::<Result<Vec<u8>, _>>()?;
            out.push(Some(String::from_utf8_lossy(&bytes).into_owned()));
            rest = &r[end + 2..];
        } else {
            bail!("unexpected datum at `{rest}` in `{text}`");
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(out)
}

#[async_trait]
impl Instance for MemoryInstance {
    fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn table(&self) -> &Arc<TidbTableInfo> {
        &self.table
    }

    async fn rows(&self) -> anyhow::Result<Vec<Row>> {
        let prefix = self.table.id.to_be_bytes();
        // Keys are table id ‖ row id (big endian), so key order is id order.
        self.memory
            .target_pairs()
            .into_iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| parse_value(&String::from_utf8_lossy(&v)))
            .collect()
    }

    fn target_info(&self) -> Option<Arc<dyn TargetInfoGetter>> {
        None
    }

    fn engine_stored(&self, engine: Uuid) -> Option<bool> {
        Some(self.memory.has_engine(engine))
    }

    async fn restart(self: Box<Self>) -> anyhow::Result<Box<dyn Instance>> {
        self.memory.simulate_crash();
        let backend: Arc<dyn Backend> = Arc::new(self.memory.clone());
        Ok(Box::new(MemoryInstance {
            memory: self.memory,
            backend,
            table: self.table,
        }))
    }
}

#[async_trait]
impl BackendHarness for MemoryHarness {
    fn name(&self) -> &str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        MemoryBackend::CAPABILITIES
    }

    async fn fresh(
        &self,
        test: &str,
        _mode: DuplicateMode,
    ) -> anyhow::Result<Option<Box<dyn Instance>>> {
        let mut core = table_model()?;
        core.id = 1;
        let memory = MemoryBackend::new();
        let backend: Arc<dyn Backend> = Arc::new(memory.clone());
        Ok(Some(Box::new(MemoryInstance {
            memory,
            backend,
            table: Arc::new(TidbTableInfo {
                id: 1,
                db: crate::server::db_name(test),
                name: core.name.clone(),
                core,
            }),
        })))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debug_values_parse() {
        assert_eq!(
            parse_value("[Int(-3), Bytes([97, 98]), Null]").unwrap(),
            vec![Some("-3".into()), Some("ab".into()), None]
        );
        assert!(parse_value("[Float(1)]").is_err());
    }
}
