//! Any bytes, under option sets picked by the first two bytes: the CSV
//! parser returns rows or errors naming the file, never panics or loops,
//! reports increasing offsets within the input, and a parser resumed at a
//! reported row boundary reads the same rows as the first one.
#![no_main]

use std::io::Cursor;
use std::sync::Arc;

use dump_source::csv::{CsvOptions, CsvParser};
use dump_source::{DataCharset, ParserOptions, RowParser};
use importer_fuzz::{check_resume, drain};
use libfuzzer_sys::fuzz_target;

fn options(pick: u8, pick2: u8) -> (CsvOptions, ParserOptions) {
    let csv = CsvOptions {
        separator: match pick & 3 {
            0 => ",".into(),
            1 => "||".into(),
            2 => "\t".into(),
            _ => ",,".into(),
        },
        delimiter: if pick & 4 == 0 {
            "\"".into()
        } else {
            String::new()
        },
        terminator: match (pick >> 3) & 3 {
            0 | 1 => String::new(),
            2 => "\r\n".into(),
            _ => "|\n".into(),
        },
        header: pick & 32 != 0,
        backslash_escape: pick & 64 == 0,
        trim_last_separator: pick & 128 != 0,
        not_null: pick2 & 1 != 0,
        quoted_null_is_text: pick2 & 2 != 0,
        null: if pick2 & 4 == 0 {
            vec![r"\N".into()]
        } else {
            vec!["NULL".into(), String::new()]
        },
        ..CsvOptions::default()
    };
    let opts = ParserOptions {
        // Not the converting charsets: their offsets are in the converted
        // stream, which would make the input-end and resume checks wrong.
        charset: if pick2 & 8 == 0 {
            DataCharset::Utf8mb4
        } else {
            DataCharset::Binary
        },
        binary_fields: if pick2 & 16 == 0 { Vec::new() } else { vec![1] },
        expected_columns: if pick2 & 32 == 0 { None } else { Some(2) },
        read_block_size: 1 + usize::from(pick2 >> 6) * 7,
        max_row_size: 4096,
        ..ParserOptions::default()
    };
    (csv, opts)
}

fn open(
    body: &[u8],
    offset: u64,
    row_id: i64,
    csv: &CsvOptions,
    opts: &ParserOptions,
) -> Option<Box<dyn RowParser>> {
    let start = usize::try_from(offset).ok()?;
    let reader = Box::new(Cursor::new(body.get(start..)?.to_vec()));
    CsvParser::new(
        reader,
        Arc::from("fuzz.csv"),
        offset,
        row_id,
        csv.clone(),
        opts.clone(),
    )
    .ok()
    .map(|p| Box::new(p) as Box<dyn RowParser>)
}

fuzz_target!(|data: &[u8]| {
    let [pick, pick2, resume_at, body @ ..] = data else {
        return;
    };
    let (csv, opts) = options(*pick, *pick2);
    let Some(mut p) = open(body, 0, 0, &csv, &opts) else {
        return;
    };
    let end = u64::try_from(body.len()).unwrap_or(u64::MAX);
    let (seen, how) = drain(p.as_mut(), 0, end);
    if seen.is_empty() {
        return;
    }
    let k = usize::from(*resume_at) % seen.len();
    check_resume(&seen, &how, k, end, |offset, row_id| {
        open(body, offset, row_id, &csv, &opts)
    });
});
