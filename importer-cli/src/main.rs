//! The `importer` binary: parses the command line, loads and validates the
//! configuration, sets up logging, then runs the command.
//!
//! Exit status: 0 success, 1 the import or command failed, 2 usage or
//! configuration error (clap's usage errors exit with 2 too).

mod run;

use std::process::ExitCode;

use clap::Parser;
use importer_cli::cli::{self, Cli, Command};
use importer_cli::config::{self, Config, EnvVars, LoadOptions, LogFormat, LogLevel};
use importer_cli::interrupt::{Interrupt, Interrupted};
use importer_cli::logfile::{RotatingFile, Rotation};
use importer_cli::redaction::{self, Redacting, Scrubbing};
use importer_cli::terminal::{FILE_ONLY_TARGET, Terminal};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, filter};

/// An import allocates on one thread and frees on another: encoder threads
/// fill KV batches (`backend_core::KvPairs`), writers keep them until a
/// flush, and the flush's blocking thread frees them once they are sorted
/// and written. glibc's per-thread arenas kept what was freed that way
/// instead of reusing it: when each pair was still two heap blocks of its
/// own, a TPC-H SF1 local import peaked at 2.2 GiB RSS with glibc and
/// 0.9 GiB with mimalloc, at the same CPU time. Batches allocate far less
/// often, in the same pattern; mimalloc gives memory freed by another
/// thread back to the heap it came from.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// Our crates, whose logs follow `-L`; other crates log warnings and errors only.
const OUR_CRATES: &[&str] = &[
    "importer",
    "importer_cli",
    "backend_core",
    "backend_local",
    "backend_tidb",
    "dump_source",
];

fn main() -> ExitCode {
    // Go's single-dash flags (`-config`, `-tidb-host`) as tidb-lightning takes them.
    let cli = Cli::parse_from(cli::lightning_args(std::env::args_os()));
    let options = cli.load_options(EnvVars::from_process());
    let loaded = match config::load(&options) {
        Ok(loaded) => loaded,
        Err(e) => return config_error(&options, &e.to_string()),
    };
    if cli.command.is_none()
        && let Err(e) = loaded.config.require_data_source(&loaded.origins)
    {
        return config_error(&options, &e.to_string());
    }
    redaction::set_enabled(loaded.config.security.redact_info_log);
    if let Err(e) = init_logging(&loaded.config) {
        eprintln!("error: {e:#}");
        return ExitCode::from(EXIT_USAGE);
    }
    for warning in loaded.warnings.iter().chain(&cli.warnings()) {
        tracing::warn!("{warning}");
    }
    tracing::debug!(config = %loaded.config, "configuration loaded");

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let cfg = loaded.config;
    // When logs go to stderr the message below is the log; don't print it twice.
    let logs_to_file = !matches!(cfg.lightning.file.as_str(), "" | "-");
    let interrupt = Interrupt::new();
    let result = runtime.block_on(async {
        match cli.command {
            None if cli.import.check_only() => run::precheck(cfg).await,
            None => {
                // Only the import stops cleanly; other commands keep the
                // default (Ctrl-C ends them at once).
                watch_signals(interrupt.clone());
                run::import(cfg, &interrupt).await
            }
            Some(Command::Store(args)) => run::store_command(cfg, args.command).await,
            Some(Command::Checkpoint(args)) => run::checkpoint_command(cfg, args.command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = redaction::redact(&importer_cli::errors::error_text(&e)).into_owned();
            if logs_to_file {
                tracing::error!(target: FILE_ONLY_TARGET, "{text}");
            }
            eprintln!("error: {text}");
            match e.downcast_ref::<Interrupted>() {
                Some(stopped) => ExitCode::from(signal_exit_code(stopped.reason)),
                None => ExitCode::from(EXIT_FAILED),
            }
        }
    }
}

/// A configuration that cannot be used: the error on stderr and, when a log
/// file can be made out (`--log-file`, the environment, or the file's
/// `[lightning] file`), in the log file too; exit status 2.
fn config_error(options: &LoadOptions, text: &str) -> ExitCode {
    eprintln!("error: {text}");
    if let Some(file) = config::log_file_hint(options).filter(|f| !f.is_empty() && f != "-") {
        let mut cfg = Config::default();
        cfg.lightning.file = file;
        if init_logging(&cfg).is_ok() {
            tracing::error!(target: FILE_ONLY_TARGET, "{text}");
        }
    }
    ExitCode::from(EXIT_USAGE)
}

/// The shell's convention for "stopped by signal N": 128 + N.
fn signal_exit_code(reason: &str) -> u8 {
    match reason {
        "SIGINT" => 130,
        "SIGTERM" => 143,
        _ => EXIT_FAILED,
    }
}

/// The first SIGINT or SIGTERM asks the import to stop cleanly (chunks in
/// flight finish their batch, the checkpoint is saved); a second one exits
/// at once — still safe to resume, since checkpoints only ever record
/// durable data, but the chunks in flight are redone.
fn watch_signals(interrupt: Interrupt) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot install signal handlers; Ctrl-C stops the import at once");
        return;
    };
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let reason = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            seen += 1;
            if seen == 1 {
                Terminal::stderr().eprintln(&format!(
                    "{reason} received: stopping after the chunks in flight and saving the \
                     checkpoint (send it again to exit at once)"
                ));
                interrupt.trigger(reason);
            } else {
                Terminal::stderr().eprintln(&format!(
                    "{reason} received again: exiting now; rerun the same command to resume \
                     from the last checkpoint"
                ));
                exit_now(i32::from(signal_exit_code(reason)));
            }
        }
    });
}

/// Ends the process at once, as a crash would: no atexit handlers and no
/// C++ static destructors. `std::process::exit` runs RocksDB's static
/// destructors while its threads may still be ingesting into an engine, and
/// a rerun then found the engine's MANIFEST naming an unreadable SST
/// (`cli_faults`, about one run in six). RocksDB is built to survive the
/// process simply ending, which is what `kill -9` resumes rely on too.
#[allow(unsafe_code)]
fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` has no preconditions; it terminates the process
    // without returning and without touching any Rust or C++ state.
    unsafe { libc::_exit(code) }
}

/// Logs at `lightning.level`, as text or JSON lines, to stderr above the
/// progress bars; or, when `lightning.file` is set (and not `-`), to that
/// file, rotated past `max-size` MB as Lightning does, while stderr keeps
/// showing the warnings and errors above the bars.
/// `RUST_LOG`, when set, replaces the level filter.
fn init_logging(cfg: &Config) -> anyhow::Result<()> {
    let level = match cfg.lightning.level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error | LogLevel::Fatal => "error",
    };
    let others = if level == "error" { "error" } else { "warn" };
    let directives: Vec<String> = std::iter::once(others.to_owned())
        .chain(OUR_CRATES.iter().map(|c| format!("{c}={level}")))
        .collect();
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::try_new(&spec)
            .map_err(|e| anyhow::anyhow!("invalid RUST_LOG `{spec}`: {e}"))?,
        _ => EnvFilter::try_new(directives.join(","))?,
    };
    let json = cfg.lightning.log_format == LogFormat::Json;
    let terminal = Terminal::stderr();
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let file = cfg.lightning.file.as_str();
    let redact = cfg.security.redact_info_log;
    let installed = if file.is_empty() || file == "-" {
        let writer = terminal.log_writer();
        let layer = if redact {
            log_layer(Redacting(writer), json, ansi)
        } else {
            log_layer(Scrubbing(writer), json, ansi)
        };
        tracing_subscriber::registry()
            .with(filter)
            .with(layer)
            .try_init()
    } else {
        let l = &cfg.lightning;
        let rotation = Rotation::from_config(l.max_size, l.max_days, l.max_backups);
        let log = RotatingFile::open(std::path::Path::new(file), rotation)
            .map_err(|e| anyhow::anyhow!("cannot open log file `{file}` (lightning.file): {e}"))?;
        let shown_filter = filter::filter_fn(|meta| {
            *meta.level() <= tracing::Level::WARN && meta.target() != FILE_ONLY_TARGET
        });
        let (file_layer, shown) = if redact {
            (
                log_layer(Redacting(std::sync::Mutex::new(log)), json, false),
                log_layer(Redacting(terminal.log_writer()), false, ansi),
            )
        } else {
            (
                log_layer(Scrubbing(std::sync::Mutex::new(log)), json, false),
                log_layer(Scrubbing(terminal.log_writer()), false, ansi),
            )
        };
        tracing_subscriber::registry()
            .with(filter)
            .with(file_layer)
            .with(shown.with_filter(shown_filter))
            .try_init()
    };
    installed.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// The layer that writes every enabled event to `writer`.
fn log_layer<S, W>(writer: W, json: bool, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    if json {
        layer.json().boxed()
    } else {
        layer.with_ansi(ansi).boxed()
    }
}
