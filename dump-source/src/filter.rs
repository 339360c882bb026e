//! Lightning's table filter (`[mydumper] filter`, `-f`).
//!
//! Each rule is `db.tbl` with shell globs (`*`, `?`, `[a-z]`, `[!a-z]`) on
//! both sides, optionally `!`-prefixed to exclude; names may be back-quoted
//! to contain dots. The last rule a table matches decides; a table matching
//! none is excluded. Matching is case-insensitive unless case-sensitive.

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
}

impl Default for TableFilter {
    fn default() -> Self {
        // The default rules are valid by construction.
        TableFilter::parse(&DEFAULT_FILTER, false).unwrap_or(TableFilter {
            rules: Vec::new(),
            case_sensitive: false,
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
        })
    }

    /// Whether table `db`.`table` is imported.
    pub fn matches_table(&self, db: &str, table: &str) -> bool {
        let (db, table) = self.fold(db, table);
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
}
