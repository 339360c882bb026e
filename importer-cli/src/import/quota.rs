//! `disk-quota` for the local backend: when the engines under
//! `sorted-kv-dir` grow past the quota, writers pause, every engine is
//! flushed, and the largest engines are imported early and emptied until
//! the rest fits (Lightning's disk-quota loop).
//!
//! Writers hold the context's write gate for reading while they append and
//! while an engine imports; the check takes it for writing, so nothing
//! writes into or imports an engine it is importing and resetting.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::import::ImportContext;

/// When and how much.
#[derive(Debug, Clone)]
pub struct DiskQuota {
    /// The budget in bytes for engines (on disk and buffered); 0 means
    /// "keep [`DiskQuota::reserve`] of the disk free".
    pub bytes: u64,
    /// How often to check (`[cron] check-disk-quota`).
    pub interval: Duration,
    /// `sorted-kv-dir`, whose disk's free space sets the budget when
    /// `bytes` is 0.
    pub dir: PathBuf,
}

impl DiskQuota {
    /// Free space kept on the disk when no quota is set: 5% of what is
    /// free plus used by engines, at most 10 GiB.
    fn reserve(room: u64) -> u64 {
        (room / 20).min(10 << 30)
    }

    /// The budget for engines that use `used` bytes now.
    fn limit(&self, used: u64) -> anyhow::Result<u64> {
        if self.bytes > 0 {
            return Ok(self.bytes);
        }
        let free = backend_local::free_disk_space(&self.dir)
            .with_context(|| format!("reading the free space of {}", self.dir.display()))?;
        let room = used.saturating_add(free);
        Ok(room.saturating_sub(Self::reserve(room)))
    }
}

/// Checks the quota every interval until the task is aborted. A failed
/// check is logged and retried at the next interval; a failed early import
/// leaves the engine to its table, which imports it when it closes.
pub async fn enforce(ctx: Arc<ImportContext>, quota: DiskQuota) {
    let mut ticker = tokio::time::interval(quota.interval.max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if ctx.is_cancelled() {
            return;
        }
        match check(&ctx, &quota).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(engines = n, "disk quota: imported engines early"),
            Err(err) => tracing::warn!(error = %format!("{err:#}"), "disk quota check failed"),
        }
    }
}

/// One check; returns how many engines were imported early.
pub async fn check(ctx: &ImportContext, quota: &DiskQuota) -> anyhow::Result<usize> {
    let used = |ctx: &ImportContext| -> u64 {
        ctx.backend
            .engine_file_sizes()
            .iter()
            .map(|s| s.disk_size.saturating_add(s.mem_size))
            .sum()
    };
    let now = used(ctx);
    let limit = quota.limit(now)?;
    if now <= limit {
        return Ok(0);
    }
    tracing::warn!(
        used = now,
        limit,
        "engines exceed the disk quota: pausing writers to import the largest early"
    );
    let _paused = ctx.write_gate.write().await;
    ctx.backend
        .flush_all_engines()
        .await
        .context("flushing engines for the disk quota")?;
    let mut sizes = ctx.backend.engine_file_sizes();
    sizes.sort_by_key(|s| std::cmp::Reverse(s.disk_size.saturating_add(s.mem_size)));
    let mut remaining: u64 = sizes
        .iter()
        .map(|s| s.disk_size.saturating_add(s.mem_size))
        .sum();
    let mut imported = 0;
    for engine in sizes {
        if remaining <= limit {
            break;
        }
        if engine.is_importing {
            continue;
        }
        ctx.engines
            .unsafe_import_and_reset(
                engine.uuid,
                ctx.options.region_split_size,
                ctx.options.region_split_keys,
            )
            .await?;
        remaining = remaining.saturating_sub(engine.disk_size.saturating_add(engine.mem_size));
        imported += 1;
    }
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_is_five_percent_up_to_ten_gib() {
        assert_eq!(DiskQuota::reserve(100 << 20), 5 << 20);
        assert_eq!(DiskQuota::reserve(1 << 40), 10 << 30);
        let quota = DiskQuota {
            bytes: 123,
            interval: Duration::from_secs(1),
            dir: PathBuf::from("/nonexistent"),
        };
        assert_eq!(quota.limit(1 << 30).ok(), Some(123));
    }
}
