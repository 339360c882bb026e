//! Memcomparable numbers and byte strings (TiDB's `pkg/util/codec`), plus
//! the compact little-endian integers of row format v2.
//!
//! Memcomparable encodings compare byte-wise in the same order as the values
//! they encode, which is what lets TiKV keep keys sorted; descending forms
//! invert every byte so the order flips.

use backend_core::{Error, Result};

/// XOR-ing an `i64`'s bits with this maps signed order onto unsigned order.
const SIGN_MASK: u64 = 0x8000_0000_0000_0000;
/// Bytes are encoded in groups of this many.
const ENC_GROUP_SIZE: usize = 8;
/// The marker of a full group; a short group's marker is `0xFF - padding`.
const ENC_MARKER: u8 = 0xFF;

fn short(what: &str) -> Error {
    Error::bad_data(format!("insufficient bytes to decode {what}"))
}

fn take8(b: &[u8], what: &str) -> Result<([u8; 8], usize)> {
    let head: [u8; 8] = b
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| short(what))?;
    Ok((head, 8))
}

/// Appends `v` so that encoded order equals signed order (`EncodeInt`).
pub fn encode_int(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&(u64::from_ne_bytes(v.to_ne_bytes()) ^ SIGN_MASK).to_be_bytes());
}

/// Appends `v` in descending order (`EncodeIntDesc`).
pub fn encode_int_desc(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&(!(u64::from_ne_bytes(v.to_ne_bytes()) ^ SIGN_MASK)).to_be_bytes());
}

/// Decodes [`encode_int`]; returns the value and the bytes consumed.
pub fn decode_int(b: &[u8]) -> Result<(i64, usize)> {
    let (head, n) = take8(b, "int")?;
    let u = u64::from_be_bytes(head) ^ SIGN_MASK;
    Ok((i64::from_ne_bytes(u.to_ne_bytes()), n))
}

/// Decodes [`encode_int_desc`].
pub fn decode_int_desc(b: &[u8]) -> Result<(i64, usize)> {
    let (head, n) = take8(b, "int")?;
    let u = !u64::from_be_bytes(head) ^ SIGN_MASK;
    Ok((i64::from_ne_bytes(u.to_ne_bytes()), n))
}

/// Appends `v` big-endian (`EncodeUint`).
pub fn encode_uint(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends `v` in descending order (`EncodeUintDesc`).
pub fn encode_uint_desc(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&(!v).to_be_bytes());
}

/// Decodes [`encode_uint`].
pub fn decode_uint(b: &[u8]) -> Result<(u64, usize)> {
    let (head, n) = take8(b, "uint")?;
    Ok((u64::from_be_bytes(head), n))
}

/// Decodes [`encode_uint_desc`].
pub fn decode_uint_desc(b: &[u8]) -> Result<(u64, usize)> {
    let (head, n) = take8(b, "uint")?;
    Ok((!u64::from_be_bytes(head), n))
}

/// Maps a float onto a `u64` whose order is the float's order (`-0.0` and
/// `0.0` map to the same value, as in TiDB).
fn float_to_cmp_u64(f: f64) -> u64 {
    let bits = f.to_bits();
    if f >= 0.0 { bits | SIGN_MASK } else { !bits }
}

fn cmp_u64_to_float(u: u64) -> f64 {
    if u & SIGN_MASK > 0 {
        f64::from_bits(u & !SIGN_MASK)
    } else {
        f64::from_bits(!u)
    }
}

/// Appends `f` memcomparably (`EncodeFloat`).
pub fn encode_float(buf: &mut Vec<u8>, f: f64) {
    encode_uint(buf, float_to_cmp_u64(f));
}

/// Appends `f` in descending order (`EncodeFloatDesc`).
pub fn encode_float_desc(buf: &mut Vec<u8>, f: f64) {
    encode_uint_desc(buf, float_to_cmp_u64(f));
}

/// Decodes [`encode_float`].
pub fn decode_float(b: &[u8]) -> Result<(f64, usize)> {
    let (u, n) = decode_uint(b)?;
    Ok((cmp_u64_to_float(u), n))
}

/// Decodes [`encode_float_desc`].
pub fn decode_float_desc(b: &[u8]) -> Result<(f64, usize)> {
    let (u, n) = decode_uint_desc(b)?;
    Ok((cmp_u64_to_float(u), n))
}

/// Appends `data` memcomparably (`EncodeBytes`): groups of 8 bytes, the last
/// one zero-padded, each followed by a marker `0xFF - padding`.
pub fn encode_bytes(buf: &mut Vec<u8>, data: &[u8]) {
    buf.reserve((data.len() / ENC_GROUP_SIZE + 1) * (ENC_GROUP_SIZE + 1));
    let mut idx = 0;
    loop {
        let remain = data.len() - idx;
        if remain >= ENC_GROUP_SIZE {
            buf.extend_from_slice(&data[idx..idx + ENC_GROUP_SIZE]);
            buf.push(ENC_MARKER);
            idx += ENC_GROUP_SIZE;
        } else {
            let pad = ENC_GROUP_SIZE - remain;
            buf.extend_from_slice(&data[idx..]);
            buf.extend(std::iter::repeat_n(0u8, pad));
            // `pad` is 1..=8, so the marker is 0xF7..=0xFE.
            buf.push(ENC_MARKER - u8::try_from(pad).unwrap_or(8));
            return;
        }
    }
}

/// Appends `data` in descending order (`EncodeBytesDesc`).
pub fn encode_bytes_desc(buf: &mut Vec<u8>, data: &[u8]) {
    let start = buf.len();
    encode_bytes(buf, data);
    for b in &mut buf[start..] {
        *b = !*b;
    }
}

fn decode_bytes_impl(b: &[u8], desc: bool) -> Result<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let group = b
            .get(pos..pos + ENC_GROUP_SIZE + 1)
            .ok_or_else(|| short("bytes"))?;
        pos += ENC_GROUP_SIZE + 1;
        let mut marker = group[ENC_GROUP_SIZE];
        if desc {
            marker = !marker;
        }
        let pad = usize::from(ENC_MARKER - marker);
        if pad > ENC_GROUP_SIZE {
            return Err(Error::bad_data(format!("invalid bytes marker {marker:#x}")));
        }
        let real = ENC_GROUP_SIZE - pad;
        let start = out.len();
        out.extend_from_slice(&group[..real]);
        if desc {
            for byte in &mut out[start..] {
                *byte = !*byte;
            }
        }
        if pad != 0 {
            let pad_byte = if desc { 0xFF } else { 0x00 };
            if group[real..ENC_GROUP_SIZE].iter().any(|&p| p != pad_byte) {
                return Err(Error::bad_data("invalid padding in encoded bytes"));
            }
            return Ok((out, pos));
        }
    }
}

/// Decodes [`encode_bytes`]; returns the bytes and how many were consumed.
pub fn decode_bytes(b: &[u8]) -> Result<(Vec<u8>, usize)> {
    decode_bytes_impl(b, false)
}

/// Decodes [`encode_bytes_desc`].
pub fn decode_bytes_desc(b: &[u8]) -> Result<(Vec<u8>, usize)> {
    decode_bytes_impl(b, true)
}

/// Appends `v` in row format v2's compact form: 1, 2, 4 or 8 bytes,
/// little-endian, the fewest that hold the value.
pub fn encode_compact_int(buf: &mut Vec<u8>, v: i64) {
    if let Ok(x) = i8::try_from(v) {
        buf.extend_from_slice(&x.to_le_bytes());
    } else if let Ok(x) = i16::try_from(v) {
        buf.extend_from_slice(&x.to_le_bytes());
    } else if let Ok(x) = i32::try_from(v) {
        buf.extend_from_slice(&x.to_le_bytes());
    } else {
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends `v` in row format v2's compact unsigned form.
pub fn encode_compact_uint(buf: &mut Vec<u8>, v: u64) {
    if let Ok(x) = u8::try_from(v) {
        buf.push(x);
    } else if let Ok(x) = u16::try_from(v) {
        buf.extend_from_slice(&x.to_le_bytes());
    } else if let Ok(x) = u32::try_from(v) {
        buf.extend_from_slice(&x.to_le_bytes());
    } else {
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// Decodes a compact signed integer occupying all of `b`.
pub fn decode_compact_int(b: &[u8]) -> Result<i64> {
    Ok(match b.len() {
        1 => i64::from(i8::from_le_bytes([b[0]])),
        2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
        4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        8 => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        n => return Err(Error::bad_data(format!("invalid compact int length {n}"))),
    })
}

/// Decodes a compact unsigned integer occupying all of `b`.
pub fn decode_compact_uint(b: &[u8]) -> Result<u64> {
    Ok(match b.len() {
        1 => u64::from(b[0]),
        2 => u64::from(u16::from_le_bytes([b[0], b[1]])),
        4 => u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        8 => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        n => return Err(Error::bad_data(format!("invalid compact uint length {n}"))),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc_bytes(d: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        encode_bytes(&mut b, d);
        b
    }

    #[test]
    fn bytes_vectors_from_tidb() {
        // TiDB `TestBytesCodec`/`TestFastSlowFastReverse` vectors.
        assert_eq!(enc_bytes(&[]), [0, 0, 0, 0, 0, 0, 0, 0, 0xF7]);
        assert_eq!(enc_bytes(&[1, 2, 3]), [1, 2, 3, 0, 0, 0, 0, 0, 0xFA]);
        assert_eq!(enc_bytes(&[0]), [0, 0, 0, 0, 0, 0, 0, 0, 0xF8]);
        assert_eq!(
            enc_bytes(&[1, 2, 3, 4, 5, 6, 7, 8]),
            [1, 2, 3, 4, 5, 6, 7, 8, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0xF7]
        );
        assert_eq!(
            enc_bytes(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            [1, 2, 3, 4, 5, 6, 7, 8, 0xFF, 9, 0, 0, 0, 0, 0, 0, 0, 0xF8]
        );
        let mut desc = Vec::new();
        encode_bytes_desc(&mut desc, &[1, 2, 3]);
        assert_eq!(desc, [0xFE, 0xFD, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x05]);
        assert_eq!(decode_bytes_desc(&desc).unwrap(), (vec![1, 2, 3], 9));
    }

    #[test]
    fn int_vectors() {
        let mut b = Vec::new();
        encode_int(&mut b, 1);
        assert_eq!(b, [0x80, 0, 0, 0, 0, 0, 0, 1]);
        b.clear();
        encode_int(&mut b, -1);
        assert_eq!(b, [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        b.clear();
        encode_int(&mut b, i64::MIN);
        assert_eq!(b, [0; 8]);
        b.clear();
        encode_float(&mut b, 1.0);
        assert_eq!(b, [0xBF, 0xF0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert!(decode_int(&[1, 2]).is_err());
        assert!(decode_bytes(&[1, 2, 3]).is_err());
        assert!(decode_bytes(&[1, 2, 3, 0, 0, 0, 0, 0, 0x10]).is_err());
        assert!(decode_compact_int(&[1, 2, 3]).is_err());
    }

    #[test]
    fn compact_ints() {
        for v in [
            0i64,
            -1,
            127,
            128,
            -129,
            40000,
            -40000,
            1 << 40,
            i64::MIN,
            i64::MAX,
        ] {
            let mut b = Vec::new();
            encode_compact_int(&mut b, v);
            assert_eq!(decode_compact_int(&b).unwrap(), v);
        }
        for v in [0u64, 255, 256, 70000, 1 << 40, u64::MAX] {
            let mut b = Vec::new();
            encode_compact_uint(&mut b, v);
            assert_eq!(decode_compact_uint(&b).unwrap(), v);
        }
    }

    proptest! {
        #[test]
        fn int_order(a: i64, b: i64) {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            encode_int(&mut x, a);
            encode_int(&mut y, b);
            prop_assert_eq!(a.cmp(&b), x.cmp(&y));
            prop_assert_eq!(decode_int(&x).unwrap().0, a);
            let (mut xd, mut yd) = (Vec::new(), Vec::new());
            encode_int_desc(&mut xd, a);
            encode_int_desc(&mut yd, b);
            prop_assert_eq!(b.cmp(&a), xd.cmp(&yd));
            prop_assert_eq!(decode_int_desc(&xd).unwrap().0, a);
        }

        #[test]
        fn uint_order(a: u64, b: u64) {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            encode_uint(&mut x, a);
            encode_uint(&mut y, b);
            prop_assert_eq!(a.cmp(&b), x.cmp(&y));
            prop_assert_eq!(decode_uint(&x).unwrap().0, a);
            let (mut xd, mut yd) = (Vec::new(), Vec::new());
            encode_uint_desc(&mut xd, a);
            encode_uint_desc(&mut yd, b);
            prop_assert_eq!(b.cmp(&a), xd.cmp(&yd));
            prop_assert_eq!(decode_uint_desc(&xd).unwrap().0, a);
        }

        #[test]
        fn float_order(a in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL | proptest::num::f64::INFINITE,
                       b in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::INFINITE) {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            encode_float(&mut x, a);
            encode_float(&mut y, b);
            prop_assert_eq!(a.partial_cmp(&b).unwrap(), x.cmp(&y));
            let back = decode_float(&x).unwrap().0;
            prop_assert!(back == a);
            let mut xd = Vec::new();
            encode_float_desc(&mut xd, a);
            prop_assert!(decode_float_desc(&xd).unwrap().0 == a);
        }

        #[test]
        fn bytes_order(a: Vec<u8>, b: Vec<u8>) {
            let (x, y) = (enc_bytes(&a), enc_bytes(&b));
            prop_assert_eq!(a.cmp(&b), x.cmp(&y));
            prop_assert_eq!(decode_bytes(&x).unwrap(), (a.clone(), x.len()));
            let (mut xd, mut yd) = (Vec::new(), Vec::new());
            encode_bytes_desc(&mut xd, &a);
            encode_bytes_desc(&mut yd, &b);
            prop_assert_eq!(b.cmp(&a), xd.cmp(&yd));
        }
    }
}
