//! The terminal, shared by the progress bars and everything else written
//! to stderr while they show.
//!
//! The bars redraw themselves in place: the cursor moves up over the lines
//! they drew last time and writes them again. A log line written to stderr
//! behind their back shifts those lines down, so the next redraw overwrites
//! the log line and leaves a torn copy of the bars above it. Text written
//! through [`Terminal`] clears the bars first, then the bars are drawn again
//! below it. With no bars showing (stderr not a terminal, or no import
//! running) the text is simply written.

use std::io::{self, Write};
use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressDrawTarget};
use tracing_subscriber::fmt::MakeWriter;

/// The target of events meant for the log file only: the caller shows the
/// same text on the terminal its own way (the final error, for one).
pub const FILE_ONLY_TARGET: &str = "importer::file_only";

/// The bars and the text written above them.
#[derive(Debug, Clone)]
pub struct Terminal {
    bars: MultiProgress,
}

impl Terminal {
    /// The process's stderr, shared by every writer and the progress bars.
    pub fn stderr() -> &'static Terminal {
        static STDERR: OnceLock<Terminal> = OnceLock::new();
        STDERR.get_or_init(|| Terminal::with_draw_target(ProgressDrawTarget::stderr()))
    }

    /// A terminal drawing its bars to `target` (tests draw to a fake screen).
    pub fn with_draw_target(target: ProgressDrawTarget) -> Self {
        Terminal {
            bars: MultiProgress::with_draw_target(target),
        }
    }

    /// The bars: add progress bars here so writes clear and redraw them.
    pub fn bars(&self) -> &MultiProgress {
        &self.bars
    }

    /// Writes `text` to `out` with the bars cleared, then redraws them.
    pub fn write_to(&self, out: &mut impl Write, text: &[u8]) -> io::Result<()> {
        self.bars.suspend(|| {
            out.write_all(text)?;
            out.flush()
        })
    }

    /// `eprintln!` above the bars.
    pub fn eprintln(&self, line: &str) {
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        // Like `eprintln!`, except that a closed stderr is not a panic.
        let _ = self.write_to(&mut io::stderr().lock(), text.as_bytes());
    }

    /// A `tracing_subscriber` writer for stderr above the bars.
    pub fn log_writer(&self) -> LogWriter<fn() -> io::Stderr> {
        self.log_writer_to(io::stderr)
    }

    /// A `tracing_subscriber` writer for `out` above the bars.
    pub fn log_writer_to<M>(&self, out: M) -> LogWriter<M> {
        LogWriter {
            terminal: self.clone(),
            out,
        }
    }
}

/// Makes one [`LogEvent`] per log event; see [`Terminal::log_writer`].
#[derive(Debug, Clone)]
pub struct LogWriter<M> {
    terminal: Terminal,
    out: M,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for LogWriter<M> {
    type Writer = LogEvent<'a, M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        LogEvent {
            terminal: &self.terminal,
            out: self.out.make_writer(),
            text: Vec::new(),
        }
    }
}

/// One event's text, collected and written above the bars when flushed or
/// dropped, so a redraw never lands in the middle of a line.
#[derive(Debug)]
pub struct LogEvent<'a, W: Write> {
    terminal: &'a Terminal,
    out: W,
    text: Vec<u8>,
}

impl<W: Write> Write for LogEvent<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.text.is_empty() {
            return Ok(());
        }
        let text = std::mem::take(&mut self.text);
        self.terminal.write_to(&mut self.out, &text)
    }
}

impl<W: Write> Drop for LogEvent<'_, W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, MutexGuard};

    use indicatif::{ProgressBar, ProgressStyle, TermLike};

    use super::*;

    /// A small terminal: a grid of rows, a cursor, and the deferred wrap of
    /// a real one (a line filled to the last column moves the cursor to the
    /// next row only when the next character comes). Both the bars and the
    /// log write into it, as both write to stderr.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<Grid>>);

    #[derive(Debug, Default)]
    struct Grid {
        rows: Vec<Vec<char>>,
        row: usize,
        col: usize,
        wrap_pending: bool,
    }

    const WIDTH: u16 = 40;

    impl Grid {
        fn put(&mut self, c: char) {
            match c {
                // The tty turns "\n" into "\r\n".
                '\n' => {
                    self.row += 1;
                    self.col = 0;
                    self.wrap_pending = false;
                }
                '\r' => {
                    self.col = 0;
                    self.wrap_pending = false;
                }
                c => {
                    if self.wrap_pending {
                        self.row += 1;
                        self.col = 0;
                        self.wrap_pending = false;
                    }
                    while self.rows.len() <= self.row {
                        self.rows.push(vec![' '; usize::from(WIDTH)]);
                    }
                    self.rows[self.row][self.col] = c;
                    if self.col + 1 == usize::from(WIDTH) {
                        self.wrap_pending = true;
                    } else {
                        self.col += 1;
                    }
                }
            }
        }
    }

    impl Screen {
        fn grid(&self) -> MutexGuard<'_, Grid> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// The screen's non-blank rows, trailing blanks trimmed.
        fn lines(&self) -> Vec<String> {
            self.grid()
                .rows
                .iter()
                .map(|r| r.iter().collect::<String>().trim_end().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            WIDTH
        }
        fn move_cursor_up(&self, n: usize) -> io::Result<()> {
            let mut g = self.grid();
            g.row = g.row.saturating_sub(n);
            g.wrap_pending = false;
            Ok(())
        }
        fn move_cursor_down(&self, n: usize) -> io::Result<()> {
            let mut g = self.grid();
            g.row += n;
            g.wrap_pending = false;
            Ok(())
        }
        fn move_cursor_right(&self, n: usize) -> io::Result<()> {
            let mut g = self.grid();
            g.col = (g.col + n).min(usize::from(WIDTH) - 1);
            Ok(())
        }
        fn move_cursor_left(&self, n: usize) -> io::Result<()> {
            let mut g = self.grid();
            g.col = g.col.saturating_sub(n);
            g.wrap_pending = false;
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.write_str(s)?;
            self.write_str("\n")
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            let mut g = self.grid();
            s.chars().for_each(|c| g.put(c));
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            let mut g = self.grid();
            let row = g.row;
            if let Some(r) = g.rows.get_mut(row) {
                r.fill(' ');
            }
            g.col = 0;
            g.wrap_pending = false;
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Write for Screen {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_str(&String::from_utf8_lossy(buf))?;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A terminal drawing to a fresh screen, with two bars on it.
    fn two_bars() -> (Screen, Terminal, ProgressBar, ProgressBar) {
        let screen = Screen::default();
        let term =
            Terminal::with_draw_target(ProgressDrawTarget::term_like(Box::new(screen.clone())));
        let bar = |name: &str| {
            let bar = term.bars().add(ProgressBar::new(10));
            bar.set_style(
                ProgressStyle::with_template("{prefix} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(name.to_string());
            bar.set_message("0%");
            bar
        };
        let (total, t1) = (bar("total"), bar("  t1"));
        (screen, term, total, t1)
    }

    #[test]
    fn log_lines_go_above_the_bars_and_leave_no_torn_copies() {
        let (screen, term, total, t1) = two_bars();
        assert_eq!(screen.lines(), ["total 0%", "  t1 0%"]);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(term.log_writer_to({
                let screen = screen.clone();
                move || screen.clone()
            }))
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .with_level(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("first");
            total.set_message("30%");
            t1.set_message("30%");
            tracing::info!("second\nof two lines");
            total.set_message("70%");
        });
        term.write_to(&mut screen.clone(), b"third\n")
            .unwrap_or_default();
        t1.set_message("90%");
        assert_eq!(
            screen.lines(),
            [
                "first",
                "second",
                "of two lines",
                "third",
                "total 70%",
                "  t1 90%"
            ]
        );
    }

    #[test]
    fn writing_behind_the_bars_tears_them() {
        // What the test above guards against, on the same screen: a line
        // written straight to it is overwritten by the next redraw, which
        // leaves a copy of the old bars above.
        let (screen, _term, total, t1) = two_bars();
        screen.clone().write_all(b"first\n").unwrap_or_default();
        total.set_message("30%");
        t1.set_message("30%");
        assert_eq!(
            screen.lines(),
            ["total 0%", "  t1 0%", "total 30%", "  t1 30%"]
        );
    }
}
