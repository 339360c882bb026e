//! The scenarios, each a generic async function over a [`BackendHarness`].
//!
//! A scenario returns `Ok(())` when it passed or was skipped (with a printed
//! reason), an error for backend errors it did not expect, and panics on a
//! failed assertion.

use std::sync::Arc;

use anyhow::{Context as _, bail, ensure};
use backend_core::model::ColumnType;
use backend_core::{Backend, DuplicateModes, ErrorKind, LocalWriterConfig};

use super::{
    BackendHarness, DuplicateMode, Instance, REGION_SPLIT_KEYS, REGION_SPLIT_SIZE, TABLE_NAME,
    TestRow, encode, engine_config, engine_uuid, expected, make_rows, skip, write,
};

async fn fresh(
    harness: &dyn BackendHarness,
    scenario: &str,
    mode: DuplicateMode,
) -> anyhow::Result<Option<Box<dyn Instance>>> {
    let test = format!("it_{}_{scenario}", harness.name());
    harness
        .fresh(&test, mode)
        .await
        .with_context(|| format!("setting up `{scenario}` on `{}`", harness.name()))
}

/// Whether written rows survive a restart: kept in persistent engines, or
/// written through to the target (no engine data to lose).
fn survives_restart(h: &dyn BackendHarness) -> bool {
    let caps = h.capabilities();
    caps.persistent_engines || !caps.local_engine_data
}

async fn import(instance: &dyn Instance, engine: uuid::Uuid) -> backend_core::Result<()> {
    instance
        .backend()
        .import_engine(engine, REGION_SPLIT_SIZE, REGION_SPLIT_KEYS)
        .await
}

/// Open, write, close, import, clean up: the rows are on the target and the
/// engine is gone.
pub async fn open_write_close_import_cleanup(h: &dyn BackendHarness) -> anyhow::Result<()> {
    let Some(inst) = fresh(h, "open_write_close_import_cleanup", DuplicateMode::Error).await?
    else {
        return Ok(());
    };
    let engine = engine_uuid(inst.as_ref(), 0);
    let config = engine_config(inst.as_ref(), false);
    let rows = make_rows(1, 300, "row");
    inst.backend().open_engine(&config, engine).await?;
    let status = write(inst.as_ref(), engine, &rows, 64).await?;
    inst.backend().close_engine(&config, engine).await?;
    import(inst.as_ref(), engine).await?;
    assert!(
        status.flushed(),
        "a chunk's rows must be durable once its engine is imported"
    );
    inst.backend().cleanup_engine(engine).await?;
    assert_eq!(inst.rows().await?, expected(&rows));
    if let Some(stored) = inst.engine_stored(engine) {
        assert!(!stored, "cleanup_engine left engine data behind");
    }
    inst.backend().close().await;
    Ok(())
}

/// Eight writers on one engine at once, each with its own ids: every row
/// arrives once.
pub async fn many_writers_in_parallel(h: &dyn BackendHarness) -> anyhow::Result<()> {
    let Some(inst) = fresh(h, "many_writers_in_parallel", DuplicateMode::Error).await? else {
        return Ok(());
    };
    let inst: Arc<dyn Instance> = Arc::from(inst);
    let engine = engine_uuid(inst.as_ref(), 0);
    let config = engine_config(inst.as_ref(), false);
    inst.backend().open_engine(&config, engine).await?;
    let mut tasks = Vec::new();
    let mut all = Vec::new();
    for w in 0..8 {
        let rows = make_rows(1 + w * 250, 250, &format!("w{w}"));
        all.extend(rows.clone());
        let inst = Arc::clone(&inst);
        tasks.push(tokio::spawn(async move {
            write(inst.as_ref(), engine, &rows, 37).await.map(|_| ())
        }));
    }
    for task in tasks {
        task.await.context("a writer task panicked")??;
    }
    inst.backend().close_engine(&config, engine).await?;
    import(inst.as_ref(), engine).await?;
    inst.backend().cleanup_engine(engine).await?;
    assert_eq!(inst.rows().await?, expected(&all));
    Ok(())
}

/// An engine no row was written to (one writer opened and closed empty)
/// closes, imports and cleans up without error and adds nothing.
pub async fn empty_engine(h: &dyn BackendHarness) -> anyhow::Result<()> {
    let Some(inst) = fresh(h, "empty_engine", DuplicateMode::Error).await? else {
        return Ok(());
    };
    let config = engine_config(inst.as_ref(), false);
    // One engine with an empty writer, one with no writer at all.
    for engine_id in [0, 1] {
        let engine = engine_uuid(inst.as_ref(), engine_id);
        inst.backend().open_engine(&config, engine).await?;
        if engine_id == 0 {
            let status = write(inst.as_ref(), engine, &[], 10).await?;
            drop(status);
        }
        inst.backend().close_engine(&config, engine).await?;
        import(inst.as_ref(), engine).await?;
        inst.backend().cleanup_engine(engine).await?;
    }
    assert_eq!(inst.rows().await?, Vec::<super::Row>::new());
    Ok(())
}

/// Rows written and flushed survive a restart: the new process reopens the
/// engine by its UUID (keeping the sort dir), writes more, and the import
/// has both.
pub async fn flush_then_reopen_by_uuid(h: &dyn BackendHarness) -> anyhow::Result<()> {
    const NAME: &str = "flush_then_reopen_by_uuid";
    if !survives_restart(h) {
        skip(h, NAME, "the backend declares no persistent engines");
        return Ok(());
    }
    let Some(inst) = fresh(h, NAME, DuplicateMode::Error).await? else {
        return Ok(());
    };
    let engine = engine_uuid(inst.as_ref(), 0);
    let first = make_rows(1, 200, "before");
    inst.backend()
        .open_engine(&engine_config(inst.as_ref(), false), engine)
        .await?;
    let status = write(inst.as_ref(), engine, &first, 50).await?;
    inst.backend().flush_engine(engine).await?;
    assert!(
        status.flushed(),
        "flush_engine must make written chunks durable"
    );
    let inst = inst.restart().await?;
    let config = engine_config(inst.as_ref(), true);
    inst.backend().open_engine(&config, engine).await?;
    let second = make_rows(201, 100, "after");
    write(inst.as_ref(), engine, &second, 50).await?;
    inst.backend().close_engine(&config, engine).await?;
    import(inst.as_ref(), engine).await?;
    inst.backend().cleanup_engine(engine).await?;
    let all: Vec<TestRow> = first.into_iter().chain(second).collect();
    assert_eq!(inst.rows().await?, expected(&all));
    Ok(())
}

/// Resuming after a crash, the new process closes an engine it never opened
/// ("unsafe close"): it is reopened read-only from what the earlier run
/// flushed, and imports exactly that.
pub async fn unsafe_close_on_resume(h: &dyn BackendHarness) -> anyhow::Result<()> {
    const NAME: &str = "unsafe_close_on_resume";
    if !survives_restart(h) {
        skip(h, NAME, "the backend declares no persistent engines");
        return Ok(());
    }
    let Some(inst) = fresh(h, NAME, DuplicateMode::Error).await? else {
        return Ok(());
    };
    let engine = engine_uuid(inst.as_ref(), 0);
    let rows = make_rows(1, 250, "durable");
    inst.backend()
        .open_engine(&engine_config(inst.as_ref(), false), engine)
        .await?;
    write(inst.as_ref(), engine, &rows, 40).await?;
    inst.backend().flush_engine(engine).await?;
    let inst = inst.restart().await?;
    let config = engine_config(inst.as_ref(), true);
    inst.backend().close_engine(&config, engine).await?;
    // A closed engine takes no writers.
    if h.capabilities().engine_states {
        let err = inst
            .backend()
            .local_writer(
                &LocalWriterConfig {
                    is_kv_sorted: false,
                    table_name: inst.table().unique_name(),
                },
                engine,
            )
            .await
            .err()
            .context("a writer on an engine closed after a restart must be refused")?;
        ensure!(
            matches!(err.kind(), ErrorKind::InvalidState | ErrorKind::NotFound),
            "unexpected error kind {:?}: {err}",
            err.kind()
        );
    }
    import(inst.as_ref(), engine).await?;
    inst.backend().cleanup_engine(engine).await?;
    assert_eq!(inst.rows().await?, expected(&rows));
    Ok(())
}

/// Closing an engine that never existed is an error, not an empty import.
async fn never_opened_close_fails(inst: &dyn Instance) -> anyhow::Result<()> {
    let ghost = engine_uuid(inst, 99);
    let result = inst
        .backend()
        .close_engine(&engine_config(inst, true), ghost)
        .await;
    if let Ok(()) = result {
        // Closing may be lazy; importing it must then fail.
        let imported = import(inst, ghost).await;
        ensure!(
            imported.is_err(),
            "closing and importing an engine that never existed succeeded"
        );
    }
    Ok(())
}

async fn duplicates(h: &dyn BackendHarness, mode: DuplicateMode) -> anyhow::Result<()> {
    let name = match mode {
        DuplicateMode::Error => "duplicates_error",
        DuplicateMode::Replace => "duplicates_replace",
        DuplicateMode::Ignore => "duplicates_ignore",
    };
    let caps = h.capabilities();
    if mode != DuplicateMode::Error && caps.duplicate_modes != DuplicateModes::ALL {
        skip(
            h,
            name,
            "the backend declares no configurable duplicate modes",
        );
        return Ok(());
    }
    if !caps.duplicate_detection {
        skip(h, name, "the backend declares no duplicate detection");
        return Ok(());
    }
    let Some(inst) = fresh(h, name, mode).await? else {
        return Ok(());
    };
    let backend = Arc::clone(inst.backend());
    let config = engine_config(inst.as_ref(), false);

    // Phase 1: id 2 twice in one engine (same score, so index entries agree).
    let engine = engine_uuid(inst.as_ref(), 0);
    backend.open_engine(&config, engine).await?;
    let first = vec![
        TestRow::new(1, "a", Some(1)),
        TestRow::new(2, "b", Some(2)),
        TestRow::new(3, "c", Some(3)),
    ];
    let again = vec![TestRow::new(2, "B", Some(2))];
    let result = async {
        let table_name = inst.table().unique_name();
        let mut writer = backend
            .local_writer(
                &LocalWriterConfig {
                    is_kv_sorted: false,
                    table_name,
                },
                engine,
            )
            .await?;
        for rows in [&first, &again] {
            let (columns, encoded) = encode(inst.as_ref(), rows)
                .map_err(|e| backend_core::Error::internal(format!("{e:#}")))?;
            writer.append_rows(&columns, encoded).await?;
        }
        writer.close().await?;
        backend.close_engine(&config, engine).await?;
        import(inst.as_ref(), engine).await
    }
    .await;
    check_duplicate_outcome(h, mode, &result, "inside one engine")?;
    if result.is_err() {
        // Writers of a logical backend stop at the duplicate; the engine
        // still has to be closed before cleanup on physical ones.
        let _ = backend.close_engine(&config, engine).await;
    }
    backend.cleanup_engine(engine).await?;
    let kept_b = match (mode, caps.duplicate_modes == DuplicateModes::ALL) {
        (DuplicateMode::Replace, _) => "B",
        (_, true) => "b",
        // The reference backend keeps whichever it likes; only the report
        // is checked.
        (_, false) => "",
    };
    let rows = inst.rows().await?;
    if !kept_b.is_empty() {
        assert_eq!(
            rows,
            vec![
                TestRow::new(1, "a", Some(1)).text(),
                TestRow::new(2, kept_b, Some(2)).text(),
                TestRow::new(3, "c", Some(3)).text(),
            ],
            "mode {mode:?}, duplicate inside one engine"
        );
    } else {
        assert_eq!(rows.len(), 3, "{rows:?}");
    }

    // Phase 2: a second engine conflicts with what the target already has.
    let engine2 = engine_uuid(inst.as_ref(), 1);
    backend.open_engine(&config, engine2).await?;
    let result = async {
        let rows = vec![TestRow::new(4, "d", Some(4)), TestRow::new(3, "C", Some(3))];
        write(inst.as_ref(), engine2, &rows, 10).await?;
        backend.close_engine(&config, engine2).await?;
        import(inst.as_ref(), engine2).await
    }
    .await;
    check_duplicate_outcome(h, mode, &result, "against the target")?;
    if result.is_err() {
        let _ = backend.close_engine(&config, engine2).await;
    }
    backend.cleanup_engine(engine2).await?;
    let rows = inst.rows().await?;
    assert_eq!(rows.len(), 4, "mode {mode:?}: {rows:?}");
    if caps.duplicate_modes == DuplicateModes::ALL {
        let kept_c = if mode == DuplicateMode::Replace {
            "C"
        } else {
            "c"
        };
        assert_eq!(
            rows[2],
            TestRow::new(3, kept_c, Some(3)).text(),
            "mode {mode:?}, duplicate against the target"
        );
        assert_eq!(rows[3], TestRow::new(4, "d", Some(4)).text());
    }
    if caps.engine_states {
        never_opened_close_fails(inst.as_ref()).await?;
    }
    Ok(())
}

fn check_duplicate_outcome(
    h: &dyn BackendHarness,
    mode: DuplicateMode,
    result: &backend_core::Result<()>,
    what: &str,
) -> anyhow::Result<()> {
    let modes = h.capabilities().duplicate_modes == DuplicateModes::ALL;
    match (mode, result) {
        (DuplicateMode::Error, Err(e)) if e.kind() == ErrorKind::DuplicateDetected => Ok(()),
        (DuplicateMode::Error, Err(e)) => {
            bail!(
                "duplicate {what}: expected DuplicateDetected, got {:?}: {e}",
                e.kind()
            )
        }
        (DuplicateMode::Error, Ok(())) => bail!("duplicate {what} went unreported in mode Error"),
        (_, Ok(())) if modes => Ok(()),
        (_, Err(e)) => bail!("duplicate {what} in mode {mode:?} failed: {e}"),
        (_, Ok(())) => Ok(()),
    }
}

/// Mode `Error`: the duplicate is reported as `DuplicateDetected` and the
/// first value stays.
pub async fn duplicates_error(h: &dyn BackendHarness) -> anyhow::Result<()> {
    duplicates(h, DuplicateMode::Error).await
}

/// Mode `Replace`: the last value written wins, also over the target's.
pub async fn duplicates_replace(h: &dyn BackendHarness) -> anyhow::Result<()> {
    duplicates(h, DuplicateMode::Replace).await
}

/// Mode `Ignore`: the first value (or the target's) stays, no error.
pub async fn duplicates_ignore(h: &dyn BackendHarness) -> anyhow::Result<()> {
    duplicates(h, DuplicateMode::Ignore).await
}

/// Importing the same closed engine twice leaves the same content and is
/// not a duplicate.
pub async fn import_twice_is_idempotent(h: &dyn BackendHarness) -> anyhow::Result<()> {
    let Some(inst) = fresh(h, "import_twice_is_idempotent", DuplicateMode::Error).await? else {
        return Ok(());
    };
    let engine = engine_uuid(inst.as_ref(), 0);
    let config = engine_config(inst.as_ref(), false);
    let rows = make_rows(1, 500, "twice");
    inst.backend().open_engine(&config, engine).await?;
    write(inst.as_ref(), engine, &rows, 100).await?;
    inst.backend().close_engine(&config, engine).await?;
    import(inst.as_ref(), engine).await?;
    let once = inst.rows().await?;
    import(inst.as_ref(), engine)
        .await
        .context("the second import of the same engine")?;
    assert_eq!(inst.rows().await?, once);
    assert_eq!(once, expected(&rows));
    inst.backend().cleanup_engine(engine).await?;
    Ok(())
}

/// `reset_engine` drops what was written; later writes import alone.
pub async fn reset_engine(h: &dyn BackendHarness) -> anyhow::Result<()> {
    const NAME: &str = "reset_engine";
    if !h.capabilities().reset_engine {
        // Check the refusal is a clean `Unsupported`, not a silent no-op.
        let Some(inst) = fresh(h, NAME, DuplicateMode::Error).await? else {
            return Ok(());
        };
        let engine = engine_uuid(inst.as_ref(), 0);
        inst.backend()
            .open_engine(&engine_config(inst.as_ref(), false), engine)
            .await?;
        let err = inst.backend().reset_engine(engine).await.err();
        ensure!(
            err.as_ref().map(backend_core::Error::kind) == Some(ErrorKind::Unsupported),
            "a backend without reset must refuse with Unsupported, got {err:?}"
        );
        skip(
            h,
            NAME,
            "the backend declares no reset (refused with Unsupported)",
        );
        return Ok(());
    }
    let Some(inst) = fresh(h, NAME, DuplicateMode::Error).await? else {
        return Ok(());
    };
    let engine = engine_uuid(inst.as_ref(), 0);
    let config = engine_config(inst.as_ref(), false);
    inst.backend().open_engine(&config, engine).await?;
    write(inst.as_ref(), engine, &make_rows(1, 100, "dropped"), 30).await?;
    inst.backend().flush_engine(engine).await?;
    write(inst.as_ref(), engine, &make_rows(500, 10, "unflushed"), 30).await?;
    inst.backend().reset_engine(engine).await?;
    let kept = make_rows(50, 20, "kept");
    write(inst.as_ref(), engine, &kept, 30).await?;
    inst.backend().close_engine(&config, engine).await?;
    import(inst.as_ref(), engine).await?;
    inst.backend().cleanup_engine(engine).await?;
    assert_eq!(inst.rows().await?, expected(&kept));
    Ok(())
}

/// Cleaning up a written, flushed, closed but never imported engine leaves
/// nothing: no local data, nothing on the target, and the engine cannot be
/// imported afterwards.
pub async fn cleanup_removes_everything(h: &dyn BackendHarness) -> anyhow::Result<()> {
    const NAME: &str = "cleanup_removes_everything";
    if !h.capabilities().local_engine_data {
        skip(
            h,
            NAME,
            "the backend keeps no engine data (rows go straight to the target)",
        );
        return Ok(());
    }
    let Some(inst) = fresh(h, NAME, DuplicateMode::Error).await? else {
        return Ok(());
    };
    let engine = engine_uuid(inst.as_ref(), 0);
    let config = engine_config(inst.as_ref(), false);
    inst.backend().open_engine(&config, engine).await?;
    write(inst.as_ref(), engine, &make_rows(1, 100, "gone"), 30).await?;
    inst.backend().flush_engine(engine).await?;
    inst.backend().close_engine(&config, engine).await?;
    assert_eq!(inst.engine_stored(engine), Some(true));
    inst.backend().cleanup_engine(engine).await?;
    assert_eq!(inst.engine_stored(engine), Some(false));
    ensure!(
        import(inst.as_ref(), engine).await.is_err(),
        "importing a cleaned-up engine succeeded"
    );
    assert_eq!(inst.rows().await?, Vec::<super::Row>::new());
    // Cleaning up twice is fine.
    inst.backend().cleanup_engine(engine).await?;
    Ok(())
}

/// A new process cleans up an engine an earlier run left (never opened by
/// this process): its data is removed.
pub async fn cleanup_after_restart(h: &dyn BackendHarness) -> anyhow::Result<()> {
    const NAME: &str = "cleanup_after_restart";
    if !h.capabilities().persistent_engines || !h.capabilities().local_engine_data {
        skip(
            h,
            NAME,
            "the backend declares no persistent local engine data",
        );
        return Ok(());
    }
    let Some(inst) = fresh(h, NAME, DuplicateMode::Error).await? else {
        return Ok(());
    };
    let engine = engine_uuid(inst.as_ref(), 0);
    inst.backend()
        .open_engine(&engine_config(inst.as_ref(), false), engine)
        .await?;
    write(inst.as_ref(), engine, &make_rows(1, 100, "left"), 30).await?;
    inst.backend().flush_engine(engine).await?;
    let inst = inst.restart().await?;
    assert_eq!(inst.engine_stored(engine), Some(true));
    inst.backend().cleanup_engine(engine).await?;
    assert_eq!(inst.engine_stored(engine), Some(false));
    ensure!(
        inst.backend()
            .close_engine(&engine_config(inst.as_ref(), true), engine)
            .await
            .is_err(),
        "closing (reopening) a cleaned-up engine succeeded"
    );
    Ok(())
}

/// The target's info getter lists the database and the table as created:
/// same columns, types, handle and index.
pub async fn target_info_returns_created(h: &dyn BackendHarness) -> anyhow::Result<()> {
    const NAME: &str = "target_info_returns_created";
    let Some(inst) = fresh(h, NAME, DuplicateMode::Error).await? else {
        return Ok(());
    };
    let Some(info) = inst.target_info() else {
        skip(h, NAME, "the backend has no target info getter");
        return Ok(());
    };
    let db = inst.table().db.clone();
    let dbs = info.fetch_remote_db_models().await?;
    assert!(
        dbs.iter().any(|d| d.name.eq_ignore_ascii_case(&db)),
        "database {db} not among {dbs:?}"
    );
    let tables = info.fetch_remote_table_models(&db).await?;
    assert_eq!(tables.len(), 1, "{tables:?}");
    let t = &tables[0];
    assert_eq!(t.name, TABLE_NAME);
    assert_eq!(t.id, inst.table().id, "the table id the target reports");
    let columns: Vec<(&str, ColumnType, bool)> = t
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.field_type.tp, c.field_type.not_null))
        .collect();
    assert_eq!(
        columns,
        vec![
            ("id", ColumnType::BigInt, true),
            ("name", ColumnType::VarChar, true),
            ("score", ColumnType::Int, false),
        ]
    );
    assert_eq!(t.columns[1].field_type.flen, Some(64));
    assert!(t.pk_is_handle, "BIGINT PRIMARY KEY is the handle");
    assert!(
        t.indices
            .iter()
            .any(|i| i.name == "idx_score" && !i.unique && i.columns.len() == 1),
        "index idx_score missing: {:?}",
        t.indices
    );
    assert!(
        info.fetch_remote_table_models("it_no_such_database")
            .await
            .map(|t| t.is_empty())
            .unwrap_or(true),
        "an unknown database has no tables"
    );
    Ok(())
}

/// A writer taken before the engine was closed cannot write after it.
pub async fn write_after_close_is_an_error(h: &dyn BackendHarness) -> anyhow::Result<()> {
    const NAME: &str = "write_after_close_is_an_error";
    if !h.capabilities().engine_states {
        skip(
            h,
            NAME,
            "the backend declares no engine states (engines are no-ops, rows are written through)",
        );
        return Ok(());
    }
    let Some(inst) = fresh(h, NAME, DuplicateMode::Error).await? else {
        return Ok(());
    };
    let engine = engine_uuid(inst.as_ref(), 0);
    let config = engine_config(inst.as_ref(), false);
    let backend: &Arc<dyn Backend> = inst.backend();
    backend.open_engine(&config, engine).await?;
    let writer_config = LocalWriterConfig {
        is_kv_sorted: false,
        table_name: inst.table().unique_name(),
    };
    let mut writer = backend.local_writer(&writer_config, engine).await?;
    let (columns, rows) = encode(inst.as_ref(), &make_rows(1, 5, "early"))?;
    writer.append_rows(&columns, rows).await?;
    backend.close_engine(&config, engine).await?;
    let (columns, rows) = encode(inst.as_ref(), &make_rows(10, 5, "late"))?;
    let late = async {
        writer.append_rows(&columns, rows).await?;
        writer.close().await.map(|_| ())
    }
    .await;
    let err = late
        .err()
        .context("writing into a closed engine succeeded")?;
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    let err = backend
        .local_writer(&writer_config, engine)
        .await
        .err()
        .context("a new writer on a closed engine was handed out")?;
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    backend.cleanup_engine(engine).await?;
    Ok(())
}
