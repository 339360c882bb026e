//! Secondary indexes a bulk load can build after the rows are in
//! (`add-index-by-sql`): which indexes qualify, and their definitions as the
//! server prints them, so `ALTER TABLE … ADD` recreates exactly what was
//! dropped (prefix lengths, `USING`, comments, visibility included).
//!
//! Only plain non-unique `KEY`s qualify: unique keys and the primary key
//! decide what `REPLACE` / `INSERT IGNORE` do with each row, so they must be
//! there while rows arrive; an index over the auto-increment column cannot
//! be dropped (the server needs one); an index a foreign key may rely on
//! (led by a column of a foreign key, on either side) stays, since with
//! `foreign_key_checks = 0` the server would drop it and leave the
//! constraint without one; `FULLTEXT` / `SPATIAL` indexes are left alone.

use backend_core::DeferredIndex;
use backend_core::model::TableInfo;

/// The plain `KEY` lines of a `SHOW CREATE TABLE` statement whose index the
/// table model lists as deferrable (see the module docs); `fk_columns` are
/// the table's columns in a foreign key, referencing or referenced. Lines
/// that do not parse are left out: an index not recognised is simply not
/// deferred.
pub fn deferrable_indexes(
    create_table: &str,
    table: &TableInfo,
    fk_columns: &[String],
) -> Vec<DeferredIndex> {
    create_table
        .lines()
        .filter_map(key_line)
        .filter(|def| {
            table.indices.iter().any(|index| {
                index.name.eq_ignore_ascii_case(&def.name)
                    && !index.unique
                    && !index.primary
                    && index.columns.iter().all(|col| {
                        table
                            .columns
                            .get(col.offset)
                            .is_some_and(|c| !c.auto_increment)
                    })
                    && index.columns.first().is_some_and(|lead| {
                        !fk_columns
                            .iter()
                            .any(|f| f.eq_ignore_ascii_case(&lead.name))
                    })
            })
        })
        .collect()
}

/// Parses ``  KEY `name` (…),`` (quoted or bare name).
fn key_line(line: &str) -> Option<DeferredIndex> {
    let text = line.trim();
    let text = text.strip_suffix(',').unwrap_or(text);
    let rest = text.strip_prefix("KEY ")?.trim_start();
    let name = if let Some(quoted) = rest.strip_prefix('`') {
        // A backquote inside the name is doubled.
        let mut name = String::new();
        let mut chars = quoted.chars();
        loop {
            match chars.next()? {
                '`' if chars.as_str().starts_with('`') => {
                    chars.next();
                    name.push('`');
                }
                '`' => break,
                c => name.push(c),
            }
        }
        name
    } else {
        rest.split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .filter(|n| !n.is_empty())?
            .to_string()
    };
    Some(DeferredIndex {
        name,
        definition: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use backend_core::model::{ColumnInfo, ColumnType, FieldType, IndexColumn, IndexInfo};

    use super::*;

    fn index(name: &str, cols: &[usize], unique: bool, primary: bool) -> IndexInfo {
        IndexInfo {
            id: 1,
            name: name.into(),
            columns: cols
                .iter()
                .map(|&offset| IndexColumn {
                    name: format!("c{offset}"),
                    offset,
                    length: None,
                })
                .collect(),
            unique,
            primary,
        }
    }

    fn table() -> TableInfo {
        let mut columns: Vec<ColumnInfo> = (0..4usize)
            .map(|i| {
                let id = i64::try_from(i).unwrap_or_default() + 1;
                ColumnInfo::new(id, format!("c{i}"), i, FieldType::new(ColumnType::Int))
            })
            .collect();
        columns[3].auto_increment = true;
        TableInfo {
            id: 1,
            name: "t".into(),
            charset: "utf8mb4".into(),
            collation: String::new(),
            columns,
            indices: vec![
                index("PRIMARY", &[0], true, true),
                index("k1", &[1], false, false),
                index("we`ird", &[1, 2], false, false),
                index("u1", &[2], true, false),
                index("by_auto", &[3, 1], false, false),
                index("ft", &[2], false, false),
            ],
            pk_is_handle: false,
            is_common_handle: false,
            auto_increment_base: 0,
            create_sql: None,
        }
    }

    /// MariaDB 10.11's `SHOW CREATE TABLE` of the table above.
    const CREATE: &str = "CREATE TABLE `t` (\n  `c0` int(11) NOT NULL,\n  `c1` int(11) DEFAULT NULL,\n  \
        `c2` varchar(20) DEFAULT NULL,\n  `c3` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`c0`),\n  \
        UNIQUE KEY `u1` (`c2`),\n  KEY `k1` (`c1`),\n  KEY `we``ird` (`c1`,`c2`(10)) COMMENT 'a, b',\n  \
        KEY `by_auto` (`c3`,`c1`),\n  FULLTEXT KEY `ft` (`c2`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

    #[test]
    fn defers_plain_keys_with_their_exact_text() {
        let defs = deferrable_indexes(CREATE, &table(), &[]);
        assert_eq!(
            defs,
            vec![
                DeferredIndex {
                    name: "k1".into(),
                    definition: "KEY `k1` (`c1`)".into()
                },
                DeferredIndex {
                    name: "we`ird".into(),
                    definition: "KEY `we``ird` (`c1`,`c2`(10)) COMMENT 'a, b'".into()
                },
            ]
        );
    }

    #[test]
    fn bare_names_and_junk_lines() {
        let t = table();
        let defs = deferrable_indexes(
            "  KEY k1 (c1),\n  KEY `unterminated (c1)\n  KEY (c1)",
            &t,
            &[],
        );
        assert_eq!(defs.len(), 1);
        assert_eq!(defs[0].name, "k1");
        assert_eq!(defs[0].definition, "KEY k1 (c1)");
    }

    #[test]
    fn an_index_the_model_does_not_know_is_kept() {
        assert!(deferrable_indexes("  KEY `other` (`c1`)", &table(), &[]).is_empty());
    }

    #[test]
    fn an_index_led_by_a_foreign_key_column_is_kept() {
        let defs = deferrable_indexes(CREATE, &table(), &["C1".into()]);
        assert!(defs.is_empty(), "{defs:?}");
        let defs = deferrable_indexes(CREATE, &table(), &["c2".into()]);
        assert_eq!(defs.len(), 2, "c2 leads no deferrable index: {defs:?}");
    }
}
