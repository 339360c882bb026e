//! [`TargetInfoGetter`] for the local target store: the databases and
//! tables its catalog holds, and the requirements an import checks (the
//! store's format version, free space in its directory).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use backend_core::model::{DbInfo, TableInfo};
use backend_core::{CheckCtx, Error, ErrorKind, Result, TargetInfoGetter};
use rocksdb::DB;

use crate::catalog::{Catalog, FORMAT_VERSION};

/// Something holding the open target RocksDB (the target store, or an
/// `Arc<DB>` in tests).
pub trait DbHandle: Send + Sync + 'static {
    /// The database.
    fn db(&self) -> &DB;
}

impl DbHandle for Arc<DB> {
    fn db(&self) -> &DB {
        self
    }
}

impl DbHandle for Arc<crate::TargetStore> {
    fn db(&self) -> &DB {
        crate::TargetStore::db(self)
    }
}

/// [`TargetInfoGetter`] for the local target store.
pub struct LocalTargetInfo<H: DbHandle> {
    handle: H,
    dir: PathBuf,
}

impl<H: DbHandle> fmt::Debug for LocalTargetInfo<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalTargetInfo")
            .field("dir", &self.dir)
            .finish()
    }
}

impl<H: DbHandle> LocalTargetInfo<H> {
    /// The target info of the store in `dir`, opened as `handle`.
    pub fn new(handle: H, dir: impl Into<PathBuf>) -> Self {
        LocalTargetInfo {
            handle,
            dir: dir.into(),
        }
    }
}

/// Bytes available to unprivileged users on the file system holding `path`.
pub fn free_disk_space(path: &std::path::Path) -> Result<u64> {
    let st = rustix::fs::statvfs(path).map_err(|e| {
        Error::io(
            format!("checking free space of {}", path.display()),
            std::io::Error::from(e),
        )
    })?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[async_trait]
impl<H: DbHandle> TargetInfoGetter for LocalTargetInfo<H> {
    async fn fetch_remote_db_models(&self) -> Result<Vec<DbInfo>> {
        Catalog::new(self.handle.db()).databases()
    }

    async fn fetch_remote_table_models(&self, schema_name: &str) -> Result<Vec<TableInfo>> {
        Ok(Catalog::new(self.handle.db())
            .tables(Some(schema_name))?
            .into_iter()
            .map(|e| e.table)
            .collect())
    }

    /// Checks the store's format version and that the file system holding
    /// the store has at least as many free bytes as the source data.
    async fn check_requirements(&self, ctx: &CheckCtx) -> Result<()> {
        let catalog = Catalog::new(self.handle.db());
        if let Some(v) = catalog.format_version()?
            && v != FORMAT_VERSION
        {
            return Err(Error::unsupported(format!(
                "target store {} has format version {v}; this importer reads version {FORMAT_VERSION}",
                self.dir.display()
            )));
        }
        let need = ctx.total_source_size();
        let free = free_disk_space(&self.dir)?;
        if free < need {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!(
                    "target store {}: {free} bytes free, but the source data is {need} bytes",
                    self.dir.display()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use backend_core::model::ColumnType;

    use super::*;
    use crate::catalog::tests::t;
    use crate::catalog::{FIRST_TABLE_ID, KEY_FORMAT_VERSION};

    #[tokio::test]
    async fn target_info_checks_version_and_space() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(DB::open_default(dir.path()).unwrap());
        Catalog::new(&db)
            .create_table("d", &t("x", ColumnType::Int))
            .unwrap();
        let info = LocalTargetInfo::new(Arc::clone(&db), dir.path());
        assert_eq!(info.fetch_remote_db_models().await.unwrap()[0].name, "d");
        assert_eq!(
            info.fetch_remote_table_models("d").await.unwrap()[0].id,
            FIRST_TABLE_ID
        );
        info.check_requirements(&CheckCtx::default()).await.unwrap();
        db.put(KEY_FORMAT_VERSION, 7u32.to_be_bytes()).unwrap();
        let err = info
            .check_requirements(&CheckCtx::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
    }
}
