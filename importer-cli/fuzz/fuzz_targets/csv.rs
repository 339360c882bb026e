//! Any bytes, under option sets picked by the first byte: the CSV parser
//! must return rows or errors, never panic or loop.
#![no_main]

use std::io::Cursor;
use std::sync::Arc;

use importer_cli::source::csv::{CsvOptions, CsvParser};
use importer_cli::source::{ParserOptions, RowParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let csv = CsvOptions {
        separator: if pick & 1 == 0 { ",".into() } else { "||".into() },
        delimiter: if pick & 2 == 0 { "\"".into() } else { String::new() },
        terminator: if pick & 4 == 0 { String::new() } else { "\r\n".into() },
        header: pick & 8 != 0,
        backslash_escape: pick & 16 == 0,
        trim_last_separator: pick & 32 != 0,
        ..CsvOptions::default()
    };
    let opts = ParserOptions {
        read_block_size: 1 + usize::from(pick >> 6) * 7,
        max_row_size: 4096,
        ..ParserOptions::default()
    };
    let Ok(mut p) = CsvParser::new(Box::new(Cursor::new(body.to_vec())), Arc::from("fuzz.csv"), 0, 0, csv, opts) else {
        return;
    };
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
