//! TiDB's table keys (`pkg/tablecodec`): `t{tableID}_r{handle}` records and
//! `t{tableID}_i{indexID}{values}[handle]` index entries, IDs and handles as
//! memcomparable signed integers, and the index values TiDB writes for
//! integer handles.

use backend_core::{Error, Result};

use super::number;

/// First byte of every table key.
pub const TABLE_PREFIX: u8 = b't';
/// Separator before a record handle.
pub const RECORD_SEP: &[u8; 2] = b"_r";
/// Separator before an index id.
pub const INDEX_SEP: &[u8; 2] = b"_i";
/// The value of a non-unique index entry (and of a unique entry that holds a
/// NULL, whose key carries the handle).
pub const NON_UNIQUE_INDEX_VALUE: &[u8] = b"0";

/// Length of a record key: `t` + 8 + `_r` + 8.
pub const RECORD_KEY_LEN: usize = 19;

/// `t{tableID}`: every key of the table starts with it.
pub fn table_prefix(table_id: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(TABLE_PREFIX);
    number::encode_int(&mut k, table_id);
    k
}

/// The key range `[start, end)` holding every record and index key of a table.
pub fn table_range(table_id: i64) -> (Vec<u8>, Vec<u8>) {
    let start = table_prefix(table_id);
    let end = match table_id.checked_add(1) {
        Some(next) => table_prefix(next),
        None => vec![TABLE_PREFIX + 1],
    };
    (start, end)
}

/// `t{tableID}_r`: the prefix of the table's records.
pub fn record_prefix(table_id: i64) -> Vec<u8> {
    let mut k = table_prefix(table_id);
    k.extend_from_slice(RECORD_SEP);
    k
}

/// `t{tableID}_r{handle}`.
pub fn record_key(table_id: i64, handle: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(RECORD_KEY_LEN);
    append_record_key(&mut k, table_id, handle);
    k
}

/// Appends [`record_key`] to `out`.
pub fn append_record_key(out: &mut Vec<u8>, table_id: i64, handle: i64) {
    append_table_int(out, table_id, RECORD_SEP, handle);
}

/// `t{tableID}{sep}{n}`: the shape of record keys and index prefixes.
fn append_table_int(out: &mut Vec<u8>, table_id: i64, sep: &[u8], n: i64) {
    out.push(TABLE_PREFIX);
    number::encode_int(out, table_id);
    out.extend_from_slice(sep);
    number::encode_int(out, n);
}

/// Splits a record key into table id and integer handle.
pub fn decode_record_key(key: &[u8]) -> Result<(i64, i64)> {
    let bad = || Error::bad_data(format!("not an integer-handle record key: {}", hex(key)));
    if key.len() != RECORD_KEY_LEN || key[0] != TABLE_PREFIX || &key[9..11] != RECORD_SEP {
        return Err(bad());
    }
    let (table_id, _) = number::decode_int(&key[1..9])?;
    let (handle, _) = number::decode_int(&key[11..19])?;
    Ok((table_id, handle))
}

/// `t{tableID}_i{indexID}`: the prefix of one index's entries (TiDB's
/// `EncodeIndexSeekKey` with no values).
pub fn index_prefix(table_id: i64, index_id: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(19);
    append_index_prefix(&mut k, table_id, index_id);
    k
}

/// Appends [`index_prefix`] to `out`.
pub fn append_index_prefix(out: &mut Vec<u8>, table_id: i64, index_id: i64) {
    append_table_int(out, table_id, INDEX_SEP, index_id);
}

/// `t{tableID}_i{indexID}{encodedValues}`: TiDB's `EncodeIndexSeekKey`.
/// `encoded_values` are flagged datums (see [`super::key`]).
pub fn index_seek_key(table_id: i64, index_id: i64, encoded_values: &[u8]) -> Vec<u8> {
    let mut k = index_prefix(table_id, index_id);
    k.extend_from_slice(encoded_values);
    k
}

/// An index entry's key. `handle` is appended (flagged int) for non-unique
/// entries and for unique entries holding a NULL; pass `None` for distinct
/// unique entries.
pub fn index_key(
    table_id: i64,
    index_id: i64,
    encoded_values: &[u8],
    handle: Option<i64>,
) -> Vec<u8> {
    let mut k = index_seek_key(table_id, index_id, encoded_values);
    if let Some(h) = handle {
        append_index_handle(&mut k, h);
    }
    k
}

/// Appends the flagged integer handle that ends a non-unique index key
/// (see [`index_key`]).
pub fn append_index_handle(key: &mut Vec<u8>, handle: i64) {
    key.push(super::key::INT_FLAG);
    number::encode_int(key, handle);
}

/// The value of a distinct unique index entry: the handle, 8 bytes
/// big-endian (TiDB's version-0 index value for integer handles).
pub fn unique_index_value(handle: i64) -> Vec<u8> {
    handle.to_be_bytes().to_vec()
}

/// The handle stored in a unique index entry's value.
pub fn decode_unique_index_value(value: &[u8]) -> Result<i64> {
    let head: [u8; 8] = value
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::bad_data(format!("not a unique index value: {}", hex(value))))?;
    Ok(i64::from_be_bytes(head))
}

/// Lower-case hex of `bytes`, for messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tidb_record_key_vector() {
        // Table 13, handle 1.
        assert_eq!(
            record_key(13, 1),
            [
                0x74, 0x80, 0, 0, 0, 0, 0, 0, 0x0D, 0x5F, 0x72, 0x80, 0, 0, 0, 0, 0, 0, 1
            ]
        );
        assert_eq!(decode_record_key(&record_key(13, -7)).unwrap(), (13, -7));
        assert!(decode_record_key(&index_prefix(13, 1)).is_err());
    }

    #[test]
    fn tidb_index_seek_key_vector() {
        // TiDB's range-building test: table 12, index 15, value int 1.
        let mut vals = Vec::new();
        crate::codec::key::encode_key_datum(
            &mut vals,
            &backend_core::Datum::Int(1),
            &backend_core::model::FieldType::new(backend_core::model::ColumnType::BigInt),
        )
        .unwrap();
        let want = [
            0x74, 0x80, 0, 0, 0, 0, 0, 0, 0x0C, 0x5F, 0x69, 0x80, 0, 0, 0, 0, 0, 0, 0x0F, 0x03,
            0x80, 0, 0, 0, 0, 0, 0, 0x01,
        ];
        assert_eq!(index_seek_key(12, 15, &vals), want);
        // The non-unique entry for handle 1 appends the flagged handle.
        let entry = index_key(12, 15, &vals, Some(1));
        assert_eq!(&entry[..want.len()], want);
        assert_eq!(&entry[want.len()..], &want[want.len() - 9..]);
    }

    #[test]
    fn unique_values_and_ranges() {
        assert_eq!(unique_index_value(70), [0, 0, 0, 0, 0, 0, 0, 0x46]);
        assert_eq!(
            decode_unique_index_value(&unique_index_value(-3)).unwrap(),
            -3
        );
        assert!(decode_unique_index_value(b"0").is_err());
        let (start, end) = table_range(5);
        assert!(start < record_key(5, i64::MAX) && record_key(5, i64::MAX) < end);
        assert!(start < index_prefix(5, 1) && index_prefix(5, 1) < end);
    }
}
