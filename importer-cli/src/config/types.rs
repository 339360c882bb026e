//! Value types of the configuration: human sizes (`"96MiB"`), Go-style
//! durations (`"5m"`), and the keyword enums (`backend = "local"`), each with
//! the parsing rules Lightning users expect.
//!
//! Every type deserializes from a string as well as from its native TOML
//! type, because environment variables and command-line flags arrive as
//! strings through the `config` crate.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;
const PIB: u64 = 1 << 50;

/// A size in bytes, written as an integer (`1048576`) or a human string
/// (`"96MiB"`, `"1GB"`, `"64k"`, `"1.5 GiB"`).
///
/// As in Lightning (docker's `RAMInBytes`), every unit is binary: `KB`, `KiB`
/// and `K` all mean 1024 bytes, so a Lightning file means the same here.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// `n` KiB.
    pub const fn kib(n: u64) -> Self {
        Self(n * KIB)
    }
    /// `n` MiB.
    pub const fn mib(n: u64) -> Self {
        Self(n * MIB)
    }
    /// `n` GiB.
    pub const fn gib(n: u64) -> Self {
        Self(n * GIB)
    }
    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid size `{text}`: expected bytes or a number with a unit (KiB, MiB, GiB, TiB, PiB), e.g. \"96MiB\""
            )
        };
        let s = text.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(bad());
        }
        let unit = unit.trim_start().to_ascii_lowercase();
        let multiplier = match unit.as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" | "ki" => KIB,
            "m" | "mb" | "mib" | "mi" => MIB,
            "g" | "gb" | "gib" | "gi" => GIB,
            "t" | "tb" | "tib" | "ti" => TIB,
            "p" | "pb" | "pib" | "pi" => PIB,
            _ => return Err(bad()),
        };
        if let Ok(whole) = number.parse::<u64>() {
            return whole
                .checked_mul(multiplier)
                .map(ByteSize)
                .ok_or_else(|| format!("size `{text}` is too large"));
        }
        // Fractions ("1.5GiB"): exact for every value a human writes.
        let (int_part, frac_part) = number.split_once('.').ok_or_else(bad)?;
        if frac_part.contains('.') || frac_part.len() > 9 {
            return Err(bad());
        }
        let int: u64 = int_part.parse().map_err(|_| bad())?;
        let frac: u64 = frac_part.parse().map_err(|_| bad())?;
        let scale = 10u64.pow(u32::try_from(frac_part.len()).map_err(|_| bad())?);
        let whole = int.checked_mul(multiplier);
        let part = u128::from(frac) * u128::from(multiplier) / u128::from(scale);
        whole
            .and_then(|w| u64::try_from(part).ok().and_then(|p| w.checked_add(p)))
            .map(ByteSize)
            .ok_or_else(|| format!("size `{text}` is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, name) in [
            (PIB, "PiB"),
            (TIB, "TiB"),
            (GIB, "GiB"),
            (MIB, "MiB"),
            (KIB, "KiB"),
        ] {
            if n != 0 && n.is_multiple_of(unit) {
                return write!(f, "{}{name}", n / unit);
            }
        }
        write!(f, "{n}B")
    }
}

impl fmt::Debug for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes or a string like \"96MiB\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("invalid size {v}: must not be negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration written as Go's `time.ParseDuration` does (`"5m"`, `"1h30m"`,
/// `"1.5s"`, `"300ms"`), as Lightning's `[cron]` section expects.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    /// `n` seconds.
    pub const fn secs(n: u64) -> Self {
        Self(Duration::from_secs(n))
    }
    /// The duration.
    pub const fn get(self) -> Duration {
        self.0
    }
}

impl FromStr for GoDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid duration `{text}`: expected a number with a unit (ns, us, ms, s, m, h), e.g. \"5m\" or \"1h30m\""
            )
        };
        let s = text.trim();
        if s == "0" {
            return Ok(Self(Duration::ZERO));
        }
        if s.is_empty() {
            return Err(bad());
        }
        let mut rest = s;
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let num_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let (number, after) = rest.split_at(num_end);
            let unit_end = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_end);
            let nanos_per_unit: u128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => return Err(bad()),
            };
            let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
            if int_part.is_empty() && frac_part.is_empty() || frac_part.len() > 18 {
                return Err(bad());
            }
            let int: u128 = if int_part.is_empty() {
                0
            } else {
                int_part.parse().map_err(|_| bad())?
            };
            let frac: u128 = if frac_part.is_empty() {
                0
            } else {
                frac_part.parse().map_err(|_| bad())?
            };
            let scale = 10u128.pow(u32::try_from(frac_part.len()).map_err(|_| bad())?);
            total = int
                .checked_mul(nanos_per_unit)
                .and_then(|v| v.checked_add(frac * nanos_per_unit / scale))
                .and_then(|v| total.checked_add(v))
                .ok_or_else(bad)?;
            rest = next;
        }
        let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad())?;
        let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| bad())?;
        Ok(Self(Duration::new(secs, nanos)))
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.is_zero() {
            return f.write_str("0s");
        }
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        let ms = d.subsec_millis();
        let rest_nanos = d.subsec_nanos() % 1_000_000;
        if s > 0 || (h == 0 && m == 0 && ms == 0 && rest_nanos == 0) {
            write!(f, "{s}s")?;
        }
        if ms > 0 {
            write!(f, "{ms}ms")?;
        }
        if rest_nanos > 0 {
            write!(f, "{rest_nanos}ns")?;
        }
        Ok(())
    }
}

impl fmt::Debug for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string like \"5m\" or \"30s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
                v.parse().map_err(E::custom)
            }
            // Only zero may be written without a unit (Go rejects "5").
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
                if v == 0 {
                    Ok(GoDuration::default())
                } else {
                    Err(E::custom(format!(
                        "invalid duration {v}: a unit is required, e.g. \"{v}s\""
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoDuration, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom(format!(
                        "invalid duration {v}: must not be negative"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A keyword-valued setting: a closed set of spellings, matched
/// case-insensitively, some with aliases Lightning accepts.
pub trait Keyword: Sized + Copy + 'static {
    /// The canonical spellings, listed in errors as the allowed values.
    const ALLOWED: &'static [&'static str];
    /// Other spellings Lightning accepts (`"true"` for `"required"`).
    const ALIASES: &'static [&'static str] = &[];
    /// Parses one spelling (already lower-cased), aliases included.
    fn from_keyword(s: &str) -> Option<Self>;
    /// Lightning accepts TOML booleans for some keywords.
    fn from_bool(_b: bool) -> Option<Self> {
        None
    }
    /// The canonical spelling.
    fn as_str(self) -> &'static str;
    /// Why a value Lightning knows is refused here (`backend = "importer"`).
    fn refusal(_s: &str) -> Option<&'static str> {
        None
    }
}

/// The error text for a keyword that is not one of the allowed values.
pub fn keyword_error<K: Keyword>(got: &str) -> String {
    if let Some(why) = K::refusal(&got.trim().to_ascii_lowercase()) {
        return format!("\"{got}\" is not supported: {why}");
    }
    let allowed: Vec<String> = K::ALLOWED.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "\"{got}\" is not allowed; allowed values: {}",
        allowed.join(", ")
    )
}

/// Parses a keyword from its string form.
pub fn parse_keyword<K: Keyword>(s: &str) -> Result<K, String> {
    K::from_keyword(&s.trim().to_ascii_lowercase()).ok_or_else(|| keyword_error::<K>(s))
}

struct KeywordVisitor<K>(std::marker::PhantomData<K>);

impl<K: Keyword> Visitor<'_> for KeywordVisitor<K> {
    type Value = K;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one of {}", K::ALLOWED.join(", "))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<K, E> {
        parse_keyword(v).map_err(E::custom)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<K, E> {
        K::from_bool(v).ok_or_else(|| E::custom(keyword_error::<K>(&v.to_string())))
    }
}

/// Deserializes any [`Keyword`] (used by the `keyword!` impls).
fn deserialize_keyword<'de, K: Keyword, D: Deserializer<'de>>(d: D) -> Result<K, D::Error> {
    d.deserialize_any(KeywordVisitor::<K>(std::marker::PhantomData))
}

/// Declares a keyword enum with serde, `FromStr` and `Display` impls.
macro_rules! keyword {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $var:ident = $canon:literal $(| $alias:literal)* ),+ $(,)?
        }
        $( bool { true => $t:ident, false => $f:ident } )?
        $( refuse { $( $refused:literal => $why:literal ),+ $(,)? } )?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $var, )+
        }

        impl Keyword for $name {
            const ALLOWED: &'static [&'static str] = &[$($canon),+];
            const ALIASES: &'static [&'static str] = &[$($($alias,)*)+];
            fn from_keyword(s: &str) -> Option<Self> {
                match s {
                    $( $canon $(| $alias)* => Some(Self::$var), )+
                    _ => None,
                }
            }
            $(
            fn from_bool(b: bool) -> Option<Self> {
                Some(if b { Self::$t } else { Self::$f })
            }
            )?
            fn as_str(self) -> &'static str {
                match self {
                    $( Self::$var => $canon, )+
                }
            }
            $(
            fn refusal(s: &str) -> Option<&'static str> {
                match s {
                    $( $refused => Some($why), )+
                    _ => None,
                }
            }
            )?
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                parse_keyword(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_keyword(d)
            }
        }
    };
}

keyword! {
    /// `tikv-importer.backend`: where rows go.
    Backend {
        /// Physical import into the embedded RocksDB target store.
        Local = "local",
        /// Logical import through SQL into a MySQL-protocol server.
        Tidb = "tidb",
    }
    refuse {
        "importer" => "the `importer` backend (a separate tikv-importer process) was removed from Lightning in v7.0; use \"local\" (physical import into the embedded store) or \"tidb\" (SQL)",
        "remote" => "Lightning's `remote` backend (a remote sorting service) is not implemented; use \"local\" or \"tidb\"",
    }
}

keyword! {
    /// `conflict.strategy` (and the deprecated `tikv-importer.on-duplicate` /
    /// `duplicate-resolution`): what happens to rows whose primary or unique
    /// key is already taken.
    ConflictStrategy {
        /// Not set: the backend's default (`error` for tidb; no detection for local).
        None = "" | "none",
        /// The newer row wins (`REPLACE`); Lightning's old `remove`/`record` mean this too.
        Replace = "replace" | "remove" | "record",
        /// The older row wins (`INSERT IGNORE`); tidb backend only.
        Ignore = "ignore",
        /// Stop the import at the first conflict.
        Error = "error",
    }
}

keyword! {
    /// `checkpoint.driver`: where checkpoints are stored.
    CheckpointDriver {
        /// A local file, atomically replaced on each save.
        File = "file",
        /// Tables in `checkpoint.schema` on a MySQL-protocol server.
        Mysql = "mysql",
    }
}

keyword! {
    /// `checkpoint.keep-after-success`: what to do with checkpoints once the
    /// import succeeded (`true`/`false` as Lightning accepts: rename/remove).
    KeepAfterSuccess {
        /// Delete them.
        Remove = "remove",
        /// Keep them under a name suffixed with the task id.
        Rename = "rename",
        /// Keep them unchanged.
        Origin = "origin",
    }
    bool { true => Rename, false => Remove }
}

keyword! {
    /// `post-restore.checksum` / `analyze` level (`true` = required,
    /// `false` = off, as in Lightning).
    PostOpLevel {
        /// Skip the step.
        Off = "off" | "false",
        /// Run it; a failure is logged and the import still succeeds.
        Optional = "optional",
        /// Run it; a failure fails the table.
        Required = "required" | "true",
    }
    bool { true => Required, false => Off }
}

keyword! {
    /// `lightning.level`: log verbosity.
    LogLevel {
        /// Everything, including per-batch tracing.
        Trace = "trace",
        /// Debugging detail.
        Debug = "debug",
        /// Progress and milestones (default).
        Info = "info",
        /// Only problems.
        Warn = "warn" | "warning",
        /// Only errors.
        Error = "error",
        /// Lightning's `fatal`: logged like `error`.
        Fatal = "fatal",
    }
}

keyword! {
    /// `lightning.log-format` (ours): the log line format.
    LogFormat {
        /// Human-readable lines.
        Text = "text",
        /// One JSON object per line, for machines.
        Json = "json",
    }
}

keyword! {
    /// `tidb.tls`: TLS for SQL connections.
    TlsMode {
        /// TLS if `[tidb.security]`/`[security]` names a CA, else plaintext.
        Auto = "",
        /// Plaintext.
        Disabled = "false",
        /// TLS verified with the configured CA.
        Cluster = "cluster",
        /// TLS without verifying the server certificate (insecure).
        SkipVerify = "skip-verify",
        /// Like skip-verify, falling back to plaintext if the server has no TLS.
        Preferred = "preferred",
    }
}

keyword! {
    /// `tikv-importer.compress-kv-pairs`.
    KvCompression {
        /// No compression.
        None = "",
        /// gzip.
        Gzip = "gzip" | "gz",
    }
}

keyword! {
    /// `mydumper.data-character-set`: the encoding of data files.
    DataCharset {
        /// Bytes are taken as they are (default).
        Binary = "binary" | "",
        /// UTF-8.
        Utf8mb4 = "utf8mb4" | "utf8",
        /// GB 18030.
        Gb18030 = "gb18030",
        /// GBK (code page 936).
        Gbk = "gbk",
        /// Latin-1 (Windows-1252).
        Latin1 = "latin1",
        /// ASCII.
        Ascii = "ascii",
    }
}

keyword! {
    /// `mydumper.character-set`: the encoding of schema files.
    SchemaCharset {
        /// Detect UTF-8 or GB 18030 (default).
        Auto = "auto" | "",
        /// UTF-8.
        Utf8mb4 = "utf8mb4" | "utf8",
        /// GB 18030.
        Gb18030 = "gb18030",
        /// GBK (read as GB 18030, its superset).
        Gbk = "gbk",
        /// Bytes are taken as they are.
        Binary = "binary",
        /// Latin-1 (Windows-1252).
        Latin1 = "latin1",
    }
}

/// `lightning.max-error`: how many bad rows of each kind are tolerated
/// before the import stops. Written as an integer (the `type` limit) or a
/// table `{ syntax = 0, charset = 1000, type = 10 }`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct MaxError {
    /// Syntax errors (a chunk that cannot be parsed). Lightning hard-codes 0.
    pub syntax: u64,
    /// Character-set conversion errors.
    pub charset: u64,
    /// Type errors: values that don't fit their column, or rows the target
    /// rejects (duplicate keys with the tidb backend).
    #[serde(rename = "type")]
    pub type_: u64,
    /// Deprecated (use `conflict.threshold`): tolerated key conflicts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<u64>,
}

impl Default for MaxError {
    fn default() -> Self {
        Self {
            syntax: 0,
            // Lightning's `math.MaxInt64`: unlimited, and (unlike u64::MAX)
            // a value a TOML file can hold, so a written-back config loads.
            charset: i64::MAX.unsigned_abs(),
            type_: 0,
            conflict: None,
        }
    }
}

impl<'de> Deserialize<'de> for MaxError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn count<E: de::Error>(key: &str, v: i64) -> Result<u64, E> {
            u64::try_from(v)
                .map_err(|_| E::custom(format!("invalid `max-error.{key}` {v}: must be 0 or more")))
        }
        impl<'de> Visitor<'de> for V {
            type Value = MaxError;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a table { syntax, charset, type, conflict }")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MaxError, E> {
                Ok(MaxError {
                    type_: v,
                    ..MaxError::default()
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MaxError, E> {
                self.visit_u64(count("type", v)?)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MaxError, E> {
                let n: i64 = v.trim().parse().map_err(|_| {
                    E::custom(format!("invalid `max-error` \"{v}\": expected an integer"))
                })?;
                self.visit_i64(n)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaxError, A::Error> {
                let mut out = MaxError::default();
                while let Some(key) = map.next_key::<String>()? {
                    let value: Count = map.next_value()?;
                    let value = count::<A::Error>(&key, value.0)?;
                    match key.as_str() {
                        "syntax" => out.syntax = value,
                        "charset" => out.charset = value,
                        "type" => out.type_ = value,
                        "conflict" => out.conflict = Some(value),
                        _ => {
                            return Err(de::Error::unknown_field(
                                &key,
                                &["syntax", "charset", "type", "conflict"],
                            ));
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

/// An integer that may arrive as a string (environment variables).
struct Count(i64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                Ok(Count(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                i64::try_from(v)
                    .map(Count)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
                v.trim()
                    .parse()
                    .map(Count)
                    .map_err(|_| E::custom(format!("\"{v}\" is not an integer")))
            }
        }
        d.deserialize_any(V)
    }
}

/// Deserializes a string or a list of strings into a list (`null = '\N'`
/// and `null = ['\N', 'NULL']` are both valid).
pub fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// Deserializes a map whose values may be any scalar, kept as strings
/// (`[tidb.session-vars]` values are passed to `SET` verbatim).
pub fn scalar_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    struct Scalar(String);
    impl<'de> Deserialize<'de> for Scalar {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Scalar;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string, number or boolean")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_owned()))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                    Ok(Scalar(if v { "ON" } else { "OFF" }.to_owned()))
                }
            }
            d.deserialize_any(V)
        }
    }
    let raw = std::collections::BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(raw.into_iter().map(|(k, v)| (k, v.0)).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_lightning() {
        assert_eq!("96MiB".parse::<ByteSize>().unwrap(), ByteSize::mib(96));
        assert_eq!("1GB".parse::<ByteSize>().unwrap(), ByteSize::gib(1));
        assert_eq!("64k".parse::<ByteSize>().unwrap(), ByteSize::kib(64));
        assert_eq!(
            "1.5 GiB".parse::<ByteSize>().unwrap(),
            ByteSize(3 * GIB / 2)
        );
        assert_eq!("1048576".parse::<ByteSize>().unwrap(), ByteSize::mib(1));
        assert_eq!("10b".parse::<ByteSize>().unwrap(), ByteSize(10));
        for bad in ["", "MiB", "12XB", "-1", "1..5G", ".5G", "99999999999PiB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
        assert_eq!(ByteSize::mib(96).to_string(), "96MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
    }

    #[test]
    fn durations_parse_like_go() {
        let p = |s: &str| s.parse::<GoDuration>().map(|d| d.0);
        assert_eq!(p("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(p("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(p("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(p("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(p("0").unwrap(), Duration::ZERO);
        for bad in ["", "5", "5x", "m", "1h 30m", "-5s"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert_eq!(GoDuration::secs(90).to_string(), "1m30s");
        assert_eq!(
            GoDuration(Duration::from_millis(1500)).to_string(),
            "1s500ms"
        );
    }

    #[test]
    fn keywords_accept_aliases_and_bools() {
        assert_eq!("WARNING".parse::<LogLevel>().unwrap(), LogLevel::Warn);
        assert_eq!(
            "true".parse::<PostOpLevel>().unwrap(),
            PostOpLevel::Required
        );
        assert_eq!(PostOpLevel::from_bool(false), Some(PostOpLevel::Off));
        let err = "mysql".parse::<Backend>().unwrap_err();
        assert!(err.contains("\"local\", \"tidb\""), "{err}");
        // Lightning's removed backend: refused with the reason.
        let err = "importer".parse::<Backend>().unwrap_err();
        assert!(err.contains("removed from Lightning"), "{err}");
    }
}
