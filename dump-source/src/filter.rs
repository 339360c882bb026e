//! Lightning's table filter (`[mydumper] filter`, `-f`).
//!
//! Each rule is `db.tbl` with shell globs (`*`, `?`, `[a-z]`, `[!a-z]`) on
//! both sides, optionally `!`-prefixed to exclude; names may be back-quoted
//! to contain dots. The last rule a table matches decides; a table matching
//! none is excluded. Matching is case-insensitive unless case-sensitive.
//!
//! Lightning's older `[black-white-list]` (MySQL replication rules) is the
//! other kind of filter ([`TableFilter::from_replication_rules`]).

use super::SourceError;

/// Lightning's default filter: everything but the system schemas.
pub const DEFAULT_FILTER: [&str; 7] = [
    "*.*",
    "!mysql.*",
    "!sys.*",
    "!INFORMATION_SCHEMA.*",
    "!PERFORMANCE_SCHEMA.*",
    "!METRICS_SCHEMA.*",
    "!INSPECTION_SCHEMA.*",
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    negate: bool,
    db: String,
    table: String,
}

/// A compiled table filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFilter {
    rules: Vec<Rule>,
    case_sensitive: bool,
    /// Set when built from `[black-white-list]`: then `rules` is unused.
    replication: Option<Box<Replication>>,
}

/// A name in a replication rule: a literal, a glob (`*`, `?`, `[…]`), or
/// after `~` an unanchored regex, as Lightning's legacy patterns.
#[derive(Debug, Clone)]
enum Matcher {
    Any,
    Literal(String),
    Glob(String),
    Regex(String, regex::Regex),
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Matcher::Any, Matcher::Any) => true,
            (Matcher::Literal(a), Matcher::Literal(b))
            | (Matcher::Glob(a), Matcher::Glob(b))
            | (Matcher::Regex(a, _), Matcher::Regex(b, _)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Matcher {}

impl Matcher {
    fn legacy(pattern: &str, case_sensitive: bool) -> Result<Self, SourceError> {
        if pattern.is_empty() {
            return Err(SourceError::Config(
                "black-white-list: a name or pattern must not be empty".into(),
            ));
        }
        if let Some(re) = pattern.strip_prefix('~') {
            let source = if case_sensitive {
                re.to_owned()
            } else {
                format!("(?i){re}")
            };
            let compiled = regex::Regex::new(&source).map_err(|e| {
                SourceError::Config(format!(
                    "black-white-list: `{pattern}` is not a valid regex: {e}"
                ))
            })?;
            return Ok(Matcher::Regex(source, compiled));
        }
        let folded = if case_sensitive {
            pattern.to_owned()
        } else {
            pattern.to_lowercase()
        };
        if pattern.contains(['*', '?', '[']) {
            validate_glob(pattern).map_err(|why| {
                SourceError::Config(format!("black-white-list: `{pattern}`: {why}"))
            })?;
            Ok(Matcher::Glob(folded))
        } else {
            Ok(Matcher::Literal(folded))
        }
    }

    fn matches_all(&self) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Glob(p) => p == "*",
            _ => false,
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Literal(s) => s == name,
            Matcher::Glob(p) => glob_match(p.as_bytes(), name.as_bytes()),
            Matcher::Regex(_, re) => re.is_match(name),
        }
    }
}

/// One replication rule: the first rule a name matches decides.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReplicationRule {
    db: Matcher,
    table: Matcher,
    positive: bool,
}

/// `[black-white-list]` compiled as Lightning's table-filter does: a table
/// must pass both the schema rules and the table rules.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Replication {
    schemas: Vec<ReplicationRule>,
    tables: Vec<ReplicationRule>,
}

fn first_match(rules: &[ReplicationRule], db: &str, table: &str) -> bool {
    rules
        .iter()
        .find(|r| r.db.matches(db) && r.table.matches(table))
        .is_some_and(|r| r.positive)
}

fn first_schema_match(rules: &[ReplicationRule], db: &str) -> bool {
    rules
        .iter()
        .find(|r| r.db.matches(db) && (r.positive || r.table.matches_all()))
        .is_some_and(|r| r.positive)
}

impl Default for TableFilter {
    fn default() -> Self {
        // The default rules are valid by construction.
        TableFilter::parse(&DEFAULT_FILTER, false).unwrap_or(TableFilter {
            rules: Vec::new(),
            case_sensitive: false,
            replication: None,
        })
    }
}

impl TableFilter {
    /// Compiles `rules`. Empty rules and `#` comments are ignored; a rule
    /// without a `.` or with a bad glob is an error naming it.
    pub fn parse<S: AsRef<str>>(rules: &[S], case_sensitive: bool) -> Result<Self, SourceError> {
        let mut out = Vec::new();
        for raw in rules {
            let raw = raw.as_ref().trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let (negate, body) = match raw.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, raw),
            };
            let (db, table) = split_rule(body).ok_or_else(|| {
                SourceError::Config(format!(
                    "table filter rule {raw:?} must look like 'db.table'"
                ))
            })?;
            for part in [&db, &table] {
                validate_glob(part).map_err(|why| {
                    SourceError::Config(format!("table filter rule {raw:?}: {why}"))
                })?;
            }
            let fold = |s: String| if case_sensitive { s } else { s.to_lowercase() };
            out.push(Rule {
                negate,
                db: fold(db),
                table: fold(table),
            });
        }
        Ok(TableFilter {
            rules: out,
            case_sensitive,
            replication: None,
        })
    }

    /// Compiles Lightning's deprecated `[black-white-list]` (MySQL
    /// replication rules) as Lightning does: `do-dbs` (or else `ignore-dbs`)
    /// decide the schema and `do-tables` (or else `ignore-tables`, as
    /// `(db, table)` pairs) the table; a table must pass both. A name is a
    /// literal, a glob (`*`, `?`, `[…]`), or after `~` a regex (unanchored).
    ///
    /// # Errors
    /// [`SourceError::Config`] naming an empty name, a bad glob or regex.
    pub fn from_replication_rules<S: AsRef<str>>(
        do_dbs: &[S],
        ignore_dbs: &[S],
        do_tables: &[(S, S)],
        ignore_tables: &[(S, S)],
        case_sensitive: bool,
    ) -> Result<Self, SourceError> {
        let m = |p: &S| Matcher::legacy(p.as_ref(), case_sensitive);
        let (dbs, positive) = if do_dbs.is_empty() {
            (ignore_dbs, false)
        } else {
            (do_dbs, true)
        };
        let mut schemas = dbs
            .iter()
            .map(|db| {
                Ok(ReplicationRule {
                    db: m(db)?,
                    table: Matcher::Any,
                    positive,
                })
            })
            .collect::<Result<Vec<_>, SourceError>>()?;
        if !positive {
            schemas.push(ReplicationRule {
                db: Matcher::Any,
                table: Matcher::Any,
                positive: true,
            });
        }
        let (list, positive) = if do_tables.is_empty() {
            (ignore_tables, false)
        } else {
            (do_tables, true)
        };
        let mut tables = list
            .iter()
            .map(|(db, table)| {
                Ok(ReplicationRule {
                    db: m(db)?,
                    table: m(table)?,
                    positive,
                })
            })
            .collect::<Result<Vec<_>, SourceError>>()?;
        if !positive {
            tables.push(ReplicationRule {
                db: Matcher::Any,
                table: Matcher::Any,
                positive: true,
            });
        }
        Ok(TableFilter {
            rules: Vec::new(),
            case_sensitive,
            replication: Some(Box::new(Replication { schemas, tables })),
        })
    }

    /// Whether table `db`.`table` is imported.
    pub fn matches_table(&self, db: &str, table: &str) -> bool {
        let (db, table) = self.fold(db, table);
        if let Some(r) = &self.replication {
            return first_match(&r.schemas, &db, &table) && first_match(&r.tables, &db, &table);
        }
        let mut result = false;
        for rule in &self.rules {
            if glob_match(rule.db.as_bytes(), db.as_bytes())
                && glob_match(rule.table.as_bytes(), table.as_bytes())
            {
                result = !rule.negate;
            }
        }
        result
    }

    /// Whether any table of database `db` may be imported (so its schema is
    /// created): some including rule matches the database.
    pub fn matches_schema(&self, db: &str) -> bool {
        let (db, _) = self.fold(db, "");
        if let Some(r) = &self.replication {
            return first_schema_match(&r.schemas, &db) && first_schema_match(&r.tables, &db);
        }
        let mut result = false;
        for rule in &self.rules {
            if glob_match(rule.db.as_bytes(), db.as_bytes()) {
                if !rule.negate {
                    result = true;
                } else if rule.table == "*" {
                    result = false;
                }
            }
        }
        result
    }

    fn fold(&self, db: &str, table: &str) -> (String, String) {
        if self.case_sensitive {
            (db.to_string(), table.to_string())
        } else {
            (db.to_lowercase(), table.to_lowercase())
        }
    }
}

/// Splits `db.table` at the first dot outside back-quotes, unquoting.
fn split_rule(body: &str) -> Option<(String, String)> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' if quoted && chars.peek() == Some(&'`') => {
                chars.next();
                cur.push('`');
            }
            '`' => quoted = !quoted,
            '.' if !quoted && parts.is_empty() => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted || parts.len() != 1 {
        return None;
    }
    let db = parts.pop()?;
    if db.is_empty() || cur.is_empty() {
        return None;
    }
    Some((db, cur))
}

fn validate_glob(p: &str) -> Result<(), String> {
    let mut in_class = false;
    for c in p.chars() {
        match c {
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            _ => {}
        }
    }
    if in_class {
        return Err("unclosed '[' in pattern".into());
    }
    Ok(())
}

/// Shell-style glob over bytes: `*`, `?`, `[…]`/`[!…]` with ranges.
pub(crate) fn glob_match(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = match_class(pat, p, text[t]) {
                        if matched {
                            p = next;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == b'[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|c| *c == b'*')
}

/// Matches `c` against the class starting at `pat[p] == '['`; returns the
/// result and the index after `]`, or `None` if the class is unclosed.
fn match_class(pat: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = p + 1;
    let negate = matches!(pat.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        if pat[i] == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < pat.len() && pat[i + 1] == b'-' && pat[i + 2] != b']' {
            if pat[i] <= c && c <= pat[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if pat[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*c", b"abbbc"));
        assert!(!glob_match(b"a*c", b"abbb"));
        assert!(glob_match(b"t?", b"t1"));
        assert!(glob_match(b"t[0-9]", b"t7"));
        assert!(!glob_match(b"t[!0-9]", b"t7"));
        assert!(glob_match(b"t[!0-9]", b"tx"));
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn replication_rules_as_lightning() {
        let none: [(&str, &str); 0] = [];
        // do-dbs: only those schemas; `~` is an unanchored regex.
        let f =
            TableFilter::from_replication_rules(&["shop", "~^log_\\d+$"], &[], &none, &none, false)
                .unwrap();
        assert!(f.matches_table("shop", "orders"));
        assert!(f.matches_table("SHOP", "orders"), "case-insensitive");
        assert!(f.matches_table("log_7", "t"));
        assert!(!f.matches_table("log_x", "t"));
        assert!(!f.matches_table("other", "t"));
        assert!(f.matches_schema("shop") && !f.matches_schema("other"));

        // ignore-dbs only applies without do-dbs; ignore-tables with globs.
        let f = TableFilter::from_replication_rules(
            &[],
            &["mysql"],
            &none,
            &[("shop", "tmp_*"), ("audit", "*")],
            false,
        )
        .unwrap();
        assert!(!f.matches_table("mysql", "user"));
        assert!(f.matches_table("shop", "orders"));
        assert!(!f.matches_table("shop", "tmp_1"));
        assert!(!f.matches_table("audit", "x"));
        assert!(!f.matches_schema("audit"), "every table of it is ignored");
        assert!(f.matches_schema("shop"));

        // do-tables wins over ignore-tables; both lists must pass.
        let f = TableFilter::from_replication_rules(
            &["shop"],
            &["shop"],
            &[("shop", "orders"), ("~.*", "~^t[0-9]$")],
            &[("shop", "orders")],
            true,
        )
        .unwrap();
        assert!(f.matches_table("shop", "orders"));
        assert!(f.matches_table("shop", "t1"));
        assert!(!f.matches_table("shop", "items"));
        assert!(!f.matches_table("SHOP", "orders"), "case-sensitive");
        assert!(!f.matches_table("other", "t1"), "the schema rules fail");

        assert!(TableFilter::from_replication_rules(&["~("], &[], &none, &none, false).is_err());
    }
}
