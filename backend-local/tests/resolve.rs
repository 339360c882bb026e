//! Row-level duplicate resolution (`on-duplicate = replace`) through real
//! engines and a real target store: rows colliding on the primary key or on
//! a unique secondary index leave exactly the winners' record and index
//! pairs in the target, and the resolved checksum reconciles the encoded
//! rows' checksum with the target's.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use backend_core::model::{
    ColumnInfo, ColumnType, FieldType, IndexColumn, IndexInfo, TableInfo, TidbTableInfo,
};
use backend_core::{
    Backend, Datum, EncodedRow, EncodingBuilder, EncodingConfig, EngineConfig, KvChecksum, KvPair,
    RowOrigin, Rows, SqlMode,
};
use backend_local::catalog::Catalog;
use backend_local::kv_encoder::KvEncodingBuilder;
use backend_local::{LocalBackend, OnDuplicate, store};
use uuid::Uuid;

fn col(id: i64, name: &str, tp: ColumnType) -> ColumnInfo {
    ColumnInfo::new(
        id,
        name,
        usize::try_from(id - 1).unwrap(),
        FieldType::new(tp),
    )
}

/// `t (id BIGINT PRIMARY KEY, u VARCHAR(20) UNIQUE, k INT, KEY(k))`.
fn table() -> TableInfo {
    let mut u = col(2, "u", ColumnType::VarChar);
    u.field_type.flen = Some(20);
    let ic = |name: &str, offset| IndexColumn {
        name: name.into(),
        offset,
        length: None,
    };
    TableInfo {
        id: 0,
        name: "t".into(),
        charset: "utf8mb4".into(),
        collation: String::new(),
        columns: vec![
            col(1, "id", ColumnType::BigInt),
            u,
            col(3, "k", ColumnType::Int),
        ],
        indices: vec![
            IndexInfo {
                id: 1,
                name: "PRIMARY".into(),
                columns: vec![ic("id", 0)],
                unique: true,
                primary: true,
            },
            IndexInfo {
                id: 2,
                name: "u".into(),
                columns: vec![ic("u", 1)],
                unique: true,
                primary: false,
            },
            IndexInfo {
                id: 3,
                name: "k".into(),
                columns: vec![ic("k", 2)],
                unique: false,
                primary: false,
            },
        ],
        pk_is_handle: true,
        is_common_handle: false,
        auto_increment_base: 0,
        create_sql: None,
    }
}

fn row(id: i64, u: &str, k: i64) -> Vec<Datum> {
    vec![
        Datum::Int(id),
        Datum::Bytes(u.as_bytes().to_vec()),
        Datum::Int(k),
    ]
}

/// Rows encoded to (record, index pairs) each.
fn encode(info: &Arc<TidbTableInfo>, rows: &[Vec<Datum>]) -> Vec<(KvPair, Vec<KvPair>)> {
    let mut enc = KvEncodingBuilder
        .new_encoder(&EncodingConfig {
            table: Arc::clone(info),
            sql_mode: SqlMode::STRICT_ALL_TABLES,
            timestamp: 0,
        })
        .unwrap();
    let perm: Vec<Option<usize>> = (0..info.core.columns.len()).map(Some).collect();
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let row_id = i64::try_from(i).unwrap() + 1;
            match enc.encode(r, row_id, &perm, &RowOrigin::default()).unwrap() {
                EncodedRow::Kv { record, indexes } => (record, indexes),
                EncodedRow::Sql(_) => panic!("KV encoder produced SQL"),
            }
        })
        .collect()
}

fn checksum_of(encoded: &[(KvPair, Vec<KvPair>)]) -> KvChecksum {
    let mut ck = KvChecksum::new();
    for (record, indexes) in encoded {
        ck.update_one(&record.key, &record.value);
        ck.update(indexes);
    }
    ck
}

async fn write(backend: &LocalBackend, uuid: Uuid, pairs: Vec<KvPair>) {
    let mut writer = common::open_writer(backend, uuid).await;
    writer
        .append_rows(&[], Rows::Kv(pairs.into()))
        .await
        .unwrap();
    writer.close().await.unwrap();
    backend
        .close_engine(&EngineConfig::default(), uuid)
        .await
        .unwrap();
    backend.import_engine(uuid, 1 << 20, 1000).await.unwrap();
    backend.cleanup_engine(uuid).await.unwrap();
}

/// Every pair of table `id` in the target.
fn table_pairs(backend: &LocalBackend, id: i64) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = backend.target_store().unwrap().db();
    let mut out = BTreeMap::new();
    let mut iter = db.raw_iterator();
    iter.seek(backend_local::codec::table::table_prefix(id));
    let end = backend_local::codec::table::table_prefix(id + 1);
    while let Some((k, v)) = iter.item() {
        if k >= &end[..] {
            break;
        }
        out.insert(k.to_vec(), v.to_vec());
        iter.next();
    }
    out
}

/// Imports `batches` of rows: one data engine per batch (records), then one
/// index engine for every row's index entries, like the importer does.
/// Returns the table and the checksum of every encoded pair.
async fn import(
    backend: &LocalBackend,
    db_name: &str,
    batches: &[Vec<Vec<Datum>>],
) -> (Arc<TidbTableInfo>, KvChecksum) {
    let created = Catalog::new(backend.target_store().unwrap().db())
        .create_table(db_name, &table())
        .unwrap();
    let info = Arc::new(TidbTableInfo {
        id: created.id,
        db: db_name.into(),
        name: created.name.clone(),
        core: created,
    });
    let mut local = KvChecksum::new();
    let mut index_pairs = Vec::new();
    for (n, batch) in batches.iter().enumerate() {
        let encoded = encode(&info, batch);
        local.add(&checksum_of(&encoded));
        let mut records = Vec::new();
        for (record, indexes) in encoded {
            records.push(record);
            index_pairs.extend(indexes);
        }
        write(backend, Uuid::from_u128(100 + n as u128), records).await;
    }
    write(backend, Uuid::from_u128(1), index_pairs).await;
    (info, local)
}

/// What a clean import of `winners` puts in the target.
fn clean(info: &Arc<TidbTableInfo>, winners: &[Vec<Datum>]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (record, indexes) in encode(info, winners) {
        out.insert(record.key, record.value);
        for p in indexes {
            out.insert(p.key, p.value);
        }
    }
    out
}

#[tokio::test]
async fn replace_keeps_exactly_the_winning_rows() {
    let dir = tempfile::tempdir().unwrap();
    let backend = common::backend(dir.path(), OnDuplicate::Replace);
    let batches = vec![
        vec![
            row(1, "a", 5),
            // Primary-key collision in one engine: the later row wins, the
            // loser's unique and non-unique entries must go.
            row(1, "b", 6),
            row(2, "c", 5),
            // Collision where both rows share the unique entry `w → 3`.
            row(3, "w", 7),
            row(3, "w", 8),
            // Unique-key collision with different handles: the later row
            // (5) wins, row 4's record and index entry must go.
            row(4, "q", 1),
            row(5, "q", 2),
            // A chain: 6 "n" wins over 6 "m" on the key, then loses `n` to 7.
            row(6, "m", 1),
            row(6, "n", 1),
            row(7, "n", 3),
            row(8, "untouched", 9),
        ],
        // Primary-key collision across data engines.
        vec![row(2, "c2", 4), row(9, "z", 9)],
    ];
    let (info, local) = import(&backend, "d", &batches).await;
    let resolved = backend.resolve_duplicates(&info).await.unwrap();

    let winners = vec![
        row(1, "b", 6),
        row(2, "c2", 4),
        row(3, "w", 8),
        row(5, "q", 2),
        row(7, "n", 3),
        row(8, "untouched", 9),
        row(9, "z", 9),
    ];
    let want = clean(&info, &winners);
    let got = table_pairs(&backend, info.id);
    assert_eq!(got, want);

    let db = backend.target_store().unwrap().db();
    assert_eq!(store::count_rows(db, info.id).unwrap(), 7);
    let target = store::checksum_table(db, "d", "t").unwrap();
    let mut clean_ck = KvChecksum::new();
    for (k, v) in &want {
        clean_ck.update_one(k, v);
    }
    assert_eq!(target, clean_ck);
    let mut adjusted = local;
    adjusted.sub(&resolved);
    assert_eq!(
        adjusted, target,
        "local minus resolved must equal the target"
    );
    // Losing rows: 1a, 3w7, 4q, 6m, 6n, 2c → 6 rows of 3 pairs.
    assert_eq!(resolved.kvs, 18);

    // Idempotent: a rerun (e.g. after a crash) deletes nothing more and
    // reports the same checksum.
    let again = backend.resolve_duplicates(&info).await.unwrap();
    assert_eq!(again, resolved);
    assert_eq!(table_pairs(&backend, info.id), want);
}

#[tokio::test]
async fn no_duplicates_resolve_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let backend = common::backend(dir.path(), OnDuplicate::Replace);
    let rows = vec![row(1, "a", 1), row(2, "b", 1)];
    let (info, local) = import(&backend, "d", std::slice::from_ref(&rows)).await;
    let resolved = backend.resolve_duplicates(&info).await.unwrap();
    assert_eq!(resolved, KvChecksum::new());
    let db = backend.target_store().unwrap().db();
    assert_eq!(store::checksum_table(db, "d", "t").unwrap(), local);
    assert_eq!(table_pairs(&backend, info.id), clean(&info, &rows));
}
