//! Any bytes after an INSERT head: the SQL parser must return rows or
//! errors, never panic or loop.
#![no_main]

use std::io::Cursor;
use std::sync::Arc;

use importer_cli::source::sql::SqlParser;
use importer_cli::source::{ParserOptions, RowParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let mut input = if pick & 1 == 0 { b"INSERT INTO t VALUES ".to_vec() } else { Vec::new() };
    input.extend_from_slice(body);
    let opts = ParserOptions {
        read_block_size: 1 + usize::from(pick >> 2),
        max_row_size: 4096,
        ..ParserOptions::default()
    };
    let mut p = SqlParser::new(Box::new(Cursor::new(input)), Arc::from("fuzz.sql"), 0, 0, pick & 2 != 0, opts);
    let mut last = 0;
    loop {
        match p.read_row() {
            Ok(Some(row)) => {
                assert!(row.start_offset >= last && row.end_offset > row.start_offset);
                last = row.end_offset;
            }
            Ok(None) => break,
            Err(e) if e.is_row_error() => {}
            Err(_) => break,
        }
    }
});
