//! The embedded target store as an [`ImportTarget`]: schemas live in its
//! catalog, checksums come from scanning its table data.

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use backend_core::model::{TableInfo, TidbTableInfo};
use backend_local::TargetStore;
use backend_local::catalog::Catalog;
use backend_local::store;

use super::{ImportTarget, TargetChecksum};

/// The local store, shared with the local backend (RocksDB allows one open
/// handle per store).
#[derive(Debug, Clone)]
pub struct LocalTarget {
    store: Arc<TargetStore>,
}

impl LocalTarget {
    /// Wraps the backend's open store and initialises its catalog.
    pub fn new(store: Arc<TargetStore>) -> anyhow::Result<Self> {
        Catalog::new(store.db())
            .init()
            .with_context(|| format!("initialising the catalog of {}", store.path().display()))?;
        Ok(LocalTarget { store })
    }

    fn catalog(&self) -> Catalog<'_> {
        Catalog::new(self.store.db())
    }

    /// Runs blocking store work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&TargetStore) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .context("a store task panicked")?
    }
}

#[async_trait]
impl ImportTarget for LocalTarget {
    fn describe(&self) -> String {
        format!("store {}", self.store.path().display())
    }

    async fn create_database(&self, db: &str, _create_sql: Option<&str>) -> anyhow::Result<()> {
        Ok(self.catalog().create_database(db)?)
    }

    async fn create_table(&self, db: &str, table: &TableInfo) -> anyhow::Result<TidbTableInfo> {
        self.catalog().create_database(db)?;
        let created = self.catalog().create_table(db, table)?;
        Ok(TidbTableInfo {
            id: created.id,
            db: db.to_string(),
            name: created.name.clone(),
            core: created,
        })
    }

    async fn existing_table(&self, db: &str, name: &str) -> anyhow::Result<Option<TidbTableInfo>> {
        Ok(self.catalog().table(db, name)?.map(|entry| TidbTableInfo {
            id: entry.table.id,
            db: entry.db,
            name: entry.table.name.clone(),
            core: entry.table,
        }))
    }

    async fn is_table_empty(&self, table: &TidbTableInfo) -> anyhow::Result<bool> {
        let id = table.id;
        self.blocking(move |s| Ok(!store::has_rows(s.db(), id)?))
            .await
    }

    async fn rebase_auto_increment(&self, table: &TidbTableInfo, next: i64) -> anyhow::Result<()> {
        Ok(self
            .catalog()
            .rebase_auto_increment(&table.db, &table.name, next.saturating_sub(1))?)
    }

    async fn checksum(&self, table: &TidbTableInfo) -> anyhow::Result<TargetChecksum> {
        let (db, name) = (table.db.clone(), table.name.clone());
        self.blocking(move |s| {
            let found = store::scan_table(s.db(), &db, &name)?;
            Catalog::new(s.db()).set_row_count(&db, &name, found.rows)?;
            Ok(TargetChecksum::Kv(found.checksum))
        })
        .await
    }

    async fn drop_table(&self, db: &str, name: &str) -> anyhow::Result<()> {
        let (db, name) = (db.to_string(), name.to_string());
        self.blocking(move |s| {
            Catalog::new(s.db()).drop_table(&db, &name)?;
            Ok(())
        })
        .await
    }

    async fn analyze(&self, _table: &TidbTableInfo) -> anyhow::Result<()> {
        // The store keeps no statistics.
        Ok(())
    }
}
