#!/usr/bin/env python3
"""Writes the differential dataset's data files (integration-tests/data/differential).

Deterministic (fixed seed): rerunning rewrites identical files. The files are
committed; this script documents how they were made and regenerates them.
"""
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "differential")
rng = random.Random(20240601)


class Bits:
    def __init__(self, value, width):
        self.value, self.width = value, width


class Dec(str):
    """An exact decimal, written unquoted in SQL."""


COLS = ["id", "i8", "u8", "i16", "u16", "i24", "u24", "i32", "u32", "i64", "u64",
        "f32", "f64", "d_small", "d_big", "d_int", "dt_date", "dt_datetime",
        "dt_datetime6", "dt_timestamp", "dt_time", "dt_time3", "dt_year", "s_char",
        "s_varchar", "s_text", "s_mediumtext", "b_binary", "b_varbinary", "b_blob",
        "e_enum", "e_set", "bit1", "bit10", "bit64", "j", "u_code", "c_a", "c_b"]
NINES35 = "9" * 35 + "." + "9" * 30


def edge_rows():
    rows = []
    rows.append({"id": 1})  # everything else NULL
    rows.append(dict(id=2, i8=-128, u8=0, i16=-32768, u16=0, i24=-8388608, u24=0,
                     i32=-2147483648, u32=0, i64=-9223372036854775808, u64=0,
                     f32=-3.4e38, f64=-1.7976931348623157e308, d_small=Dec("-99999999.99"),
                     d_big=Dec("-" + NINES35), d_int=Dec("-" + "9" * 20),
                     dt_date="1000-01-01", dt_datetime="1000-01-01 00:00:00",
                     dt_datetime6="1000-01-01 00:00:00.000000",
                     dt_timestamp="2000-01-01 00:00:00", dt_time="-838:59:59",
                     dt_time3="-838:59:59.000", dt_year=1901, s_char="", s_varchar="",
                     s_text="", s_mediumtext="", b_binary=b"", b_varbinary=b"", b_blob=b"",
                     e_enum="a", e_set="", bit1=Bits(0, 1), bit10=Bits(0, 10),
                     bit64=Bits(0, 64), j="[]", u_code="min", c_a=-1, c_b=""))
    rows.append(dict(id=3, i8=127, u8=255, i16=32767, u16=65535, i24=8388607, u24=16777215,
                     i32=2147483647, u32=4294967295, i64=9223372036854775807,
                     u64=18446744073709551615, f32=3.4e38, f64=1.7976931348623157e308,
                     d_small=Dec("99999999.99"), d_big=Dec(NINES35), d_int=Dec("9" * 20),
                     dt_date="9999-12-31", dt_datetime="9999-12-31 23:59:59",
                     dt_datetime6="9999-12-31 23:59:59.999999",
                     dt_timestamp="2037-12-31 23:59:59", dt_time="838:59:59",
                     dt_time3="838:59:59.000", dt_year=2155, s_char="ZZZZZZZZZZ",
                     s_varchar="é" * 255, s_text="t" * 1000, s_mediumtext="m" * 70000,
                     b_binary=b"\xff" * 8, b_varbinary=b"\xff" * 32,
                     b_blob=b"\x00\xff" * 300, e_enum="c d", e_set="x,y,z",
                     bit1=Bits(1, 1), bit10=Bits(1023, 10), bit64=Bits(2**64 - 1, 64),
                     j='{"big": 18446744073709551615, "neg": -9223372036854775808}',
                     u_code="max", c_a=2147483647, c_b="zzzzzzzzzz"))
    rows.append(dict(id=4, s_char="ab  ", s_varchar="x  ", s_text="日本語 😀 ñ \u00a0",
                     s_mediumtext="it's \"q\" \\ back", b_binary=b"\x00\xff\x00",
                     b_varbinary=b"\x00", b_blob=b"\xff\xfe\x00\\'\"\n\r\x1a",
                     j='{"a": [1, 2.5, null, true], "b": "ü\\n"}', f32=0.1, f64=0.1,
                     d_small=Dec("-0.00"), d_big=Dec("0.000000000000000000000000000001"),
                     u_code="unicode", e_enum="b", e_set="z,x", c_a=1, c_b="日本"))
    rows.append(dict(id=5, s_text="line1\nline2\r\nline3\ttab\x1aZ\x00nul",
                     s_varchar="comma,semicolon;pipe|quote'\"", d_small=Dec("1.005"),
                     # No fractional rounding of DATETIME: MariaDB truncates where
                     # MySQL and TiDB round (compat tests cover the local side).
                     dt_datetime="2020-02-29 12:34:56", dt_time3="12:00:00.12345",
                     dt_datetime6="2020-02-29 12:34:56.123456", f32=1.5e-10,
                     f64=2.2250738585072014e-308, u_code="", c_a=1, c_b="日本 "))
    rows.append(dict(id=6, s_varchar="\\N", s_text="NULL", s_char="\\", u_code="nullish",
                     b_varbinary=b"\\N", j='"just a string"', dt_year=2000,
                     dt_timestamp="2024-06-30 12:00:00", e_enum="a", e_set="y"))
    return rows


def random_text(n):
    alphabet = "abcxyz ÄÖü日本語😀,;'\"\\\n\t"
    return "".join(rng.choice(alphabet) for _ in range(n))


def generated_rows(first, count):
    rows = []
    for i in range(first, first + count):
        r = {"id": i}
        def maybe(key, value, p=0.1):
            r[key] = None if rng.random() < p else value
        maybe("i8", rng.randint(-128, 127))
        maybe("u8", rng.randint(0, 255))
        maybe("i16", rng.randint(-32768, 32767))
        maybe("u16", rng.randint(0, 65535))
        maybe("i24", rng.randint(-8388608, 8388607))
        maybe("u24", rng.randint(0, 16777215))
        r["i32"] = i * 1000 + rng.randint(0, 999)
        maybe("u32", rng.randint(0, 4294967295))
        maybe("i64", rng.randint(-2**63, 2**63 - 1))
        maybe("u64", rng.randint(0, 2**64 - 1))
        maybe("f32", float("%.5g" % rng.uniform(-1e6, 1e6)))
        maybe("f64", rng.uniform(-1e12, 1e12))
        maybe("d_small", Dec("%d.%02d" % (rng.randint(-99999999, 99999999), rng.randint(0, 99))))
        maybe("d_big", Dec("%d.%030d" % (rng.randint(-10**35 + 1, 10**35 - 1), rng.randint(0, 10**30 - 1))))
        maybe("d_int", Dec(str(rng.randint(-10**20 + 1, 10**20 - 1))))
        y, m, d = rng.randint(1000, 9999), rng.randint(1, 12), rng.randint(1, 28)
        maybe("dt_date", "%04d-%02d-%02d" % (y, m, d))
        hh, mm, ss = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        maybe("dt_datetime", "%04d-%02d-%02d %02d:%02d:%02d" % (y, m, d, hh, mm, ss))
        maybe("dt_datetime6", "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (y, m, d, hh, mm, ss, rng.randint(0, 999999)))
        maybe("dt_timestamp", "%04d-%02d-%02d %02d:%02d:%02d" % (rng.randint(1971, 2037), m, d, hh, mm, ss))
        maybe("dt_time", "%s%d:%02d:%02d" % (rng.choice(["", "-"]), rng.randint(0, 838), mm, ss))
        maybe("dt_time3", "%02d:%02d:%02d.%03d" % (hh, mm, ss, rng.randint(0, 999)))
        maybe("dt_year", rng.randint(1901, 2155))
        maybe("s_char", random_text(rng.randint(0, 10)).rstrip(" "))
        r["s_varchar"] = "g%d-" % i + random_text(rng.randint(0, 40))
        maybe("s_text", random_text(rng.randint(0, 300)))
        maybe("s_mediumtext", random_text(rng.randint(0, 50)))
        maybe("b_binary", bytes(rng.randint(0, 255) for _ in range(8)))
        maybe("b_varbinary", bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 32))))
        maybe("b_blob", bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 200))))
        maybe("e_enum", rng.choice(["a", "b", "c d"]))
        maybe("e_set", ",".join(s for s in ["x", "y", "z"] if rng.random() < 0.5))
        maybe("bit1", Bits(rng.randint(0, 1), 1))
        maybe("bit10", Bits(rng.randint(0, 1023), 10))
        maybe("bit64", Bits(rng.randint(0, 2**64 - 1), 64))
        maybe("j", '{"k": %d, "s": "%s", "l": [%d, %s]}' % (i, rng.choice(["a", "ß", "😀"]), rng.randint(-5, 5), rng.choice(["true", "null", "1.5"])))
        maybe("u_code", "g%d" % i)
        maybe("c_a", rng.randint(0, 20))
        maybe("c_b", rng.choice(["", "p", "q", "日"]))
        rows.append(r)
    return rows


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, Bits):
        return "b'" + format(v.value, "b") + "'"
    if isinstance(v, bool):
        raise TypeError(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Dec):
        return str(v)
    if isinstance(v, bytes):
        return "X'" + v.hex().upper() + "'"
    out = []
    for ch in v:
        out.append({"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\0": "\\0",
                    "\x1a": "\\Z"}.get(ch, ch))
    return "'" + "".join(out) + "'"


def csv_field(v):
    if v is None:
        return b"\\N"
    if isinstance(v, Bits):
        raw = v.value.to_bytes((v.width + 7) // 8, "big")
    elif isinstance(v, bytes):
        raw = v
    elif isinstance(v, float):
        raw = repr(v).encode()
    else:
        raw = str(v).encode("utf-8")
    raw = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    return b'"' + raw + b'"'


def write_sql(path, table, rows, per_statement):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("/*!40101 SET NAMES binary*/;\n")
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            f.write("INSERT INTO `%s` (%s) VALUES\n" % (table, ",".join("`%s`" % c for c in COLS)))
            f.write(",\n".join("(" + ",".join(sql_literal(r.get(c)) for c in COLS) + ")" for r in chunk))
            f.write(";\n")


def write_csv(path, rows):
    with open(path, "wb") as f:
        f.write(b",".join(b'"' + c.encode() + b'"' for c in COLS) + b"\n")
        for r in rows:
            f.write(b",".join(csv_field(r.get(c)) for c in COLS) + b"\n")


def main():
    rows = edge_rows() + generated_rows(100, 150)
    write_sql(os.path.join(OUT, "difftypes.alltypes.000000000.sql"), "alltypes", rows[:80], 25)
    write_sql(os.path.join(OUT, "difftypes.alltypes.000000001.sql"), "alltypes", rows[80:], 40)
    # Row 6 holds the text `\N`, which the importer's CSV reader takes for
    # NULL when written escaped (`"\\N"`): a known bug pinned by the compat
    # test `csv_escaped_backslash_n_is_text`, so the CSV copy leaves it out.
    write_csv(os.path.join(OUT, "difftypes.csvtypes.000000000.csv"), [r for r in rows if r["id"] != 6])

    comp = []
    seq = 0
    for region in ["eu", "us", "日本", "", "a'b"]:
        for code in range(-2, 28):
            seq += 1
            comp.append((region, code, seq if seq != 150 else 2**64 - 1,
                         rng.choice(["", "x", "ü", None, "label %d" % code]),
                         None if code % 5 == 0 else Dec("%d.%04d" % (rng.randint(-10**7, 10**7), rng.randint(0, 9999))),
                         None if code % 4 == 0 else bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 16)))))
    with open(os.path.join(OUT, "difftypes.composite.000000000.sql"), "w", encoding="utf-8") as f:
        f.write("INSERT INTO `composite` VALUES\n")
        f.write(",\n".join("(" + ",".join(sql_literal(v) for v in row) + ")" for row in comp))
        f.write(";\n")

    nopk = [(i % 7 if i % 9 else None, "v%d" % (i % 11), (i * 0.25) if i % 6 else None) for i in range(120)]
    nopk += [(1, "dup", 1.5), (1, "dup", 1.5)]  # identical rows are both kept
    with open(os.path.join(OUT, "difftypes.nopk.000000000.sql"), "w", encoding="utf-8") as f:
        f.write("INSERT INTO `nopk` VALUES\n")
        f.write(",\n".join("(" + ",".join(sql_literal(v) for v in row) + ")" for row in nopk))
        f.write(";\n")


main()
