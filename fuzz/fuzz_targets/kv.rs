//! Any bytes through the KV decoders (picked by the first byte): record
//! keys, flagged key datums, row format v2 values and binary JSON. Decoding
//! returns a value or an error, never panics; what decodes re-encodes to
//! the same bytes where the encoding is canonical (record keys, integers,
//! floats, bytes) and otherwise decodes again to the same value.
#![no_main]

use backend_core::Datum;
use backend_core::model::{ColumnType, FieldType};
use backend_local::codec::{json, key, number, row, table};
use libfuzzer_sys::fuzz_target;

const TYPES: [ColumnType; 14] = [
    ColumnType::TinyInt,
    ColumnType::BigInt,
    ColumnType::Year,
    ColumnType::Float,
    ColumnType::Double,
    ColumnType::Decimal,
    ColumnType::Date,
    ColumnType::DateTime,
    ColumnType::Time,
    ColumnType::Bit,
    ColumnType::Enum,
    ColumnType::Set,
    ColumnType::Json,
    ColumnType::VarBinary,
];

fn record_key(data: &[u8]) {
    if let Ok((table_id, handle)) = table::decode_record_key(data) {
        assert_eq!(
            table::record_key(table_id, handle),
            data,
            "record key does not re-encode"
        );
    }
}

fn key_datums(mut data: &[u8]) {
    while !data.is_empty() {
        let Ok((datum, used)) = key::decode_key_datum(data) else {
            return;
        };
        assert!(
            used >= 1 && used <= data.len(),
            "consumed {used} of {} bytes",
            data.len()
        );
        let (encoded, rest) = data.split_at(used);
        let mut again = Vec::new();
        match &datum {
            Datum::Int(v) => {
                again.push(encoded[0]);
                number::encode_int(&mut again, *v);
            }
            Datum::Uint(v) => {
                again.push(encoded[0]);
                number::encode_uint(&mut again, *v);
            }
            // -0.0 is folded into 0.0 by the encoder, as TiDB's is; NaN is
            // never encoded (the KV encoder refuses it).
            Datum::Float64(v) if *v == 0.0 || v.is_nan() => {
                data = rest;
                continue;
            }
            Datum::Float64(v) => {
                again.push(encoded[0]);
                number::encode_float(&mut again, *v);
            }
            Datum::Bytes(v) => {
                again.push(encoded[0]);
                number::encode_bytes(&mut again, v);
            }
            Datum::Null => again.push(encoded[0]),
            _ => {}
        }
        if again.is_empty() {
            // Decimals and durations: encode with the type the bytes claim,
            // then the result must decode to the same value.
            let ft = match &datum {
                Datum::Decimal(_) => FieldType {
                    flen: Some(u32::from(encoded[1])),
                    decimal: Some(encoded[2]),
                    ..FieldType::new(ColumnType::Decimal)
                },
                _ => FieldType::new(ColumnType::Time),
            };
            if key::encode_key_datum(&mut again, &datum, &ft).is_ok() {
                let back = key::decode_key_datum(&again).map(|(d, n)| (format!("{d:?}"), n));
                assert_eq!(
                    back.ok(),
                    Some((format!("{datum:?}"), again.len())),
                    "key datum round trip"
                );
            }
        } else {
            assert_eq!(
                again, encoded,
                "key datum {datum:?} does not re-encode to its bytes"
            );
        }
        data = rest;
    }
}

fn field_type(tp: ColumnType, pick: u8) -> FieldType {
    FieldType {
        unsigned: pick & 1 != 0,
        elems: vec!["a".into(), "b".into(), "c".into()],
        ..FieldType::new(tp)
    }
}

/// Decodes, encodes and decodes again; the two decoded values must match
/// (JSON after one normalisation: the binary form may hold what the text
/// form cannot, such as duplicate keys).
fn value_round_trip(bytes: &[u8], ft: &FieldType) {
    let Ok(first) = row::decode_value(bytes, ft) else {
        return;
    };
    let mut ft = ft.clone();
    if let (Datum::Decimal(_), [p, f, ..]) = (&first, bytes) {
        ft.flen = Some(u32::from(*p));
        ft.decimal = Some(*f);
    }
    let again = |d: &Datum| {
        let mut buf = Vec::new();
        row::encode_value(&mut buf, d, &ft).ok()?;
        Some(
            row::decode_value(&buf, &ft)
                .unwrap_or_else(|e| panic!("{d:?} encodes to undecodable {buf:?}: {e}")),
        )
    };
    // NaN has no row encoding (the encoder refuses it before this point).
    if format!("{first:?}").contains("NaN") {
        return;
    }
    let Some(second) = again(&first) else {
        return;
    };
    if matches!(first, Datum::Json(_)) {
        let third = again(&second).map(|d| format!("{d:?}"));
        assert_eq!(
            third,
            Some(format!("{second:?}")),
            "JSON is not a fixed point after one round"
        );
    } else {
        // The comparable float encoding folds -0.0 into 0.0, as TiDB's does.
        let norm = |d: &Datum| format!("{d:?}").replace("(-0.0)", "(0.0)");
        assert_eq!(
            norm(&second),
            norm(&first),
            "row value round trip ({:?})",
            ft.tp
        );
    }
}

fn row_value(data: &[u8], pick: u8) {
    let Ok(parsed) = row::RowV2::parse(data) else {
        return;
    };
    let mut columns = Vec::new();
    for id in 0..=255 {
        match parsed.get(id) {
            row::ColumnValue::Absent => {}
            row::ColumnValue::Null => columns.push((id, None)),
            row::ColumnValue::Value(v) => {
                let tp =
                    TYPES[(usize::from(pick) + usize::try_from(id).unwrap_or(0)) % TYPES.len()];
                value_round_trip(v, &field_type(tp, pick));
                columns.push((id, Some(v.to_vec())));
            }
        }
    }
    // What the row holds for small ids, written again, reads back the same.
    if let Ok(encoded) = row::encode_row(&columns)
        && let Ok(again) = row::RowV2::parse(&encoded)
    {
        for (id, v) in &columns {
            let got = again.get(*id);
            match v {
                None => assert_eq!(got, row::ColumnValue::Null, "column {id}"),
                Some(v) => assert_eq!(got, row::ColumnValue::Value(v), "column {id}"),
            }
        }
    }
}

fn json_text(data: &[u8]) {
    let Some((&code, payload)) = data.split_first() else {
        return;
    };
    let Ok(text) = json::to_text(code, payload) else {
        return;
    };
    // What we print must be JSON we can read, and one round normalises.
    let (c2, p2) = json::parse_text(&text)
        .unwrap_or_else(|e| panic!("printed JSON {text:?} does not parse: {e}"));
    let text2 =
        json::to_text(c2, &p2).unwrap_or_else(|e| panic!("re-encoded JSON does not print: {e}"));
    let (c3, p3) = json::parse_text(&text2)
        .unwrap_or_else(|e| panic!("printed JSON {text2:?} does not parse: {e}"));
    assert_eq!((c3, p3), (c2, p2), "JSON {text2:?} not a fixed point");
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 4 {
        0 => record_key(body),
        1 => key_datums(body),
        2 => row_value(body, pick >> 2),
        _ => json_text(body),
    }
});
