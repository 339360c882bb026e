//! CSV parser behaviour: every `[mydumper.csv]` option, offsets, bad input.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::sync::Arc;

use backend_core::Datum;
use dump_source::csv::{CsvOptions, CsvParser};
use dump_source::{DataCharset, ParserOptions, Row, RowParser, SourceError};

fn parser_with(data: &[u8], csv: CsvOptions, opts: ParserOptions) -> CsvParser {
    CsvParser::new(
        Box::new(Cursor::new(data.to_vec())),
        Arc::from("t.csv"),
        0,
        0,
        csv,
        opts,
    )
    .unwrap()
}

fn no_header() -> CsvOptions {
    CsvOptions {
        header: false,
        ..CsvOptions::default()
    }
}

fn rows(data: &[u8], csv: CsvOptions) -> Vec<Row> {
    // A tiny read block makes every row straddle buffer refills.
    for block in [1usize, 7, 64 << 10] {
        let opts = ParserOptions {
            read_block_size: block,
            ..ParserOptions::default()
        };
        let mut p = parser_with(data, csv.clone(), opts);
        let mut out = Vec::new();
        while let Some(r) = p.read_row().unwrap() {
            out.push(r);
        }
        if block == 64 << 10 {
            return out;
        }
        let mut p = parser_with(data, csv.clone(), ParserOptions::default());
        let mut big = Vec::new();
        while let Some(r) = p.read_row().unwrap() {
            big.push(r);
        }
        assert_eq!(out, big, "block size {block} changes the result");
    }
    unreachable!()
}

fn b(s: &str) -> Datum {
    Datum::Bytes(s.as_bytes().to_vec())
}

fn values(rs: &[Row]) -> Vec<Vec<Datum>> {
    rs.iter().map(|r| r.values.clone()).collect()
}

fn first_error(data: &[u8], csv: CsvOptions, opts: ParserOptions) -> SourceError {
    let mut p = parser_with(data, csv, opts);
    loop {
        match p.read_row() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("expected an error"),
            Err(e) => return e,
        }
    }
}

#[test]
fn default_options_header_quotes_escapes_null() {
    let data = b"a,b,c\n1,\"x,y\",\\N\n2,\"say \"\"hi\"\"\",\"\"\n3,p\\,q,\"l1\nl2\"\n";
    let rs = rows(data, CsvOptions::default());
    assert_eq!(
        values(&rs),
        vec![
            vec![b("1"), b("x,y"), Datum::Null],
            vec![b("2"), b("say \"hi\""), b("")],
            vec![b("3"), b("p,q"), b("l1\nl2")],
        ]
    );
    let mut p = parser_with(data, CsvOptions::default(), ParserOptions::default());
    p.read_row().unwrap();
    assert_eq!(p.columns().unwrap(), ["a", "b", "c"]);
}

#[test]
fn exact_offsets_and_row_ids() {
    let data = b"h\r\nx\r\nyy\rzzz\n";
    let rs = rows(data, CsvOptions::default());
    let got: Vec<(u64, u64, i64)> = rs
        .iter()
        .map(|r| (r.start_offset, r.end_offset, r.row_id))
        .collect();
    assert_eq!(got, vec![(3, 6, 1), (6, 9, 2), (9, 13, 3)]);
    assert_eq!(
        values(&rs),
        vec![vec![b("x")], vec![b("yy")], vec![b("zzz")]]
    );
}

#[test]
fn resume_at_reported_offset() {
    let data = b"1,a\n2,b\n3,c\n";
    let mut p = CsvParser::new(
        Box::new(Cursor::new(data[4..].to_vec())),
        Arc::from("t.csv"),
        4,
        10,
        no_header(),
        ParserOptions::default(),
    )
    .unwrap();
    let r = p.read_row().unwrap().unwrap();
    assert_eq!((r.start_offset, r.end_offset, r.row_id), (4, 8, 11));
    assert_eq!(r.values, vec![b("2"), b("b")]);
    let mut p = parser_with(data, no_header(), ParserOptions::default());
    p.set_pos(8, 20).unwrap();
    let r = p.read_row().unwrap().unwrap();
    assert_eq!(
        (r.start_offset, r.row_id, r.values.clone()),
        (8, 21, vec![b("3"), b("c")])
    );
    assert_eq!(p.pos(), (12, 21));
    assert!(p.set_pos(0, 0).is_err());
}

#[test]
fn multi_byte_separator_delimiter_terminator() {
    let csv = CsvOptions {
        separator: "||".into(),
        delimiter: "'#".into(),
        terminator: "<END>\n".into(),
        header: false,
        ..CsvOptions::default()
    };
    let data = b"1||'#a||b'#||c<END>\n2||'#x'#'#y'#||<END>\n";
    let rs = rows(data, csv);
    assert_eq!(
        values(&rs),
        vec![
            vec![b("1"), b("a||b"), b("c")],
            vec![b("2"), b("x'#y"), b("")]
        ]
    );
}

#[test]
fn empty_delimiter_means_no_quoting() {
    let csv = CsvOptions {
        delimiter: String::new(),
        header: false,
        ..CsvOptions::default()
    };
    assert_eq!(
        values(&rows(b"\"a\",b\n", csv)),
        vec![vec![b("\"a\""), b("b")]]
    );
}

#[test]
fn null_list_not_null_and_quoted_null() {
    let csv = CsvOptions {
        null: vec!["NULL".into(), "nil".into()],
        header: false,
        ..CsvOptions::default()
    };
    assert_eq!(
        values(&rows(b"NULL,nil,\"NULL\",x,\\N\n", csv.clone())),
        vec![vec![
            Datum::Null,
            Datum::Null,
            Datum::Null,
            b("x"),
            Datum::Null
        ]]
    );
    let text = CsvOptions {
        quoted_null_is_text: true,
        ..csv.clone()
    };
    assert_eq!(
        values(&rows(b"\"NULL\",NULL\n", text)),
        vec![vec![b("NULL"), Datum::Null]]
    );
    let nn = CsvOptions {
        not_null: true,
        ..csv
    };
    assert_eq!(
        values(&rows(b"NULL,\\N\n", nn)),
        vec![vec![b("NULL"), b("N")]]
    );
}

#[test]
fn backslash_escapes_decode_and_can_be_disabled() {
    let data = b"\"\\0\\b\\n\\r\\t\\Z\\\\\\\"\",a\\tb\n";
    assert_eq!(
        values(&rows(data, no_header())),
        vec![vec![
            Datum::Bytes(b"\0\x08\n\r\t\x1a\\\"".to_vec()),
            b("a\tb")
        ]]
    );
    let off = CsvOptions {
        backslash_escape: false,
        header: false,
        ..CsvOptions::default()
    };
    // Without escapes `\N` is still NULL through the null list.
    assert_eq!(
        values(&rows(b"a\\tb,\\N\n", off)),
        vec![vec![b("a\\tb"), Datum::Null]]
    );
    let custom = CsvOptions {
        escaped_by: "!".into(),
        header: false,
        ..CsvOptions::default()
    };
    assert_eq!(
        values(&rows(b"a!,b,!N\n", custom)),
        vec![vec![b("a,b"), Datum::Null]]
    );
}

#[test]
fn trim_last_separator() {
    let csv = CsvOptions {
        trim_last_separator: true,
        header: false,
        ..CsvOptions::default()
    };
    assert_eq!(
        values(&rows(b"1,2,\n3,4,\n", csv)),
        vec![vec![b("1"), b("2")], vec![b("3"), b("4")]]
    );
    assert_eq!(
        values(&rows(b"1,2,\n", no_header())),
        vec![vec![b("1"), b("2"), b("")]]
    );
}

#[test]
fn terminators_bom_blank_lines_and_missing_final_newline() {
    let data = b"\xEF\xBB\xBFa,b\r\n\r\n1,2\r3,4\n\n5,6";
    let rs = rows(data, no_header());
    assert_eq!(
        values(&rs),
        vec![
            vec![b("a"), b("b")],
            vec![b("1"), b("2")],
            vec![b("3"), b("4")],
            vec![b("5"), b("6")]
        ]
    );
    assert_eq!(rs[0].start_offset, 3);
    let lf = CsvOptions {
        terminator: "\n".into(),
        header: false,
        ..CsvOptions::default()
    };
    // With an explicit `\n` terminator `\r` is data.
    assert_eq!(values(&rows(b"a\r,b\n", lf)), vec![vec![b("a\r"), b("b")]]);
}

#[test]
fn header_only_and_empty_file_give_no_rows() {
    let mut p = parser_with(b"a,b\n", CsvOptions::default(), ParserOptions::default());
    assert!(p.read_row().unwrap().is_none());
    assert_eq!(p.columns().unwrap(), ["a", "b"]);
    assert!(rows(b"", CsvOptions::default()).is_empty());
    let skip = CsvOptions {
        header_schema_match: false,
        ..CsvOptions::default()
    };
    let mut p = parser_with(b"a,b\n1,2\n", skip, ParserOptions::default());
    assert_eq!(p.read_row().unwrap().unwrap().values, vec![b("1"), b("2")]);
    assert!(p.columns().is_none());
}

#[test]
fn charsets() {
    // "中文" in GB18030 and "é" in cp1252.
    let gbk = b"\xD6\xD0\xCE\xC4,x\n";
    for cs in [DataCharset::Gbk, DataCharset::Gb18030] {
        let opts = ParserOptions {
            charset: cs,
            ..ParserOptions::default()
        };
        let mut p = CsvParser::new(
            dump_source::decode_stream(Box::new(Cursor::new(gbk.to_vec())), cs),
            Arc::from("g.csv"),
            0,
            0,
            no_header(),
            opts,
        )
        .unwrap();
        assert_eq!(
            p.read_row().unwrap().unwrap().values,
            vec![b("中文"), b("x")]
        );
    }
    let opts = ParserOptions {
        charset: DataCharset::Latin1,
        ..ParserOptions::default()
    };
    let mut p = CsvParser::new(
        dump_source::decode_stream(
            Box::new(Cursor::new(b"caf\xE9\n".to_vec())),
            DataCharset::Latin1,
        ),
        Arc::from("l.csv"),
        0,
        0,
        no_header(),
        opts,
    )
    .unwrap();
    assert_eq!(p.read_row().unwrap().unwrap().values, vec![b("café")]);
    // Binary keeps invalid UTF-8; utf8mb4 rejects it unless the field is binary.
    let bin = ParserOptions {
        charset: DataCharset::Binary,
        ..ParserOptions::default()
    };
    let mut p = parser_with(b"\xFF\n", no_header(), bin);
    assert_eq!(
        p.read_row().unwrap().unwrap().values,
        vec![Datum::Bytes(vec![0xFF])]
    );
    let blob_field = ParserOptions {
        binary_fields: vec![1],
        ..ParserOptions::default()
    };
    let mut p = parser_with(b"a,\xFF\n", no_header(), blob_field);
    assert!(p.read_row().unwrap().is_some());
}

#[test]
fn bad_inputs_name_file_offset_line() {
    let e = first_error(
        b"1,2\n3,\"open\n4,5\n",
        no_header(),
        ParserOptions::default(),
    );
    assert_eq!(
        e.to_string(),
        "t.csv: offset 6, line 2: unterminated quoted field"
    );
    assert!(!e.is_row_error());

    let opts = ParserOptions {
        expected_columns: Some(2),
        ..ParserOptions::default()
    };
    let mut p = parser_with(b"1,2\n3\n4,5\n", no_header(), opts);
    p.read_row().unwrap();
    let e = p.read_row().unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.csv: offset 4, line 2: wrong column count: expected 2 fields, found 1"
    );
    assert!(e.is_row_error());
    // The bad row was stepped over, not dropped silently: the next is row 3.
    let r = p.read_row().unwrap().unwrap();
    assert_eq!((r.row_id, r.values.clone()), (3, vec![b("4"), b("5")]));

    let e = first_error(
        b"a,b\n1,2,3\n",
        CsvOptions::default(),
        ParserOptions::default(),
    );
    assert!(
        e.to_string()
            .contains("offset 4, line 2: wrong column count"),
        "{e}"
    );

    let e = first_error(b"ok\n\xC3\x28\n", no_header(), ParserOptions::default());
    assert_eq!(
        e.to_string(),
        "t.csv: offset 3, line 2: field 1 is not valid UTF-8"
    );

    let e = first_error(b"abc\\", no_header(), ParserOptions::default());
    assert_eq!(
        e.to_string(),
        "t.csv: offset 3, line 1: escape character at end of data"
    );

    let e = first_error(b"\"a\"b,c\n", no_header(), ParserOptions::default());
    assert!(
        e.to_string()
            .contains("offset 3, line 1: unexpected character after a quoted field"),
        "{e}"
    );

    let small = ParserOptions {
        max_row_size: 100,
        read_block_size: 64,
        ..ParserOptions::default()
    };
    let long = [b"x,y\n".as_slice(), &vec![b'a'; 1000], b"\n"].concat();
    let e = first_error(&long, no_header(), small);
    assert_eq!(
        e.to_string(),
        "t.csv: offset 4, line 2: row is longer than 100 bytes"
    );
}

#[test]
fn invalid_options_are_errors() {
    for csv in [
        CsvOptions {
            separator: String::new(),
            ..CsvOptions::default()
        },
        CsvOptions {
            separator: "\"".into(),
            ..CsvOptions::default()
        },
        CsvOptions {
            escaped_by: "ab".into(),
            ..CsvOptions::default()
        },
    ] {
        assert!(
            CsvParser::new(
                Box::new(Cursor::new(Vec::new())),
                Arc::from("x"),
                0,
                0,
                csv,
                ParserOptions::default()
            )
            .is_err()
        );
    }
}

mod fast_path_equivalence {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The fast line path and the general state machine must agree: a
        // separator change to two bytes forces the general path.
        #[test]
        fn same_rows_either_path(cells in proptest::collection::vec(proptest::collection::vec("[a-c,\"\\\\\r\n]{0,4}", 1..4), 0..6)) {
            let mut one = Vec::new();
            let mut two = Vec::new();
            for row in &cells {
                let quoted: Vec<String> = row.iter().map(|c| format!("\"{}\"", c.replace('\\', "\\\\").replace('"', "\"\""))).collect();
                one.extend_from_slice(quoted.join(",").as_bytes());
                one.push(b'\n');
                two.extend_from_slice(quoted.join(";;").as_bytes());
                two.push(b'\n');
            }
            let a = rows(&one, no_header());
            let b2 = rows(&two, CsvOptions { separator: ";;".into(), header: false, ..CsvOptions::default() });
            prop_assert_eq!(values(&a), values(&b2));
            let want: Vec<Vec<Datum>> = cells.iter().map(|r| r.iter().map(|c| Datum::Bytes(c.as_bytes().to_vec())).collect()).collect();
            prop_assert_eq!(values(&a), want);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut p = parser_with(&data, CsvOptions::default(), ParserOptions { read_block_size: 3, ..ParserOptions::default() });
            let mut last = 0;
            for _ in 0..400 {
                match p.read_row() {
                    Ok(Some(row)) => {
                        // Offsets only move forward and every row has bytes.
                        prop_assert!(row.start_offset >= last && row.end_offset > row.start_offset);
                        last = row.end_offset;
                    }
                    Ok(None) => break,
                    Err(e) if e.is_row_error() => {}
                    Err(_) => break,
                }
            }
        }
    }
}

/// `data-invalid-char-replace`: a byte sequence invalid in GB18030 becomes
/// the replacement instead of stopping the file; without one it is an
/// error naming the byte.
#[test]
fn invalid_gb18030_bytes_take_the_replacement() {
    use std::io::Read as _;
    // "中", an invalid 0xFF, "文".
    let data = b"\xD6\xD0\xFF\xCE\xC4,x\n".to_vec();
    let mut out = String::new();
    dump_source::compress::DecodingReader::new(Cursor::new(data.clone()), encoding_rs::GB18030)
        .replacing("<?>")
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "中<?>文,x\n");
    let err = dump_source::compress::DecodingReader::new(Cursor::new(data), encoding_rs::GB18030)
        .read_to_string(&mut String::new())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid gb18030 character near input byte 2"),
        "{err}"
    );
}
