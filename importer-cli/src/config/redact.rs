//! Keeps passwords out of logs: the text shown instead of a secret, and the
//! DSN form with its password masked.

/// What a secret is replaced with in logs.
pub const REDACTED: &str = "******";

/// Masks the password of a DSN, in Go's `user:pass@tcp(host:port)/db` form
/// or a URL `mysql://user:pass@host:port/db`; anything without a password
/// (a checkpoint file path) is returned unchanged.
pub fn redact_dsn(dsn: &str) -> String {
    let (scheme, rest) = match dsn.find("://") {
        Some(i) => dsn.split_at(i + 3),
        None => ("", dsn),
    };
    // The user-info part ends at the last '@' before the address.
    let Some(at) = rest.rfind('@') else {
        return dsn.to_owned();
    };
    let (userinfo, address) = rest.split_at(at);
    match userinfo.find(':') {
        Some(colon) => format!("{scheme}{}:{REDACTED}{address}", &userinfo[..colon]),
        None => dsn.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_in_both_dsn_forms() {
        assert_eq!(
            redact_dsn("root:s3cr@t@tcp(127.0.0.1:4000)/"),
            "root:******@tcp(127.0.0.1:4000)/"
        );
        assert_eq!(
            redact_dsn("mysql://u:pw@host:3306/db"),
            "mysql://u:******@host:3306/db"
        );
        assert_eq!(redact_dsn("u@tcp(h:1)/"), "u@tcp(h:1)/");
        assert_eq!(redact_dsn("/tmp/cp.pb"), "/tmp/cp.pb");
    }
}
