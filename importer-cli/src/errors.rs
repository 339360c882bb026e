//! Errors as the user reads them.

/// An error and its causes on one line, like `{:#}`, but without repeating
/// a cause whose text an outer message already includes (our error types
/// print their source inline, and `{:#}` would print it again).
pub fn error_text(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
