//! What the fuzz targets check beyond "no panic", shared by them.
//!
//! The row parsers are driven to the end of their input and must report
//! rows whose offsets increase, stay within the input and move forward by
//! at least one byte; a row error must also make progress (no endless
//! loop). Then a second parser is started at one reported row boundary, as
//! a resumed checkpoint or a later chunk of a split file does, and must
//! read exactly the rows the first one read after that boundary.

use dump_source::{Row, RowParser, SourceError};

/// One row as the comparison sees it: id, offsets and values (`Debug`, so
/// NaN compares equal to itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The row id the parser gave.
    pub row_id: i64,
    /// Stream offset of the row's first byte.
    pub start: u64,
    /// Stream offset after the row.
    pub end: u64,
    /// The values, formatted.
    pub values: String,
    /// The column names the parser knew after the row (a CSV header, the
    /// `INSERT`'s column list): what a checkpoint restores on resume.
    pub columns: Option<Vec<String>>,
}

/// How a parser run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// At the end of the data.
    Eof,
    /// At an error that ends the file, after the parser's position `pos`.
    Fatal(u64),
}

/// Reads `parser` (started at stream offset `start`) to the end, checking
/// offsets against `input_end` (the stream offset just past the input).
///
/// # Panics
/// When a row's offsets go backward, beyond the input or do not advance,
/// or when row errors repeat without progress.
pub fn drain(parser: &mut dyn RowParser, start: u64, input_end: u64) -> (Vec<Seen>, End) {
    let mut seen = Vec::new();
    let mut last = start;
    // Every row or row error consumes at least one byte, so more steps than
    // bytes is a loop.
    let mut budget = input_end - start + 2;
    loop {
        assert!(budget > 0, "parser loops: no progress after offset {last}");
        budget -= 1;
        let mut row = Row::default();
        match parser.read_row_into(&mut row) {
            Ok(true) => {
                assert!(
                    row.start_offset >= last && row.end_offset > row.start_offset,
                    "row offsets {}..{} after {last}",
                    row.start_offset,
                    row.end_offset
                );
                assert!(
                    row.end_offset <= input_end,
                    "row ends at {} past the input end {input_end}",
                    row.end_offset
                );
                assert_eq!(
                    parser.pos(),
                    (row.end_offset, row.row_id),
                    "pos() after a row"
                );
                last = row.end_offset;
                seen.push(Seen {
                    row_id: row.row_id,
                    start: row.start_offset,
                    end: row.end_offset,
                    values: format!("{:?}", row.values),
                    columns: parser.columns().map(<[String]>::to_vec),
                });
            }
            Ok(false) => return (seen, End::Eof),
            Err(e) if e.is_row_error() => check_message(&e),
            Err(e) => {
                check_message(&e);
                return (seen, End::Fatal(parser.pos().0));
            }
        }
    }
}

/// Errors name the file they are about.
fn check_message(e: &SourceError) {
    let text = e.to_string();
    assert!(
        text.contains("fuzz."),
        "error does not name the file: {text}"
    );
}

/// Checks that a parser resumed at the end of row `seen[k]` reads exactly
/// the rows after it. `resume(offset, row_id)` opens that parser; it is
/// given the columns known at that point, as a checkpoint restores them.
///
/// # Panics
/// When the resumed parser reads different rows.
pub fn check_resume(
    seen: &[Seen],
    end: &End,
    k: usize,
    input_end: u64,
    resume: impl FnOnce(u64, i64) -> Option<Box<dyn RowParser>>,
) {
    let Some(at) = seen.get(k) else {
        return;
    };
    let Some(mut p) = resume(at.end, at.row_id) else {
        return;
    };
    if let Some(columns) = &at.columns {
        p.set_columns(columns.clone());
    }
    let (tail, tail_end) = drain(p.as_mut(), at.end, input_end);
    assert_eq!(
        tail.as_slice(),
        &seen[k + 1..],
        "rows after resuming at offset {}",
        at.end
    );
    if let (End::Fatal(a), End::Fatal(b)) = (end, &tail_end) {
        assert_eq!(a, b, "resumed parser fails at another position");
    } else {
        assert_eq!(end, &tail_end, "resumed parser ends differently");
    }
}
