//! `[[routes]]`: renaming source schemas and tables on the target, for
//! example merging sharded tables `db_01.t_01`, `db_02.t_02` into `db.t`.

use super::SourceError;
use super::filter::glob_match;

/// One `[[routes]]` rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteRule {
    /// Glob matched against the source database (`schema-pattern`).
    pub schema_pattern: String,
    /// Glob matched against the source table (`table-pattern`); empty makes
    /// a schema-only rule that keeps table names.
    pub table_pattern: String,
    /// The target database (`target-schema`).
    pub target_schema: String,
    /// The target table (`target-table`); empty keeps the source name.
    pub target_table: String,
}

/// Compiled routes: the first matching table rule wins over schema rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Router {
    rules: Vec<RouteRule>,
    case_sensitive: bool,
}

impl Router {
    /// Compiles `rules`; a rule without a schema pattern or target schema is
    /// an error.
    pub fn new(rules: &[RouteRule], case_sensitive: bool) -> Result<Self, SourceError> {
        let mut out = Vec::with_capacity(rules.len());
        for (i, r) in rules.iter().enumerate() {
            if r.schema_pattern.is_empty() || r.target_schema.is_empty() {
                return Err(SourceError::Config(format!(
                    "routes[{i}]: schema-pattern and target-schema are required"
                )));
            }
            let fold = |s: &str| {
                if case_sensitive {
                    s.to_string()
                } else {
                    s.to_lowercase()
                }
            };
            out.push(RouteRule {
                schema_pattern: fold(&r.schema_pattern),
                table_pattern: fold(&r.table_pattern),
                target_schema: r.target_schema.clone(),
                target_table: r.target_table.clone(),
            });
        }
        Ok(Router {
            rules: out,
            case_sensitive,
        })
    }

    /// The target of source table `db`.`table` (`table` empty for a
    /// database).
    pub fn route(&self, db: &str, table: &str) -> (String, String) {
        let fold = |s: &str| {
            if self.case_sensitive {
                s.to_string()
            } else {
                s.to_lowercase()
            }
        };
        let (fdb, ftable) = (fold(db), fold(table));
        let table_rule = self.rules.iter().find(|r| {
            !r.table_pattern.is_empty()
                && !table.is_empty()
                && glob_match(r.schema_pattern.as_bytes(), fdb.as_bytes())
                && glob_match(r.table_pattern.as_bytes(), ftable.as_bytes())
        });
        let rule = table_rule.or_else(|| {
            self.rules.iter().find(|r| {
                r.table_pattern.is_empty()
                    && glob_match(r.schema_pattern.as_bytes(), fdb.as_bytes())
            })
        });
        match rule {
            Some(r) => {
                let target_table = if r.target_table.is_empty() || table.is_empty() {
                    table.to_string()
                } else {
                    r.target_table.clone()
                };
                (r.target_schema.clone(), target_table)
            }
            None => (db.to_string(), table.to_string()),
        }
    }
}
