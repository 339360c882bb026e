//! The column list of a `CREATE TABLE` in the words `sqlparser` knows.
//!
//! Real dumps spell some constructs in ways the MySQL dialect of
//! `sqlparser` does not read, though they mean nothing new to the table
//! model: a column's `CHARSET x` (a synonym of `CHARACTER SET x`), index and
//! column visibility (`INVISIBLE`, `VISIBLE`, MariaDB's `IGNORED`: rows are
//! loaded into them all the same), TiDB's `AUTO_RANDOM(n)` (an integer
//! primary key that takes the dump's values and allocates missing ones, as
//! `AUTO_INCREMENT` does) and a full-text index's `WITH PARSER name`.
//! Each is rewritten here, word by word outside
//! quotes; anything else reaches the parser as written.

use super::split::{is_word, quoted_end, starts_word, word_end};

/// The column list text with the rewrites above applied.
pub(super) fn for_local_parser(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' | b'`' => i = quoted_end(b, i),
            _ if starts_word(b, i) => {
                let end = word_end(b, i);
                let word = sql[i..end].to_ascii_uppercase();
                let before = sql[..i].trim_end().chars().last();
                let after_at = skip_space(b, end);
                let after = b.get(after_at).copied();
                // A word after `,` or `(` is a column name, one before `(`
                // a function call: neither is rewritten.
                let option = !matches!(before, Some(',' | '(') | None);
                let replacement = match word.as_str() {
                    "CHARSET" if option && after != Some(b'(') => Some(("CHARACTER SET", end)),
                    "INVISIBLE" | "VISIBLE" | "IGNORED" if option && after != Some(b'(') => {
                        Some(("", end))
                    }
                    "AUTO_RANDOM" if option => {
                        let args_end = if after == Some(b'(') {
                            memchr::memchr(b')', &b[after_at..]).map_or(end, |k| after_at + k + 1)
                        } else {
                            end
                        };
                        Some(("AUTO_INCREMENT", args_end))
                    }
                    "WITH" if option => {
                        // `WITH PARSER name`: the parser is the server's
                        // business; rows are loaded the same.
                        let next = &sql[after_at..];
                        let word_len = next.bytes().take_while(|c| is_word(*c)).count();
                        if next[..word_len].eq_ignore_ascii_case("PARSER") {
                            let name_at = skip_space(b, after_at + word_len);
                            let name_len = b[name_at..]
                                .iter()
                                .take_while(|c| is_word(**c) || **c == b'`')
                                .count();
                            Some(("", name_at + name_len))
                        } else {
                            None
                        }
                    }
                    _ => None,
                };
                if let Some((with, until)) = replacement {
                    out.push_str(&sql[copied..i]);
                    out.push_str(with);
                    copied = until;
                    i = until;
                } else {
                    i = end;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    out
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::for_local_parser;

    #[test]
    fn rewrites_options_only() {
        assert_eq!(
            for_local_parser("t (`charset` varchar(9) CHARSET latin1, k int AS (charset(a)))"),
            "t (`charset` varchar(9) CHARACTER SET latin1, k int AS (charset(a)))"
        );
        assert_eq!(
            for_local_parser("t (a bigint AUTO_RANDOM(5, 54), KEY k (a) INVISIBLE, visible int)"),
            "t (a bigint AUTO_INCREMENT, KEY k (a) , visible int)"
        );
        assert_eq!(
            for_local_parser("t (a text, FULLTEXT KEY f (a)  WITH PARSER `ngram`)"),
            "t (a text, FULLTEXT KEY f (a)  )"
        );
        assert_eq!(
            for_local_parser("t (a varchar(5) DEFAULT 'CHARSET x INVISIBLE')"),
            "t (a varchar(5) DEFAULT 'CHARSET x INVISIBLE')"
        );
    }
}
