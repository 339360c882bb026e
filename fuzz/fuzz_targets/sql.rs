//! Any bytes, optionally after an `INSERT` head: the SQL parser returns
//! rows or errors naming the file, never panics or loops, reports
//! increasing offsets within the input, and a parser resumed at a reported
//! row boundary (with the columns a checkpoint keeps) reads the same rows.
#![no_main]

use std::io::Cursor;
use std::sync::Arc;

use dump_source::sql::SqlParser;
use dump_source::{DataCharset, ParserOptions, RowParser};
use importer_fuzz::{End, Seen, check_resume, drain};
use libfuzzer_sys::fuzz_target;

fn open(
    input: &[u8],
    offset: u64,
    row_id: i64,
    no_backslash: bool,
    opts: &ParserOptions,
) -> Option<Box<dyn RowParser>> {
    let start = usize::try_from(offset).ok()?;
    let reader = Box::new(Cursor::new(input.get(start..)?.to_vec()));
    Some(Box::new(SqlParser::new(
        reader,
        Arc::from("fuzz.sql"),
        offset,
        row_id,
        no_backslash,
        opts.clone(),
    )))
}

/// Finding rows without reading their values (how large files are cut
/// into chunks) agrees with reading them: each row read has the same
/// offsets and column list, and input read to its end is found to its end.
/// Rows with bad values are found too, so ids are matched, not positions.
fn check_skipping(
    input: &[u8],
    seen: &[Seen],
    how: &End,
    end: u64,
    no_backslash: bool,
    opts: &ParserOptions,
) {
    let reader = Box::new(Cursor::new(input.to_vec()));
    let mut skipping = SqlParser::new(
        reader,
        Arc::from("fuzz.sql"),
        0,
        0,
        no_backslash,
        opts.clone(),
    )
    .skipping_values();
    let (found, how_found) = drain(&mut skipping, 0, end);
    if *how == End::Eof {
        assert_eq!(how_found, End::Eof, "skipping values stopped where reading them did not");
    }
    for row in seen {
        let same = found.iter().find(|f| f.row_id == row.row_id);
        assert_eq!(
            same.map(|f| (f.start, f.end, &f.columns)),
            Some((row.start, row.end, &row.columns)),
            "row {} found differently than read",
            row.row_id
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let [pick, resume_at, body @ ..] = data else {
        return;
    };
    let mut input = if pick & 1 == 0 {
        b"INSERT INTO t VALUES ".to_vec()
    } else {
        Vec::new()
    };
    input.extend_from_slice(body);
    let no_backslash = pick & 2 != 0;
    let opts = ParserOptions {
        charset: if pick & 4 == 0 {
            DataCharset::Utf8mb4
        } else {
            DataCharset::Binary
        },
        expected_columns: if pick & 8 == 0 { None } else { Some(2) },
        read_block_size: 1 + usize::from(pick >> 4) * 5,
        max_row_size: 4096,
        ..ParserOptions::default()
    };
    let Some(mut p) = open(&input, 0, 0, no_backslash, &opts) else {
        return;
    };
    let end = u64::try_from(input.len()).unwrap_or(u64::MAX);
    let (seen, how) = drain(p.as_mut(), 0, end);
    check_skipping(&input, &seen, &how, end, no_backslash, &opts);
    if seen.is_empty() {
        return;
    }
    let k = usize::from(*resume_at) % seen.len();
    check_resume(&seen, &how, k, end, |offset, row_id| {
        open(&input, offset, row_id, no_backslash, &opts)
    });
});
