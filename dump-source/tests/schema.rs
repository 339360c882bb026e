//! Schema files to the table model.
#![allow(clippy::unwrap_used)]

use backend_core::model::{ColumnType, DefaultValue};
use dump_source::schema::{parse_create_database, parse_create_table, parse_create_view};

const DUMPLING: &str = "/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n\
CREATE TABLE `orders` (\n\
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,\n\
  `user_id` int(11) NOT NULL DEFAULT '0' COMMENT 'who',\n\
  `amount` decimal(15,2) DEFAULT NULL,\n\
  `note` varchar(255) CHARACTER SET latin1 COLLATE latin1_bin DEFAULT 'n/a',\n\
  `state` enum('new','paid','it''s') NOT NULL DEFAULT 'new',\n\
  `data` blob,\n\
  `created` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),\n\
  `total` decimal(16,2) GENERATED ALWAYS AS (`amount` * 2) VIRTUAL,\n\
  `neg` int DEFAULT -5,\n\
  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */,\n\
  UNIQUE KEY `uk_user` (`user_id`,`created`),\n\
  KEY `idx_note` (`note`(10)),\n\
  KEY (`state`)\n\
) ENGINE=InnoDB AUTO_INCREMENT=1001 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='t'\n\
/*!50100 PARTITION BY HASH (`id`) PARTITIONS 4 */;\n";

#[test]
fn dumpling_table_with_noise() {
    let t = parse_create_table(DUMPLING, "db.orders-schema.sql").unwrap();
    assert_eq!(t.name, "orders");
    assert_eq!(
        (
            t.charset.as_str(),
            t.collation.as_str(),
            t.auto_increment_base
        ),
        ("utf8mb4", "utf8mb4_bin", 1001)
    );
    let ids: Vec<i64> = t.columns.iter().map(|c| c.id).collect();
    assert_eq!(ids, (1..=9).collect::<Vec<_>>());
    let id = &t.columns[0];
    assert!(id.auto_increment && id.field_type.unsigned && id.field_type.not_null);
    assert_eq!(
        (id.field_type.tp, id.field_type.flen),
        (ColumnType::BigInt, Some(20))
    );
    assert_eq!(
        t.columns[1].default,
        Some(DefaultValue::Literal("0".into()))
    );
    let amount = &t.columns[2].field_type;
    assert_eq!(
        (amount.tp, amount.flen, amount.decimal),
        (ColumnType::Decimal, Some(15), Some(2))
    );
    assert_eq!(t.columns[2].default, Some(DefaultValue::Null));
    let note = &t.columns[3].field_type;
    assert_eq!(
        (note.charset.as_str(), note.collation.as_str()),
        ("latin1", "latin1_bin")
    );
    assert_eq!(t.columns[4].field_type.elems, ["new", "paid", "it's"]);
    assert_eq!(t.columns[5].field_type.charset, "binary");
    let created = &t.columns[6];
    assert_eq!(
        (created.field_type.tp, created.field_type.decimal),
        (ColumnType::DateTime, Some(3))
    );
    assert_eq!(created.default, Some(DefaultValue::CurrentTimestamp));
    assert!(created.on_update_now);
    let total = t.columns[7].generated.as_ref().unwrap();
    assert!(!total.stored && total.expr.contains("amount"));
    assert_eq!(
        t.columns[8].default,
        Some(DefaultValue::Literal("-5".into()))
    );
    // The integer primary key is the handle: listed with id 0 (TiDB gives
    // it no index id), the other indexes get ids 1..3.
    assert!(t.pk_is_handle && !t.is_common_handle);
    let idx: Vec<(i64, &str, bool)> = t
        .indices
        .iter()
        .map(|i| (i.id, i.name.as_str(), i.unique))
        .collect();
    assert_eq!(
        idx,
        vec![
            (0, "PRIMARY", true),
            (1, "uk_user", true),
            (2, "idx_note", false),
            (3, "state", false)
        ]
    );
    assert_eq!(t.handle_column().map(|c| c.offset), Some(0));
    let note = t.indices.iter().find(|i| i.name == "idx_note");
    assert_eq!(note.map(|i| i.columns[0].length), Some(Some(10)));
    assert_eq!(t.loadable_columns().count(), 8);
    assert_eq!(
        t.create_sql
            .as_deref()
            .map(|s| s.starts_with("CREATE TABLE `orders`")),
        Some(true)
    );
}

#[test]
fn handle_rules() {
    let t = parse_create_table(
        "CREATE TABLE t (a int, b int, PRIMARY KEY (a) /*T![clustered_index] NONCLUSTERED */);",
        "f",
    )
    .unwrap();
    assert!(!t.pk_is_handle);
    assert_eq!(t.indices[0].name, "PRIMARY");
    assert!(t.indices[0].primary && t.columns[0].field_type.not_null);
    let t = parse_create_table(
        "CREATE TABLE t (a varchar(10) PRIMARY KEY, b int UNIQUE);",
        "f",
    )
    .unwrap();
    assert!(!t.pk_is_handle && !t.is_common_handle);
    assert_eq!(
        t.indices
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["PRIMARY", "b"]
    );
    let t = parse_create_table(
        "CREATE TABLE t (a varchar(10), PRIMARY KEY (a) CLUSTERED);",
        "f",
    )
    .unwrap();
    assert!(t.is_common_handle);
    let t = parse_create_table("CREATE TABLE t (a int, b int, PRIMARY KEY (a, b));", "f").unwrap();
    assert!(!t.pk_is_handle);
    let t = parse_create_table("CREATE TABLE t (a int, b int);", "f").unwrap();
    assert!(!t.pk_is_handle && t.indices.is_empty() && t.charset == "utf8mb4");
}

#[test]
fn mysqldump_style() {
    let sql = "-- MySQL dump\n/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\nDROP TABLE IF EXISTS `t`;\n/*!40101 SET @saved_cs_client     = @@character_set_client */;\nCREATE TABLE `t` (\n  `id` int NOT NULL,\n  `y` year DEFAULT NULL,\n  `b` bit(3) DEFAULT b'101',\n  `j` json,\n  `s` set('a','b'),\n  `f` double unsigned zerofill,\n  PRIMARY KEY (`id`),\n  FULLTEXT KEY `ft` (`j`)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1;\n/*!40101 SET character_set_client = @saved_cs_client */;\n";
    let t = parse_create_table(sql, "f").unwrap();
    let types: Vec<ColumnType> = t.columns.iter().map(|c| c.field_type.tp).collect();
    assert_eq!(
        types,
        [
            ColumnType::Int,
            ColumnType::Year,
            ColumnType::Bit,
            ColumnType::Json,
            ColumnType::Set,
            ColumnType::Double
        ]
    );
    assert_eq!(t.charset, "latin1");
    assert!(t.pk_is_handle);
    // PRIMARY (the handle, id 0) and one real index.
    assert_eq!(t.indices.len(), 2);
    assert_eq!(t.indices.iter().filter(|i| i.id == 0).count(), 1);
}

#[test]
fn databases_and_views() {
    let db = parse_create_database("/*!40101 SET NAMES binary*/;\nCREATE DATABASE IF NOT EXISTS `my``db` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n", "f").unwrap();
    assert_eq!(db.name, "my`db");
    let v = parse_create_view(
        "/*!40101 SET NAMES binary*/;\nDROP TABLE IF EXISTS `v`;\nDROP VIEW IF EXISTS `v`;\nSET character_set_client = utf8;\nCREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW `v` (`a`) AS SELECT `t`.`a` AS `a` FROM `t`;\n",
        "db.v-schema-view.sql",
    )
    .unwrap();
    assert_eq!(v.name, "v");
    assert_eq!(
        v.create_sql,
        "CREATE VIEW `v` (`a`) AS SELECT `t`.`a` AS `a` FROM `t`"
    );
}

#[test]
fn errors_name_file_and_reason() {
    let e = parse_create_table("CREATE TABLE t (a int,, b int);", "db.t-schema.sql").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("db.t-schema.sql: line 1: cannot parse CREATE TABLE"),
        "{e}"
    );
    let e = parse_create_table("CREATE TABLE t (a geometry);", "db.t-schema.sql").unwrap_err();
    assert!(e.to_string().contains("unsupported type"), "{e}");
    let e = parse_create_table("/* only a comment */", "x.sql").unwrap_err();
    assert_eq!(e.to_string(), "x.sql: no CREATE TABLE statement found");
    let e = parse_create_table("CREATE TABLE t (a int, KEY (zz));", "x.sql").unwrap_err();
    assert!(e.to_string().contains("unknown column \"zz\""), "{e}");
    let e = parse_create_table("INSERT INTO t VALUES (1);", "x.sql").unwrap_err();
    assert!(e.to_string().contains("unexpected statement"), "{e}");
    assert!(parse_create_database("CREATE TABLE x (a int);", "x.sql").is_err());
}

/// Index key parts name columns by the parsed identifier: back-quotes
/// inside a name (doubled in the SQL) were undoubled twice, so the primary
/// key named a column that does not exist (found by `sql_escaping_cli`).
#[test]
fn index_key_parts_keep_back_quotes_in_column_names() {
    let t = parse_create_table(
        "CREATE TABLE `t` (`k````` int NOT NULL, `a\\b(` varchar(20), \
         PRIMARY KEY (`k`````), KEY `i``x` (`a\\b(`(5)));",
        "db.t-schema.sql",
    )
    .unwrap();
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["k``", "a\\b("]);
    type Key = (String, Vec<(String, Option<u32>)>);
    let keys: Vec<Key> = t
        .indices
        .iter()
        .map(|ix| {
            (
                ix.name.clone(),
                ix.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.length))
                    .collect(),
            )
        })
        .collect();
    assert!(
        keys.contains(&("i`x".to_string(), vec![("a\\b(".to_string(), Some(5))])),
        "{keys:?}"
    );
    assert!(t.pk_is_handle, "the int primary key `k``` is the handle");
}

/// `CREATE TABLE` statements as MySQL 8, MariaDB and TiDB dump them (files
/// the tidb-backend integration test runs on MariaDB too), with
/// the constructs real dumps carry: column character sets and collations
/// (`CHARSET` too), generated columns, `CHECK` constraints, comments,
/// version comments, invisible and ignored indexes, `AUTO_RANDOM`,
/// clustered keys, partitions and table options.
const MYSQL8: &str = include_str!("data/real-ddl/mysql8-items.sql");

const MARIADB: &str = include_str!("data/real-ddl/mariadb-m.sql");

const TIDB: &str = include_str!("data/real-ddl/tidb-r.sql");

#[test]
fn real_dump_constructs_parse_into_the_model() {
    let t = parse_create_table(MYSQL8, "db.items-schema.sql").unwrap();
    let cols: Vec<(&str, &str, bool)> = t
        .columns
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.field_type.charset.as_str(),
                c.generated.is_some(),
            )
        })
        .collect();
    assert_eq!(
        cols,
        [
            ("id", "", false),
            ("name", "utf8mb4", false),
            ("code", "latin1", false),
            ("price", "", false),
            ("doubled", "", true),
            ("label", "", true),
            ("hidden", "", false),
        ]
    );
    assert_eq!(t.columns[1].field_type.collation, "utf8mb4_unicode_ci");
    let idx: Vec<&str> = t.indices.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(idx, ["PRIMARY", "idx_name", "idx_price"]);
    assert!(t.pk_is_handle && t.columns[0].auto_increment);
    assert_eq!((t.charset.as_str(), t.auto_increment_base), ("utf8mb4", 7));
    // The server gets the statement as written, version comments and all.
    let sql = t.create_sql.as_deref().unwrap();
    assert!(sql.starts_with("CREATE TABLE `items`"), "{sql}");
    assert!(sql.contains("/*!50100 PARTITION BY RANGE"), "{sql}");
    assert!(sql.contains("/*!80023 INVISIBLE */"), "{sql}");

    let f = parse_create_table(
        "CREATE TABLE `f` (`a` text, FULLTEXT KEY `ft` (`a`) /*!50100 WITH PARSER `ngram` */ );",
        "db.f-schema.sql",
    )
    .unwrap();
    assert_eq!(f.indices[0].name, "ft");

    // MariaDB dumps open with a comment no server runs.
    let m = parse_create_table(
        &format!("/*!999999\\- enable the sandbox mode */ \n{MARIADB}"),
        "db.m-schema.sql",
    )
    .unwrap();
    let names: Vec<&str> = m.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "a", "b", "c", "d"]);
    assert!(m.columns[2].generated.is_some());
    assert_eq!(m.columns[1].field_type.charset, "utf8mb3");
    assert_eq!(m.indices.len(), 2);
    assert!(m.create_sql.as_deref().unwrap().ends_with("PARTITIONS 2"));

    let r = parse_create_table(TIDB, "db.r-schema.sql").unwrap();
    // AUTO_RANDOM: the dump's values are kept, missing ones allocated.
    assert!(r.pk_is_handle && r.columns[0].auto_increment);
    assert_eq!(r.indices.len(), 2);
    assert!(
        r.create_sql
            .as_deref()
            .unwrap()
            .contains("/*T![auto_rand] AUTO_RANDOM(5) */")
    );
}

/// A bare `NONCLUSTERED` (TiDB's syntax) decides the handle and reaches the
/// server inside TiDB's executable comment, which other servers skip.
#[test]
fn bare_clustered_words_are_wrapped_for_the_server() {
    let t = parse_create_table(
        "CREATE TABLE t (a bigint, PRIMARY KEY (a) NONCLUSTERED);",
        "db.t-schema.sql",
    )
    .unwrap();
    assert!(!t.pk_is_handle);
    assert_eq!(
        t.create_sql.as_deref(),
        Some("CREATE TABLE t (a bigint, PRIMARY KEY (a) /*T![clustered_index] NONCLUSTERED */)")
    );
}

/// What the local parser cannot model is refused with the file, the line
/// of the construct and the construct; the statement and the table name
/// still come out for a server to judge.
#[test]
fn unmodelled_constructs_name_file_line_and_construct() {
    let text = "/*!40101 SET NAMES binary*/;\n\n-- a comment\nCREATE TABLE `g` (\n  `id` int NOT NULL,\n  `pt` point /*!80003 SRID 4326 */ NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n";
    let d = dump_source::schema::parse_table_definition(text, "db.g-schema.sql").unwrap();
    assert_eq!(d.name, "g");
    assert!(d.create_sql.starts_with("CREATE TABLE `g`"));
    assert!(d.create_sql.contains("/*!80003 SRID 4326 */"));
    let err = d.model.unwrap_err().to_string();
    assert!(err.starts_with("db.g-schema.sql: line 6: "), "{err}");
    assert!(
        err.contains("POINT") || err.contains("point") || err.contains("SRID"),
        "{err}"
    );

    let err = parse_create_table(
        "CREATE TABLE t (\n  a int,\n  b int SERIAL DEFAULT VALUE\n);",
        "db.t-schema.sql",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("db.t-schema.sql: line 3: cannot parse CREATE TABLE")
            && err.contains("SERIAL"),
        "{err}"
    );
    let err = parse_create_table(
        "CREATE TABLE t (\n  a int,\n  KEY k ((a + 1))\n);",
        "db.t-schema.sql",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("expression indexes"), "{err}");
}

/// `mydumper.character-set`: a GB18030 schema file reads under `auto` and
/// `gb18030`; `utf8mb4` refuses it naming the byte.
#[test]
fn schema_files_in_gb18030() {
    use dump_source::schema::SchemaCharset;
    let text = "CREATE TABLE `表` (`名字` varchar(10) COMMENT '中文');";
    let (bytes, _, _) = encoding_rs::GB18030.encode(text);
    for charset in [
        SchemaCharset::Auto,
        SchemaCharset::Gb18030,
        SchemaCharset::Gbk,
    ] {
        let decoded = charset.decode(bytes.to_vec(), "f.sql").unwrap();
        assert_eq!(decoded, text);
    }
    let err = SchemaCharset::Utf8mb4
        .decode(bytes.to_vec(), "f.sql")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("f.sql: line 1: byte 14 is not valid UTF-8"),
        "{err}"
    );
    assert_eq!(
        SchemaCharset::Latin1
            .decode(b"caf\xe9".to_vec(), "f")
            .unwrap(),
        "caf\u{e9}"
    );
}
