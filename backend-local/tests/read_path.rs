//! Round trip through the real RocksDB: text rows → KvEncoder → pairs in a
//! target store → catalog → export/checksum/get via the read path.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use backend_core::model::{
    ColumnInfo, ColumnType, FieldType, IndexColumn, IndexInfo, TableInfo, TidbTableInfo,
};
use backend_core::{
    Datum, EncodedRow, EncodingBuilder, EncodingConfig, KvChecksum, RowOrigin, SqlMode,
};
use backend_local::catalog::Catalog;
use backend_local::kv_encoder::KvEncodingBuilder;
use backend_local::store::{self, Format};
use rocksdb::{DB, WriteBatch};

fn col(id: i64, name: &str, tp: ColumnType, f: impl FnOnce(&mut FieldType)) -> ColumnInfo {
    let mut ft = FieldType::new(tp);
    f(&mut ft);
    ColumnInfo::new(id, name, usize::try_from(id - 1).unwrap(), ft)
}

fn all_types_table() -> TableInfo {
    let mut id = col(1, "id", ColumnType::BigInt, |ft| ft.not_null = true);
    id.auto_increment = true;
    let columns = vec![
        id,
        col(2, "ti", ColumnType::TinyInt, |_| {}),
        col(3, "ub", ColumnType::BigInt, |ft| ft.unsigned = true),
        col(4, "f", ColumnType::Float, |_| {}),
        col(5, "d", ColumnType::Double, |_| {}),
        col(6, "dec", ColumnType::Decimal, |ft| {
            ft.flen = Some(10);
            ft.decimal = Some(3);
        }),
        col(7, "dt", ColumnType::Date, |_| {}),
        col(8, "dtm", ColumnType::DateTime, |ft| ft.decimal = Some(6)),
        col(9, "ts", ColumnType::Timestamp, |_| {}),
        col(10, "tm", ColumnType::Time, |_| {}),
        col(11, "yr", ColumnType::Year, |_| {}),
        col(12, "ch", ColumnType::Char, |ft| ft.flen = Some(5)),
        col(13, "vc", ColumnType::VarChar, |ft| ft.flen = Some(20)),
        col(14, "bin", ColumnType::VarBinary, |ft| ft.flen = Some(10)),
        col(15, "txt", ColumnType::Text, |_| {}),
        col(16, "e", ColumnType::Enum, |ft| {
            ft.elems = vec!["a".into(), "b".into()]
        }),
        col(17, "s", ColumnType::Set, |ft| {
            ft.elems = vec!["x".into(), "y".into(), "z".into()]
        }),
        col(18, "b", ColumnType::Bit, |ft| ft.flen = Some(12)),
        col(19, "j", ColumnType::Json, |_| {}),
    ];
    let ic = |name: &str, offset| IndexColumn {
        name: name.into(),
        offset,
        length: None,
    };
    TableInfo {
        id: 0,
        name: "all_types".into(),
        charset: "utf8mb4".into(),
        collation: String::new(),
        columns,
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
                name: "u_vc".into(),
                columns: vec![ic("vc", 12)],
                unique: true,
                primary: false,
            },
            IndexInfo {
                id: 3,
                name: "k_dec".into(),
                columns: vec![ic("dec", 5), ic("dt", 6)],
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

fn b(s: &[u8]) -> Datum {
    Datum::Bytes(s.to_vec())
}

/// Encodes `rows` into the store and returns the import-time checksum.
fn load(
    db: &DB,
    db_name: &str,
    t: &TableInfo,
    rows: &[Vec<Datum>],
) -> (TableInfo, KvChecksum, i64) {
    let created = Catalog::new(db).create_table(db_name, t).unwrap();
    let info = Arc::new(TidbTableInfo {
        id: created.id,
        db: db_name.into(),
        name: created.name.clone(),
        core: created.clone(),
    });
    let mut enc = KvEncodingBuilder
        .new_encoder(&EncodingConfig {
            table: info,
            sql_mode: SqlMode::parse("STRICT_ALL_TABLES").unwrap(),
            timestamp: 0,
        })
        .unwrap();
    let perm: Vec<Option<usize>> = (0..t.columns.len()).map(Some).collect();
    let mut batch = WriteBatch::default();
    let mut ck = KvChecksum::new();
    for (i, r) in rows.iter().enumerate() {
        let row_id = i64::try_from(i).unwrap() + 1;
        let EncodedRow::Kv { record, indexes } =
            enc.encode(r, row_id, &perm, &RowOrigin::default()).unwrap()
        else {
            panic!("KV encoder produced SQL")
        };
        for p in std::iter::once(&record).chain(&indexes) {
            ck.update_one(&p.key, &p.value);
            batch.put(&p.key, &p.value);
        }
    }
    db.write(batch).unwrap();
    assert_eq!(enc.take_warnings(), 0);
    (created, ck, enc.max_auto_id())
}

#[test]
fn every_column_type_round_trips_through_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = DB::open_default(dir.path()).unwrap();
    let rows = vec![
        vec![
            b(b"1"),
            b(b"-128"),
            b(b"18446744073709551615"),
            b(b"-3.5"),
            b(b"1.5e300"),
            b(b"-1234567.125"),
            b(b"1000-01-01"),
            b(b"9999-12-31 23:59:59.999999"),
            b(b"1970-01-01 00:00:01"),
            b(b"-838:59:59"),
            b(b"1901"),
            b(b"ab"),
            b("héllo".as_bytes()),
            b(b"\x00\xff\"\\"),
            b(b""),
            b(b"b"),
            b(b"z,x"),
            b(&[0x0F, 0xFF]),
            b(br#"{"k":[1,null]}"#),
        ],
        {
            let mut r = vec![Datum::Null; 19];
            r[0] = Datum::Null; // auto-increment: takes the row id 2
            r
        },
        vec![
            b(b"3"),
            b(b"127"),
            b(b"0"),
            b(b"0"),
            b(b"-0.000001"),
            b(b"0"),
            b(b"9999-12-31"),
            b(b"1000-01-01 00:00:00"),
            b(b"2038-01-19 03:14:07"),
            b(b"838:59:59"),
            b(b"2155"),
            b(b""),
            b(b""),
            b(b""),
            b(b"line\nbreak, \"q\""),
            b(b"a"),
            b(b""),
            b(&[0, 0]),
            b(br#""str""#),
        ],
    ];
    let (t, import_ck, max_auto) = load(&db, "rt", &all_types_table(), &rows);
    assert_eq!(max_auto, 3);

    let mut csv = Vec::new();
    assert_eq!(
        store::export_table(&db, "rt", "all_types", Format::Csv, &mut csv).unwrap(),
        3
    );
    let mut want: Vec<u8> = Vec::new();
    want.extend_from_slice(br#""id","ti","ub","f","d","dec","dt","dtm","ts","tm","yr","ch","vc","bin","txt","e","s","b","j""#);
    want.push(b'\n');
    want.extend_from_slice(b"1,-128,18446744073709551615,-3.5,1.5e300,-1234567.125,1000-01-01,9999-12-31 23:59:59.999999,1970-01-01 00:00:01,-838:59:59,1901,\"ab\",\"h\xc3\xa9llo\",\"\x00\xff\"\"\\\\\",\"\",\"b\",\"x,z\",\"\x0f\xff\",\"{\"\"k\"\": [1, null]}\"\n");
    want.extend_from_slice(
        b"2,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N\n",
    );
    want.extend_from_slice(b"3,127,0,0,-1e-6,0.000,9999-12-31,1000-01-01 00:00:00.000000,2038-01-19 03:14:07,838:59:59,2155,\"\",\"\",\"\",\"line\nbreak, \"\"q\"\"\",\"a\",\"\",\"\x00\x00\",\"\"\"str\"\"\"\n");
    assert_eq!(
        String::from_utf8_lossy(&csv),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(csv, want);

    // The scan checksum equals the import-time one (records + indexes).
    assert_eq!(
        store::checksum_table(&db, "rt", "all_types").unwrap(),
        import_ck
    );
    assert_eq!(import_ck.kvs, 3 + 3 + 3);

    // Lookups by primary key.
    let row3 = store::get_row(&db, "rt", "all_types", &["3"])
        .unwrap()
        .unwrap();
    assert_eq!(store::csv_line(&t, &row3), row3_line(&want));
    assert!(
        store::get_row(&db, "rt", "all_types", &["99"])
            .unwrap()
            .is_none()
    );
    assert!(store::get_row(&db, "rt", "all_types", &["x"]).is_err());

    // Listing.
    let tables = store::list_tables(&db).unwrap();
    assert_eq!(tables.len(), 1);
    assert_eq!(
        (
            tables[0].db.as_str(),
            tables[0].table.as_str(),
            tables[0].rows
        ),
        ("rt", "all_types", 3)
    );

    // SQL export.
    let mut sql = Vec::new();
    store::export_table(&db, "rt", "all_types", Format::Sql, &mut sql).unwrap();
    let sql = String::from_utf8(sql).unwrap();
    assert!(
        sql.starts_with("INSERT INTO `all_types` (`id`,`ti`,"),
        "{sql}"
    );
    assert!(
        sql.contains("'héllo',0x00FF225C,'','b','x,z',b'111111111111','{\"k\": [1, null]}')"),
        "{sql}"
    );
    assert!(sql.contains("'line\\nbreak, \"q\"'"), "{sql}");
    assert!(sql.trim_end().ends_with(';'));
}

/// The last data line (row 3) of the expected CSV.
fn row3_line(want: &[u8]) -> Vec<u8> {
    // Row 3 contains an embedded newline: take everything after row 2's line.
    let marker = b"\\N\n3,";
    let at = want
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap()
        + 3;
    want[at..].to_vec()
}

/// `kv (k VARCHAR(10), n INT, PRIMARY KEY (k, n))`: a non-handle primary
/// key, so every row is a record plus an index pair.
fn kv_table() -> TableInfo {
    TableInfo {
        id: 0,
        name: "kv".into(),
        charset: "utf8mb4".into(),
        collation: String::new(),
        columns: vec![
            col(1, "k", ColumnType::VarChar, |ft| {
                ft.flen = Some(10);
                ft.not_null = true;
            }),
            col(2, "n", ColumnType::Int, |ft| ft.not_null = true),
        ],
        indices: vec![IndexInfo {
            id: 1,
            name: "PRIMARY".into(),
            columns: vec![
                IndexColumn {
                    name: "k".into(),
                    offset: 0,
                    length: None,
                },
                IndexColumn {
                    name: "n".into(),
                    offset: 1,
                    length: None,
                },
            ],
            unique: true,
            primary: true,
        }],
        pk_is_handle: false,
        is_common_handle: false,
        auto_increment_base: 0,
        create_sql: None,
    }
}

#[test]
fn non_handle_primary_key_lookup_and_rerun_with_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let db = DB::open_default(dir.path()).unwrap();
    let t = kv_table();
    let rows = vec![vec![b(b"alpha"), b(b"1")], vec![b(b"beta"), b(b"-2")]];
    let (created, ck, _) = load(&db, "d2", &t, &rows);
    // Same schema again: same table id; the pairs are identical.
    let (again, ck2, _) = load(&db, "d2", &t, &rows);
    assert_eq!(created.id, again.id);
    assert_eq!(ck, ck2);
    assert_eq!(store::checksum_table(&db, "d2", "kv").unwrap(), ck);
    let row = store::get_row(&db, "d2", "kv", &["beta", "-2"])
        .unwrap()
        .unwrap();
    assert_eq!(row, vec![b(b"beta"), Datum::Int(-2)]);
    assert!(
        store::get_row(&db, "d2", "kv", &["beta", "2"])
            .unwrap()
            .is_none()
    );
    assert!(store::get_row(&db, "d2", "kv", &["beta"]).is_err());
    let err = store::checksum_table(&db, "d2", "missing").unwrap_err();
    assert_eq!(err.kind(), backend_core::ErrorKind::NotFound);
}

#[test]
fn scan_table_cuts_at_ssts_and_counts_each_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(true);
    // Small output files, so the compaction below leaves many SSTs to cut at.
    opts.set_target_file_size_base(4 << 10);
    opts.set_compression_type(rocksdb::DBCompressionType::None);
    let db = DB::open(&opts, dir.path()).unwrap();
    let rows: Vec<Vec<Datum>> = (0..3000)
        .map(|i| {
            vec![
                b(format!("k{i:05}").as_bytes()),
                b(i.to_string().as_bytes()),
            ]
        })
        .collect();
    let (kv, ck, _) = load(&db, "d", &kv_table(), &rows);
    // Neighbours on both sides of the table's range must not be counted.
    let mut before = kv_table();
    before.name = "a".into();
    load(&db, "d", &before, &rows[..10]);
    let mut empty = kv_table();
    empty.name = "z".into();
    let (empty, ..) = load(&db, "d", &empty, &[]);
    // Force a rewrite: a lone L0 file would otherwise just move down whole.
    let mut compact = rocksdb::CompactOptions::default();
    compact.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
    db.compact_range_opt(None::<&[u8]>, None::<&[u8]>, &compact);
    let files = db.live_files().unwrap().len();
    assert!(files > 8, "{files} SSTs, too few to cut at");

    let found = store::scan_table(&db, "d", "kv").unwrap();
    assert_eq!(found.checksum, ck);
    assert_eq!(found.rows, 3000);
    assert_eq!(store::count_rows(&db, kv.id).unwrap(), 3000);
    assert!(store::has_rows(&db, kv.id).unwrap());

    let nothing = store::scan_table(&db, "d", "z").unwrap();
    assert_eq!(nothing, store::TableScan::default());
    assert!(!store::has_rows(&db, empty.id).unwrap());
}
