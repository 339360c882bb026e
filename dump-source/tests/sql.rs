//! SQL INSERT parser behaviour.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::sync::Arc;

use backend_core::{Datum, Decimal};
use dump_source::sql::SqlParser;
use dump_source::{ParserOptions, Row, RowParser, SourceError};

fn parser(data: &[u8], nbe: bool, block: usize) -> SqlParser {
    let opts = ParserOptions {
        read_block_size: block,
        ..ParserOptions::default()
    };
    SqlParser::new(
        Box::new(Cursor::new(data.to_vec())),
        Arc::from("t.sql"),
        0,
        0,
        nbe,
        opts,
    )
}

fn rows(data: &[u8]) -> Vec<Row> {
    let mut all = Vec::new();
    for block in [1usize, 5, 64 << 10] {
        let mut p = parser(data, false, block);
        let mut out = Vec::new();
        while let Some(r) = p.read_row().unwrap() {
            out.push(r);
        }
        all.push(out);
    }
    assert_eq!(all[0], all[2]);
    assert_eq!(all[1], all[2]);
    all.pop().unwrap()
}

fn b(s: &str) -> Datum {
    Datum::Bytes(s.as_bytes().to_vec())
}

fn dec(s: &str) -> Datum {
    Datum::Decimal(Decimal::parse(s).unwrap())
}

fn err(data: &[u8]) -> SourceError {
    let mut p = parser(data, false, 64 << 10);
    loop {
        match p.read_row() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("expected an error"),
            Err(e) => return e,
        }
    }
}

#[test]
fn dumpling_file_with_noise() {
    let data = b"/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\nSET @@session.sql_mode = 'x;y';\n-- comment\n# another\nINSERT INTO `t` VALUES\n(1,'a',NULL),\n(2,\"b\",TRUE);\nINSERT IGNORE INTO db.`t` (`id`,name) VALUES (3,'c'),(4 , /* c */ 'd');\nREPLACE t VALUE (5,'e');\nLOCK TABLES `t` WRITE;\nUNLOCK TABLES;\n";
    let rs = rows(data);
    let vals: Vec<Vec<Datum>> = rs.iter().map(|r| r.values.clone()).collect();
    assert_eq!(
        vals,
        vec![
            vec![Datum::Int(1), b("a"), Datum::Null],
            vec![Datum::Int(2), b("b"), Datum::Int(1)],
            vec![Datum::Int(3), b("c")],
            vec![Datum::Int(4), b("d")],
            vec![Datum::Int(5), b("e")],
        ]
    );
    let ids: Vec<i64> = rs.iter().map(|r| r.row_id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
}

#[test]
fn offsets_and_columns() {
    let data = b"INSERT INTO t (a,b) VALUES (1,2),(3,4);\n";
    let mut p = parser(data, false, 64 << 10);
    let r = p.read_row().unwrap().unwrap();
    assert_eq!((r.start_offset, r.end_offset), (27, 32));
    assert_eq!(p.columns().unwrap(), ["a", "b"]);
    let r = p.read_row().unwrap().unwrap();
    assert_eq!((r.start_offset, r.end_offset), (33, 38));
    assert!(p.read_row().unwrap().is_none());
    // Resume after the first tuple with a fresh parser.
    let mut q = SqlParser::new(
        Box::new(Cursor::new(data[32..].to_vec())),
        Arc::from("t.sql"),
        32,
        1,
        false,
        ParserOptions::default(),
    );
    let r = q.read_row().unwrap().unwrap();
    assert_eq!(
        (r.row_id, r.start_offset, r.values.clone()),
        (2, 33, vec![Datum::Int(3), Datum::Int(4)])
    );
    // And by set_pos on the same stream.
    let mut s = parser(data, false, 64 << 10);
    s.set_pos(32, 1).unwrap();
    assert_eq!(
        s.read_row().unwrap().unwrap().values,
        vec![Datum::Int(3), Datum::Int(4)]
    );
}

#[test]
fn numbers_exact() {
    let data = b"INSERT INTO t VALUES (0,-1,9223372036854775807,-9223372036854775808,9223372036854775808,18446744073709551615,18446744073709551616,-99999999999999999999,1.50,-.5,1e3,-2.5E-1, - 7, +8);";
    let rs = rows(data);
    assert_eq!(
        rs[0].values,
        vec![
            Datum::Int(0),
            Datum::Int(-1),
            Datum::Int(i64::MAX),
            Datum::Int(i64::MIN),
            Datum::Uint(9223372036854775808),
            Datum::Uint(u64::MAX),
            dec("18446744073709551616"),
            dec("-99999999999999999999"),
            dec("1.50"),
            dec("-0.5"),
            Datum::Float64(1000.0),
            Datum::Float64(-0.25),
            Datum::Int(-7),
            Datum::Int(8),
        ]
    );
}

#[test]
fn strings_and_literals() {
    let data = br#"INSERT INTO t VALUES ('a''b','c\'d','\0\b\n\r\t\Z\\\%\_\q',"x""y",0x4142,X'4344',x'',b'1000001',0b11,_binary 'raw',_utf8mb4'u',CONVERT('conv' USING utf8mb4),N'nat',FALSE,'');"#;
    let rs = rows(data);
    assert_eq!(
        rs[0].values,
        vec![
            b("a'b"),
            b("c'd"),
            Datum::Bytes(b"\0\x08\n\r\t\x1a\\\\%\\_q".to_vec()),
            b("x\"y"),
            b("AB"),
            b("CD"),
            b(""),
            b("A"),
            Datum::Bytes(vec![3]),
            b("raw"),
            b("u"),
            b("conv"),
            b("nat"),
            Datum::Int(0),
            b(""),
        ]
    );
}

#[test]
fn no_backslash_escapes_mode() {
    let data = br"INSERT INTO t VALUES ('a\nb','c\');";
    let mut p = parser(data, true, 64);
    assert_eq!(
        p.read_row().unwrap().unwrap().values,
        vec![b("a\\nb"), b("c\\")]
    );
}

#[test]
fn binary_introducer_skips_utf8_validation() {
    let data = b"INSERT INTO t VALUES (_binary '\xFF\xFE', 0xFF);";
    assert_eq!(
        rows(data)[0].values,
        vec![Datum::Bytes(vec![0xFF, 0xFE]), Datum::Bytes(vec![0xFF])]
    );
    let e = err(b"INSERT INTO t VALUES ('ok');\nINSERT INTO t VALUES ('\xFF');");
    assert_eq!(
        e.to_string(),
        "t.sql: offset 50, line 2: value 1 is not valid UTF-8"
    );
    assert!(e.is_row_error());
}

#[test]
fn bad_inputs() {
    let e = err(b"INSERT INTO t VALUES (1,'abc);\n");
    assert_eq!(
        e.to_string(),
        "t.sql: offset 24, line 1: unterminated string"
    );
    let e = err(b"INSERT INTO t VALUES (1,2)\n(3,4);");
    assert_eq!(
        e.to_string(),
        "t.sql: offset 27, line 2: expected ',' or ';' after a row"
    );
    let e = err(b"SELECT 1;");
    assert!(
        e.to_string().contains("unsupported statement \"SELECT\""),
        "{e}"
    );
    let e = err(b"INSERT INTO t VALUES (1,2),(3);INSERT INTO t (a) VALUES (1,2);");
    // Without a column list the first tuple fixes nothing; with one, counts must match.
    assert!(
        e.to_string()
            .contains("wrong column count: expected 1 values, found 2"),
        "{e}"
    );
    let e = err(b"INSERT INTO t VALUES (1, DEFAULT);");
    assert!(e.to_string().contains("\"DEFAULT\""), "{e}");
    let e = err(b"INSERT INTO t VALUES (1 /* never closed");
    assert!(e.to_string().contains("unterminated comment"), "{e}");
    let e = err(b"INSERT INTO t VALUES (0x4G);");
    assert!(e.to_string().contains("invalid hexadecimal literal"), "{e}");
    let mut p = SqlParser::new(
        Box::new(Cursor::new(b"INSERT INTO t VALUES (1,2),(3);".to_vec())),
        Arc::from("t.sql"),
        0,
        0,
        false,
        ParserOptions {
            expected_columns: Some(2),
            ..ParserOptions::default()
        },
    );
    assert!(p.read_row().unwrap().is_some());
    let e = p.read_row().unwrap_err();
    assert!(
        e.is_row_error() && e.to_string().contains("offset 27"),
        "{e}"
    );
    assert!(p.read_row().unwrap().is_none());
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(prop_oneof![Just(b'\''), Just(b'('), Just(b')'), Just(b','), Just(b';'), Just(b'\\'), Just(b'-'), Just(b'/'), Just(b'*'), any::<u8>()], 0..120)) {
            let mut input = b"INSERT INTO t VALUES ".to_vec();
            input.extend_from_slice(&data);
            let mut p = parser(&input, false, 4);
            let mut last = 0;
            for _ in 0..200 {
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

        #[test]
        fn strings_round_trip(s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut lit = Vec::from(&b"INSERT INTO t VALUES (_binary '"[..]);
            for c in &s {
                match c {
                    b'\'' => lit.extend_from_slice(b"''"),
                    b'\\' => lit.extend_from_slice(b"\\\\"),
                    0 => lit.extend_from_slice(b"\\0"),
                    c => lit.push(*c),
                }
            }
            lit.extend_from_slice(b"');");
            let mut p = parser(&lit, false, 3);
            prop_assert_eq!(p.read_row().unwrap().unwrap().values, vec![Datum::Bytes(s)]);
        }
    }
}

/// `VALUES ()` without a column list is `() VALUES ()`: the rows carry no
/// values and name no columns, so every column takes its default. The next
/// statement's own column list (none) applies again.
#[test]
fn empty_tuples_name_no_columns() {
    let data = b"INSERT INTO t VALUES (),( );\nINSERT INTO t VALUES (1,2);\n";
    let mut p = parser(data, false, 64 << 10);
    for _ in 0..2 {
        let row = p.read_row().unwrap().unwrap();
        assert!(row.values.is_empty());
        assert_eq!(p.columns(), Some(&[][..]));
    }
    let row = p.read_row().unwrap().unwrap();
    assert_eq!(row.values, vec![Datum::Int(1), Datum::Int(2)]);
    assert_eq!(p.columns(), None);
    // Rows after an empty one in the same statement are held to it.
    let mut p = parser(b"INSERT INTO t VALUES (),(1);", false, 64 << 10);
    p.read_row().unwrap();
    let err = p.read_row().unwrap_err();
    assert!(
        err.is_row_error() && err.to_string().contains("expected 0 values"),
        "{err}"
    );
}

/// A parser opened at a reported row boundary in the state reported there
/// reads on exactly as the first one did; without the state it would not
/// know the `INSERT`'s column list.
#[test]
fn a_parser_restored_at_a_row_boundary_reads_on_in_its_state() {
    let data =
        b"INSERT INTO t (b,a) VALUES (1,'x'),(2,'y');\nINSERT INTO t VALUES (3,'z'),(4,'w');";
    let all = rows(data);
    let mut first = parser(data, false, 64 << 10);
    let mut row = Row::default();
    let mut cut = Vec::new();
    while first.read_row_into(&mut row).unwrap() {
        cut.push((first.pos(), first.state()));
    }
    assert_eq!(cut.len(), all.len());
    for (i, ((offset, row_id), state)) in cut.into_iter().enumerate() {
        let rest = data[usize::try_from(offset).unwrap()..].to_vec();
        let mut resumed = SqlParser::new(
            Box::new(Cursor::new(rest)),
            Arc::from("t.sql"),
            offset,
            row_id,
            false,
            ParserOptions::default(),
        );
        assert!(state.in_values);
        let columns = state.columns.clone();
        resumed.restore(state);
        let mut got = Vec::new();
        while resumed.read_row_into(&mut row).unwrap() {
            got.push((row.clone(), resumed.columns().map(<[String]>::to_vec)));
        }
        let want: Vec<Row> = all[i + 1..].to_vec();
        assert_eq!(
            got.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
            want,
            "after row {i}"
        );
        if i == 0 {
            assert_eq!(columns, Some(vec!["b".to_string(), "a".to_string()]));
            assert_eq!(got[0].1, columns);
        }
    }
    // Between statements: the next statement's head is read.
    let at = data.iter().position(|&c| c == b'\n').unwrap() + 1;
    let mut resumed = SqlParser::new(
        Box::new(Cursor::new(data[at..].to_vec())),
        Arc::from("t.sql"),
        u64::try_from(at).unwrap(),
        2,
        false,
        ParserOptions::default(),
    );
    resumed.restore(dump_source::ParserState {
        columns: None,
        in_values: false,
    });
    assert_eq!(resumed.read_row().unwrap().unwrap(), all[2]);
}
