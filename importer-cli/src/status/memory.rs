//! The process's memory use, from `/proc/self/status` (Linux).

/// Resident memory now (`VmRSS`), in bytes; `None` where unknown.
pub fn rss_bytes() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|kib| kib.saturating_mul(1024))
}

/// Peak resident memory (`VmHWM`), in bytes; `None` where unknown.
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|kib| kib.saturating_mul(1024))
}

fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_kib(&status, key)
}

/// The `kB` value of line `key` in a `/proc/*/status` text.
fn parse_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_lines() {
        let text = "Name:\timporter\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(parse_kib(text, "VmRSS:"), Some(1024));
        assert_eq!(parse_kib(text, "VmHWM:"), Some(2048));
        assert_eq!(parse_kib(text, "VmSwap:"), None);
    }

    #[test]
    fn this_process_has_memory() {
        if cfg!(target_os = "linux") {
            assert!(rss_bytes().is_some_and(|b| b > 0));
            assert!(peak_rss_bytes() >= rss_bytes());
        }
    }
}
