//! What the config needs of object-store URLs in `data-source-dir`:
//! recognising them, checking their parameters, and showing them without
//! credentials. The data source owns the URL rules; the config-only build
//! (no `cli` feature, no data source) recognises none and shows any URL
//! without its query, which never holds less than the secrets.

/// Whether `spec` is an object-store URL.
#[cfg(feature = "cli")]
pub fn is_object_url(spec: &str) -> bool {
    dump_source::storage::is_object_url(spec)
}

/// Checks the URL's scheme and parameters (no request is made).
#[cfg(feature = "cli")]
pub fn check(spec: &str) -> Result<(), String> {
    dump_source::storage::ObjectUrl::parse(spec)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `spec` without the URL parameters that hold credentials.
#[cfg(feature = "cli")]
pub fn redact(spec: &str) -> String {
    dump_source::storage::redact_spec(spec)
}

/// Whether `spec` is an object-store URL (never, without the data source).
#[cfg(not(feature = "cli"))]
pub fn is_object_url(_spec: &str) -> bool {
    false
}

/// Checks the URL (nothing to check without the data source).
#[cfg(not(feature = "cli"))]
pub fn check(_spec: &str) -> Result<(), String> {
    Ok(())
}

/// `spec` without any URL query.
#[cfg(not(feature = "cli"))]
pub fn redact(spec: &str) -> String {
    spec.split('?').next().unwrap_or_default().to_string()
}
