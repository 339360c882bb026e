//! Opening a chunk's parser where its checkpoint says the chunk stands:
//! at the saved position in the saved parser state, or, when that state is
//! unknown or unusable, at the chunk's start re-parsing up to the position.

use backend_core::model::TidbTableInfo;
use dump_source as source;
use dump_source::Row;

use crate::checkpoint::ChunkCheckpoint;
use crate::import::ImportContext;
use crate::import::chunk::ChunkSource;

/// Opens the chunk's parser positioned at its recorded progress.
///
/// With the parser's state recorded at that position, the read starts
/// there: a seek of a local file, a ranged request of an object. A
/// compressed file cannot seek, so it is decompressed from its start and
/// the bytes up to the position are skipped unparsed. Without the state
/// (a checkpoint written without it), and for converted charsets (whose
/// positions are in the converted stream) and Parquet, the chunk opens at
/// its start and re-parses (not re-encodes) the rows up to the position,
/// so the parser's state (CSV header, the current INSERT's column list) is
/// exactly what it was.
pub(super) fn open_chunk_parser(
    ctx: &ImportContext,
    table: &TidbTableInfo,
    source: &ChunkSource,
    start: &ChunkCheckpoint,
) -> anyhow::Result<Box<dyn source::RowParser>> {
    let opts = &ctx.options;
    // Rows without a header or column list must carry exactly the table's
    // loadable columns: extra values would otherwise be dropped silently.
    let parser_options = source::ParserOptions {
        expected_columns: Some(table.core.loadable_columns().count()),
        ..opts.parser.clone()
    };
    let resume_at = start.parser_state.as_ref().filter(|_| {
        start.pos > start.offset
            && source.format != backend_core::SourceFormat::Parquet
            && !opts.parser.charset.converts()
    });
    let (offset, row_id) = match resume_at {
        Some(_) => (start.pos, start.next_row_id.saturating_sub(1)),
        None => (start.offset, start.prev_rowid_max),
    };
    let mut parser = source::open_parser(
        source.storage.file(&source.file, source.etag.as_deref()),
        &source.name,
        source.format,
        source.compression,
        offset,
        row_id,
        &opts.csv,
        opts.no_backslash_escapes,
        &parser_options,
    )?;
    if let Some(state) = resume_at {
        parser.restore(state.clone());
    } else if let Some(columns) = &start.columns {
        parser.set_columns(columns.clone());
    }
    parser.stop_at(start.end_offset);
    if resume_at.is_some() {
        return Ok(parser);
    }
    let mut row = Row::default();
    while parser.pos().0 < start.pos {
        match parser.read_row_into(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) if err.is_row_error() => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(parser)
}
