//! The encoder's tests: pairs byte for byte (vectors from TiDB Lightning),
//! the in-place path against the owned one, and the tables it refuses.

#![allow(clippy::unwrap_used)]

use backend_core::model::{IndexColumn, IndexInfo, TableInfo};
use backend_core::{KvChecksum, KvPair};

use super::*;

fn table(
    columns: Vec<ColumnInfo>,
    indices: Vec<IndexInfo>,
    pk_is_handle: bool,
) -> Arc<TidbTableInfo> {
    Arc::new(TidbTableInfo {
        id: 1,
        db: "test".into(),
        name: "t".into(),
        core: TableInfo {
            id: 1,
            name: "t".into(),
            charset: "utf8mb4".into(),
            collation: String::new(),
            columns,
            indices,
            pk_is_handle,
            is_common_handle: false,
            auto_increment_base: 0,
            create_sql: None,
        },
    })
}

fn encoder(t: Arc<TidbTableInfo>, mode: SqlMode) -> KvEncoder {
    KvEncoder::new(&EncodingConfig {
        table: t,
        sql_mode: mode,
        timestamp: 1_700_000_000,
    })
    .unwrap()
}

fn kv(row: EncodedRow) -> (KvPair, Vec<KvPair>) {
    match row {
        EncodedRow::Kv { record, indexes } => (record, indexes),
        EncodedRow::Sql(_) => panic!("expected KV"),
    }
}

/// The pipeline's in-place path appends exactly the pairs `encode`
/// returns, with their checksums, and a row that fails leaves the
/// batch untouched.
#[test]
fn encode_into_matches_encode_and_rolls_back_bad_rows() {
    let mut name = ColumnInfo::new(2, "name", 1, FieldType::new(ColumnType::VarChar));
    name.field_type.flen = Some(4);
    let columns = vec![
        ColumnInfo::new(1, "id", 0, FieldType::new(ColumnType::Int)),
        name,
    ];
    let index = |id, unique, column: &str, offset| IndexInfo {
        id,
        name: format!("i{id}"),
        columns: vec![IndexColumn {
            name: column.into(),
            offset,
            length: None,
        }],
        unique,
        primary: false,
    };
    let t = table(
        columns,
        vec![index(1, true, "name", 1), index(2, false, "id", 0)],
        false,
    );
    let rows: Vec<Vec<Datum>> = vec![
        vec![Datum::text("1"), Datum::text("ab")],
        vec![Datum::text("2"), Datum::Null],
        // Too long for VARCHAR(4) in strict mode: an error, no pairs.
        vec![Datum::text("3"), Datum::text("abcdef")],
        vec![Datum::text("4"), Datum::text("cd")],
    ];
    let perm = [Some(0), Some(1)];
    let origin = RowOrigin::default();
    let mut owned = encoder(Arc::clone(&t), SqlMode::STRICT_ALL_TABLES);
    let mut in_place = encoder(t, SqlMode::STRICT_ALL_TABLES);
    let mut out = EncodedRows::new(&Rows::Kv(KvPairs::new()));
    let (mut records, mut indexes) = (Vec::new(), Vec::new());
    let (mut data_ck, mut index_ck) = (KvChecksum::new(), KvChecksum::new());
    for (i, row) in rows.iter().enumerate() {
        let row_id = i64::try_from(i).unwrap() + 1;
        let want = owned.encode(row, row_id, &perm, &origin);
        let before = out.clone();
        let got = in_place.encode_into(row, row_id, &perm, &origin, &mut out);
        match want {
            Ok(encoded) => {
                assert_eq!(got.unwrap(), encoded.size());
                let (record, idx) = kv(encoded);
                data_ck.update_one(&record.key, &record.value);
                records.push(record);
                for pair in idx {
                    index_ck.update_one(&pair.key, &pair.value);
                    indexes.push(pair);
                }
            }
            Err(_) => {
                assert!(got.is_err(), "row {i}");
                assert_eq!(out, before, "row {i} left pairs behind");
            }
        }
    }
    assert_eq!(records.len(), 3);
    let (Rows::Kv(data), Rows::Kv(index)) = (&out.data, &out.index) else {
        panic!("KV streams expected");
    };
    assert_eq!(data.to_vec(), records);
    assert_eq!(index.to_vec(), indexes);
    assert_eq!((out.data_checksum, out.index_checksum), (data_ck, index_ck));
    // Streams of another shape still receive the row.
    let mut sql_shaped = EncodedRows::new(&Rows::Sql(Vec::new()));
    in_place
        .encode_into(&rows[0], 1, &perm, &origin, &mut sql_shaped)
        .unwrap();
    assert_eq!(sql_shaped.data.len(), 1);
    assert_eq!(sql_shaped.index.len(), 2);
}

#[test]
fn lightning_tinyint_clamp_vector() {
    let t = table(
        vec![ColumnInfo::new(
            1,
            "c1",
            0,
            FieldType::new(ColumnType::TinyInt),
        )],
        vec![],
        false,
    );
    let mut enc = encoder(t, SqlMode::LIGHTNING_DEFAULT);
    let (rec, idx) = kv(enc
        .encode(
            &[Datum::text("10000000")],
            1,
            &[Some(0)],
            &RowOrigin::default(),
        )
        .unwrap());
    assert_eq!(rec.key, table::record_key(1, 1));
    assert_eq!(rec.value, [0x80, 0, 1, 0, 0, 0, 1, 1, 0, 0x7F]);
    assert!(idx.is_empty());
    assert_eq!(enc.take_warnings(), 1);
    assert_eq!(enc.take_warnings(), 0);
    let t = table(
        vec![ColumnInfo::new(
            1,
            "c1",
            0,
            FieldType::new(ColumnType::TinyInt),
        )],
        vec![],
        false,
    );
    let mut strict = encoder(t, SqlMode::STRICT_TRANS_TABLES);
    let err = strict
        .encode(
            &[Datum::text("10000000")],
            1,
            &[Some(0)],
            &RowOrigin::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), backend_core::ErrorKind::BadData);
    assert!(err.to_string().contains("`c1`"), "{err}");
}

#[test]
fn lightning_double_auto_increment_vector() {
    let mut id = ColumnInfo::new(1, "id", 0, FieldType::new(ColumnType::Double));
    id.field_type.not_null = true;
    id.auto_increment = true;
    let u_id = IndexInfo {
        id: 1,
        name: "u_id".into(),
        columns: vec![IndexColumn {
            name: "id".into(),
            offset: 0,
            length: None,
        }],
        unique: true,
        primary: false,
    };
    let mut enc = encoder(
        table(vec![id], vec![u_id], false),
        SqlMode::LIGHTNING_DEFAULT,
    );
    let (rec, idx) = kv(enc
        .encode(&[Datum::text("1")], 70, &[Some(0)], &RowOrigin::default())
        .unwrap());
    assert_eq!(
        rec.key,
        [
            0x74, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x5F, 0x72, 0x80, 0, 0, 0, 0, 0, 0, 0x46
        ]
    );
    assert_eq!(
        rec.value,
        [0x80, 0, 1, 0, 0, 0, 1, 8, 0, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(idx.len(), 1);
    assert_eq!(
        idx[0].key,
        [
            0x74, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x5F, 0x69, 0x80, 0, 0, 0, 0, 0, 0, 1, 5, 0xBF, 0xF0,
            0, 0, 0, 0, 0, 0
        ]
    );
    assert_eq!(idx[0].value, [0, 0, 0, 0, 0, 0, 0, 0x46]);
    assert_eq!(enc.max_auto_id(), 1);
    // NULL auto-increment takes the row id.
    let (rec, _) = kv(enc
        .encode(&[Datum::Null], 71, &[Some(0)], &RowOrigin::default())
        .unwrap());
    let row = row::RowV2::parse(&rec.value).unwrap();
    let row::ColumnValue::Value(v) = row.get(1) else {
        panic!()
    };
    assert_eq!(
        row::decode_value(v, &FieldType::new(ColumnType::Double)).unwrap(),
        Datum::Float64(71.0)
    );
    assert_eq!(enc.max_auto_id(), 71);
}

#[test]
fn int_handle_nulls_and_non_unique_index() {
    let mut id = ColumnInfo::new(1, "id", 0, FieldType::new(ColumnType::BigInt));
    id.field_type.not_null = true;
    let name = ColumnInfo::new(2, "name", 1, FieldType::new(ColumnType::VarChar));
    let mut with_default = ColumnInfo::new(3, "d", 2, FieldType::new(ColumnType::Int));
    with_default.default = Some(DefaultValue::Literal("7".into()));
    let pk = IndexInfo {
        id: 1,
        name: "PRIMARY".into(),
        columns: vec![IndexColumn {
            name: "id".into(),
            offset: 0,
            length: None,
        }],
        unique: true,
        primary: true,
    };
    let k = IndexInfo {
        id: 2,
        name: "k".into(),
        columns: vec![IndexColumn {
            name: "name".into(),
            offset: 1,
            length: Some(2),
        }],
        unique: true,
        primary: false,
    };
    let mut enc = encoder(
        table(vec![id, name, with_default], vec![pk, k], true),
        SqlMode::STRICT_TRANS_TABLES,
    );
    let (rec, idx) = kv(enc
        .encode(
            &[Datum::text("42"), Datum::text("abcdef")],
            1,
            &[Some(0), Some(1), None],
            &RowOrigin::default(),
        )
        .unwrap());
    assert_eq!(rec.key, table::record_key(1, 42));
    let parsed = row::RowV2::parse(&rec.value).unwrap();
    assert_eq!(
        parsed.get(1),
        row::ColumnValue::Absent,
        "handle is not in the value"
    );
    assert_eq!(parsed.get(2), row::ColumnValue::Value(b"abcdef"));
    assert_eq!(parsed.get(3), row::ColumnValue::Value(&[7]));
    assert_eq!(idx.len(), 1);
    let mut want = table::index_prefix(1, 2);
    want.push(key::BYTES_FLAG);
    crate::codec::number::encode_bytes(&mut want, b"ab");
    assert_eq!(idx[0].key, want);
    assert_eq!(enc.max_auto_id(), 42);
    // A NULL in a unique index: the handle goes into the key.
    let (rec, idx) = kv(enc
        .encode(
            &[Datum::text("43"), Datum::Null, Datum::Null],
            2,
            &[Some(0), Some(1), Some(2)],
            &RowOrigin::default(),
        )
        .unwrap());
    let parsed = row::RowV2::parse(&rec.value).unwrap();
    assert_eq!(
        parsed.get(2),
        row::ColumnValue::Absent,
        "NULL without default is left out"
    );
    assert_eq!(
        parsed.get(3),
        row::ColumnValue::Null,
        "NULL with a default is written"
    );
    assert_eq!(
        idx[0].key,
        table::index_key(1, 2, &[key::NIL_FLAG], Some(43))
    );
    assert_eq!(idx[0].value, b"0");
    // Missing primary key is an error.
    assert!(
        enc.encode(
            &[Datum::text("x")],
            3,
            &[None, Some(0), None],
            &RowOrigin::default()
        )
        .is_err()
    );
}

#[test]
fn common_handles_and_stored_generated_columns_are_rejected() {
    let mut t = (*table(
        vec![ColumnInfo::new(
            1,
            "a",
            0,
            FieldType::new(ColumnType::VarChar),
        )],
        vec![],
        false,
    ))
    .clone();
    t.core.is_common_handle = true;
    let err = KvEncoder::new(&EncodingConfig {
        table: Arc::new(t),
        sql_mode: SqlMode::default(),
        timestamp: 0,
    })
    .unwrap_err();
    assert_eq!(err.kind(), backend_core::ErrorKind::Unsupported);
    assert!(err.to_string().contains("common handle"));
    let mut g = ColumnInfo::new(1, "g", 0, FieldType::new(ColumnType::Int));
    g.generated = Some(backend_core::model::GeneratedColumn {
        expr: "1".into(),
        stored: true,
    });
    let err = KvEncoder::new(&EncodingConfig {
        table: table(vec![g], vec![], false),
        sql_mode: SqlMode::default(),
        timestamp: 0,
    })
    .unwrap_err();
    assert_eq!(err.kind(), backend_core::ErrorKind::Unsupported);
}
