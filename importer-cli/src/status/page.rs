//! `/`: one self-contained page (inline CSS and script, no external
//! assets, works offline) that polls `/progress` every second and draws
//! overall and per-table progress bars, throughput, ETA, and the final
//! summary or the error that stopped the run.

/// The page.
pub const HTML: &str = include_str!("page.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for needle in ["http://", "https://", "src=", "<link", "@import"] {
            assert!(!HTML.contains(needle), "page references {needle}");
        }
        assert!(HTML.contains("fetch(\"progress\""));
    }
}
