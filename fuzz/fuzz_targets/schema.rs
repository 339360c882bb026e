//! Any text as a schema file (`CREATE TABLE`, `CREATE DATABASE` or
//! `CREATE VIEW`, picked by the first byte): an error naming the file, or a
//! table whose model is consistent — columns at their offsets with unique
//! ids and names, indexes naming existing columns, a handle only where the
//! primary key is one integer column.
#![no_main]

use std::collections::HashSet;

use dump_source::schema::{parse_create_database, parse_create_table, parse_create_view};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    let named = |e: &dyn std::fmt::Display| {
        let msg = e.to_string();
        assert!(
            msg.contains("fuzz-schema.sql"),
            "error does not name the file: {msg}"
        );
    };
    match pick % 4 {
        0 => match parse_create_database(text, "fuzz-schema.sql") {
            Ok(db) => assert!(!db.name.is_empty(), "database without a name"),
            Err(e) => named(&e),
        },
        1 => match parse_create_view(text, "fuzz-schema.sql") {
            Ok(_) => {}
            Err(e) => named(&e),
        },
        _ => match parse_create_table(text, "fuzz-schema.sql") {
            Ok(t) => {
                assert!(!t.name.is_empty(), "table without a name");
                let mut ids = HashSet::new();
                let mut names = HashSet::new();
                for (i, c) in t.columns.iter().enumerate() {
                    assert_eq!(c.offset, i, "column {} at the wrong offset", c.name);
                    assert!(ids.insert(c.id), "duplicate column id {}", c.id);
                    assert!(
                        names.insert(c.name.to_lowercase()),
                        "duplicate column {}",
                        c.name
                    );
                }
                for idx in &t.indices {
                    for ic in &idx.columns {
                        let col = t.columns.get(ic.offset);
                        assert!(
                            col.is_some_and(|c| c.name.eq_ignore_ascii_case(&ic.name)),
                            "index {} names column {} at offset {} which is not there",
                            idx.name,
                            ic.name,
                            ic.offset
                        );
                    }
                }
                let primaries = t.indices.iter().filter(|i| i.primary).count();
                assert!(primaries <= 1, "{primaries} primary keys");
                if t.pk_is_handle {
                    assert!(
                        t.handle_column().is_some(),
                        "pk_is_handle without a handle column"
                    );
                }
            }
            Err(e) => named(&e),
        },
    }
});
