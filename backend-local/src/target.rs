//! The embedded target store as the pipeline's [`ImportTarget`]: schemas
//! live in its catalog, checksums come from scanning its table data.

use std::sync::Arc;

use async_trait::async_trait;
use backend_core::model::{TableInfo, TidbTableInfo};
use backend_core::{Error, ImportTarget, Result, TargetChecksum};

use crate::catalog::Catalog;
use crate::store;
use crate::target_store::TargetStore;

/// The local store as an import target. It shares the [`TargetStore`] with
/// the [`LocalBackend`](crate::LocalBackend) (RocksDB allows one open handle
/// per store).
#[derive(Debug, Clone)]
pub struct LocalTarget {
    store: Arc<TargetStore>,
}

impl LocalTarget {
    /// Wraps an open store and initialises its catalog.
    ///
    /// Errors: the catalog cannot be written.
    pub fn new(store: Arc<TargetStore>) -> Result<Self> {
        Catalog::new(store.db()).init().map_err(|e| {
            e.context(format!(
                "initialising the catalog of {}",
                store.path().display()
            ))
        })?;
        Ok(LocalTarget { store })
    }

    fn catalog(&self) -> Catalog<'_> {
        Catalog::new(self.store.db())
    }

    /// Runs blocking store work (scans) off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&TargetStore) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| Error::internal(format!("a store task panicked: {e}")))?
    }
}

#[async_trait]
impl ImportTarget for LocalTarget {
    fn describe(&self) -> String {
        format!("store {}", self.store.path().display())
    }

    async fn create_database(&self, db: &str, _create_sql: Option<&str>) -> Result<()> {
        self.catalog().create_database(db)
    }

    async fn create_table(&self, db: &str, table: &TableInfo) -> Result<TidbTableInfo> {
        self.catalog().create_database(db)?;
        let created = self.catalog().create_table(db, table)?;
        Ok(TidbTableInfo::new(db, created))
    }

    async fn create_view(&self, db: &str, name: &str, create_sql: &str) -> Result<()> {
        self.catalog().create_view(db, name, create_sql)
    }

    /// The KV encoder takes a `_tidb_rowid` value as the row handle.
    fn keeps_tidb_rowid(&self) -> bool {
        true
    }

    async fn existing_table(&self, db: &str, name: &str) -> Result<Option<TidbTableInfo>> {
        Ok(self
            .catalog()
            .table(db, name)?
            .map(|entry| TidbTableInfo::new(entry.db, entry.table)))
    }

    async fn is_table_empty(&self, table: &TidbTableInfo) -> Result<bool> {
        let id = table.id;
        self.blocking(move |s| Ok(!store::has_rows(s.db(), id)?))
            .await
    }

    async fn rebase_auto_increment(&self, table: &TidbTableInfo, next: i64) -> Result<()> {
        self.catalog()
            .rebase_auto_increment(&table.db, &table.name, next.saturating_sub(1))
    }

    async fn checksum(&self, table: &TidbTableInfo) -> Result<TargetChecksum> {
        let (db, name) = (table.db.clone(), table.name.clone());
        self.blocking(move |s| {
            let found = store::scan_table(s.db(), &db, &name)?;
            Catalog::new(s.db()).set_row_count(&db, &name, found.rows)?;
            Ok(TargetChecksum::Kv(found.checksum))
        })
        .await
    }

    async fn drop_table(&self, db: &str, name: &str) -> Result<()> {
        let (db, name) = (db.to_string(), name.to_string());
        self.blocking(move |s| {
            Catalog::new(s.db()).drop_table(&db, &name)?;
            Ok(())
        })
        .await
    }

    async fn analyze(&self, _table: &TidbTableInfo) -> Result<()> {
        // The store keeps no statistics.
        Ok(())
    }
}
