//! The file checkpoint driver: a JSON snapshot plus an append-only journal.
//!
//! The snapshot (`<path>`) holds the whole checkpoint. It is written to a
//! temporary beside the target, fsynced, renamed over the old one and the
//! directory fsynced, so after a crash it is either the previous or the new
//! snapshot, never a torn mix.
//!
//! Between snapshots a save appends one line per changed table to the
//! journal (`<path>.journal`): a save costs what changed, not the whole
//! checkpoint, which keeps an import of thousands of tables linear. The
//! journal starts with the generation of the snapshot it extends, so a
//! journal left over from an older snapshot (a crash between writing a new
//! snapshot and removing the journal) is ignored. A crash during an append
//! can only tear the last line; a load drops it, and the first save after a
//! load writes a fresh snapshot. When the journal outgrows the snapshot a
//! save writes a new snapshot instead (compaction), so the journal's size
//! stays within a constant factor of the state.
//!
//! Durability: every save reaches the operating system before it returns,
//! so it survives `kill -9` at once. Journal appends are fsynced at most
//! [`SYNC_INTERVAL`] apart and whenever [`FileCheckpointStore::sync`] is
//! called; the pipeline calls it before any step that would destroy data an
//! older checkpoint still needs (cleaning up an imported engine, dropping
//! indexes). After a power cut the checkpoint may therefore be up to that
//! interval older than the work done, and every step since is one a resume
//! redoes safely. Snapshots are always fsynced.

use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::CheckpointError;
use super::model::{CHECKPOINT_VERSION, Checkpoints, TableCheckpoint};

/// Longest time a journal append stays unsynced while saves keep coming.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(200);

/// Journal bytes allowed beyond the snapshot's size before a save compacts.
const JOURNAL_SLACK: u64 = 1 << 20;

/// A checkpoint file at a path, with its journal beside it.
#[derive(Debug)]
pub struct FileCheckpointStore {
    path: PathBuf,
    journal: Mutex<Journal>,
}

/// The open journal of the current snapshot.
#[derive(Debug, Default)]
struct Journal {
    /// The generation of the snapshot this process wrote last; `None`
    /// until it wrote one (the next save then writes a snapshot).
    generation: Option<u64>,
    /// The journal file, open for appending once created.
    file: Option<fs::File>,
    /// Bytes in the journal.
    bytes: u64,
    /// Bytes of the snapshot.
    snapshot_bytes: u64,
    /// Appends not yet fsynced.
    unsynced: bool,
    /// When the journal was last fsynced (or created).
    synced_at: Option<Instant>,
}

/// The snapshot on disk: the checkpoint and the generation its journal
/// must carry.
#[derive(Serialize)]
struct SnapshotOut<'a> {
    #[serde(flatten)]
    checkpoints: &'a Checkpoints,
    journal: u64,
}

/// The generation, read on its own: `Checkpoints` is parsed from the same
/// bytes (serde's `flatten` cannot read the engines' integer map keys).
#[derive(Deserialize)]
struct SnapshotGeneration {
    /// Absent in snapshots written before journals existed.
    #[serde(default)]
    journal: u64,
}

/// The journal's first line.
#[derive(Serialize, Deserialize)]
struct JournalHeader {
    generation: u64,
}

/// One journal line: a table's whole checkpoint, or `None` when removed.
#[derive(Serialize)]
struct EntryOut<'a> {
    table: &'a str,
    checkpoint: Option<&'a TableCheckpoint>,
}

#[derive(Deserialize)]
struct EntryIn {
    table: String,
    checkpoint: Option<TableCheckpoint>,
}

impl FileCheckpointStore {
    /// A store at `path` (created on first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCheckpointStore {
            path: path.into(),
            journal: Mutex::new(Journal::default()),
        }
    }

    /// The snapshot's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal's path.
    pub fn journal_path(&self) -> PathBuf {
        self.sibling("journal")
    }

    fn io(&self, path: &Path) -> impl Fn(std::io::Error) -> CheckpointError {
        let path = path.to_path_buf();
        move |source| CheckpointError::Io {
            path: path.clone(),
            source,
        }
    }

    fn corrupt(path: &Path) -> impl Fn(serde_json::Error) -> CheckpointError {
        let path = path.to_path_buf();
        move |source| CheckpointError::Corrupt {
            path: path.clone(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Journal> {
        // The journal state is only changed after a write succeeded; a
        // panic elsewhere leaves it usable.
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the snapshot and replays its journal, `None` when there is no
    /// snapshot. The next save writes a fresh snapshot.
    pub fn load(&self) -> Result<Option<Checkpoints>, CheckpointError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(self.io(&self.path)(err)),
        };
        let mut cp: Checkpoints =
            serde_json::from_slice(&bytes).map_err(Self::corrupt(&self.path))?;
        let generation: SnapshotGeneration =
            serde_json::from_slice(&bytes).map_err(Self::corrupt(&self.path))?;
        if cp.version != CHECKPOINT_VERSION {
            return Err(CheckpointError::Version {
                path: self.path.clone(),
                found: cp.version,
            });
        }
        self.replay(&mut cp, generation.journal)?;
        *self.lock() = Journal::default();
        Ok(Some(cp))
    }

    /// Applies the journal of snapshot `generation` to `cp`.
    fn replay(&self, cp: &mut Checkpoints, generation: u64) -> Result<(), CheckpointError> {
        let path = self.journal_path();
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(self.io(&path)(err)),
        };
        let mut lines = std::io::BufReader::new(file).split(b'\n').peekable();
        let header = match lines.next() {
            Some(line) => line.map_err(self.io(&path))?,
            None => return Ok(()),
        };
        match serde_json::from_slice::<JournalHeader>(&header) {
            Ok(h) if h.generation == generation => {}
            // Another snapshot's journal, or a header torn by a crash
            // before any entry: nothing of it belongs to this snapshot.
            _ => return Ok(()),
        }
        while let Some(line) = lines.next() {
            let line = line.map_err(self.io(&path))?;
            match serde_json::from_slice::<EntryIn>(&line) {
                Ok(entry) => match entry.checkpoint {
                    Some(table) => {
                        cp.tables.insert(entry.table, table);
                    }
                    None => {
                        cp.tables.remove(&entry.table);
                    }
                },
                // Only the last line can be torn (a crash mid-append).
                Err(_) if lines.peek().is_none() => break,
                Err(err) => return Err(Self::corrupt(&path)(err)),
            }
        }
        Ok(())
    }

    /// Replaces the snapshot with `cp`, durably, and starts a new journal.
    pub fn save(&self, cp: &Checkpoints) -> Result<(), CheckpointError> {
        let mut journal = self.lock();
        self.write_snapshot(&mut journal, cp)
    }

    /// Saves the tables named in `changed` (a name `cp` lacks is recorded
    /// as removed) by appending to the journal, or by a new snapshot when
    /// there is none yet or the journal has outgrown it.
    pub fn save_tables<'a>(
        &self,
        cp: &Checkpoints,
        changed: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), CheckpointError> {
        let mut journal = self.lock();
        let Some(generation) = journal.generation else {
            return self.write_snapshot(&mut journal, cp);
        };
        if journal.bytes > journal.snapshot_bytes + JOURNAL_SLACK {
            return self.write_snapshot(&mut journal, cp);
        }
        let path = self.journal_path();
        let mut out = Vec::new();
        for name in changed {
            let entry = EntryOut {
                table: name,
                checkpoint: cp.tables.get(name),
            };
            serde_json::to_writer(&mut out, &entry).map_err(Self::corrupt(&path))?;
            out.push(b'\n');
        }
        if out.is_empty() {
            return Ok(());
        }
        if journal.file.is_none() {
            let mut file = open_private(&path, true).map_err(self.io(&path))?;
            let mut header =
                serde_json::to_vec(&JournalHeader { generation }).map_err(Self::corrupt(&path))?;
            header.push(b'\n');
            file.write_all(&header).map_err(self.io(&path))?;
            file.sync_all().map_err(self.io(&path))?;
            sync_dir(&self.dir()).map_err(self.io(&path))?;
            journal.bytes = header.len() as u64;
            journal.synced_at = Some(Instant::now());
            journal.file = Some(file);
        }
        if let Some(file) = journal.file.as_mut() {
            file.write_all(&out).map_err(self.io(&path))?;
        }
        journal.bytes += out.len() as u64;
        journal.unsynced = true;
        if journal
            .synced_at
            .is_none_or(|at| at.elapsed() >= SYNC_INTERVAL)
        {
            self.sync_locked(&mut journal)?;
        }
        Ok(())
    }

    /// Makes every save so far durable.
    pub fn sync(&self) -> Result<(), CheckpointError> {
        let mut journal = self.lock();
        self.sync_locked(&mut journal)
    }

    fn sync_locked(&self, journal: &mut Journal) -> Result<(), CheckpointError> {
        if journal.unsynced
            && let Some(file) = &journal.file
        {
            file.sync_data().map_err(self.io(&self.journal_path()))?;
            journal.unsynced = false;
            journal.synced_at = Some(Instant::now());
        }
        Ok(())
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn write_snapshot(
        &self,
        journal: &mut Journal,
        cp: &Checkpoints,
    ) -> Result<(), CheckpointError> {
        let io = self.io(&self.path);
        let dir = self.dir();
        create_private_dir(&dir).map_err(&io)?;
        // A new generation every snapshot: the journal of an older one must
        // never replay onto it. Time-based, so it also differs from what a
        // process before this one wrote.
        let generation = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
            .max(journal.generation.map_or(0, |g| g + 1));
        let json = serde_json::to_vec_pretty(&SnapshotOut {
            checkpoints: cp,
            journal: generation,
        })
        .map_err(Self::corrupt(&self.path))?;
        let tmp = self.sibling("tmp");
        {
            let mut file = open_private(&tmp, false).map_err(&io)?;
            file.write_all(&json).map_err(&io)?;
            file.sync_all().map_err(&io)?;
        }
        fs::rename(&tmp, &self.path).map_err(&io)?;
        sync_dir(&dir).map_err(&io)?;
        // The old journal belongs to the old generation; removing it is
        // tidiness, the generation check is what keeps it out.
        remove_if_present(&self.journal_path()).map_err(self.io(&self.journal_path()))?;
        *journal = Journal {
            generation: Some(generation),
            snapshot_bytes: json.len() as u64,
            ..Journal::default()
        };
        Ok(())
    }

    /// `<path>.<suffix>`.
    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.as_os_str().to_os_string();
        name.push(".");
        name.push(suffix);
        PathBuf::from(name)
    }

    /// Deletes the snapshot, the journal and a leftover temporary, if present.
    pub fn remove(&self) -> Result<(), CheckpointError> {
        let mut journal = self.lock();
        *journal = Journal::default();
        for path in [self.path.clone(), self.journal_path(), self.sibling("tmp")] {
            remove_if_present(&path).map_err(self.io(&path))?;
        }
        Ok(())
    }

    /// Keeps the checkpoint as one file `<name>.<suffix>` (for
    /// `keep-after-success = "rename"`): a snapshot of the state with the
    /// journal folded in, then the originals removed.
    pub fn rename_with_suffix(&self, suffix: &str) -> Result<PathBuf, CheckpointError> {
        let Some(cp) = self.load()? else {
            return Err(self.io(&self.path)(std::io::Error::from(
                std::io::ErrorKind::NotFound,
            )));
        };
        let target = self.sibling(suffix);
        FileCheckpointStore::new(&target).save(&cp)?;
        self.remove()?;
        Ok(target)
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir).and_then(|d| d.sync_all())
}

/// Creates `dir` (and parents) readable by the owner only: checkpoints name
/// tables and targets.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if dir.exists() {
            return Ok(());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Creates `path` owner-only, replacing what is there. A leftover (or
/// planted: the tidb default lives in the temp directory) file is removed
/// and the new one created exclusively, so a symlink is never followed.
fn open_private(path: &Path, append: bool) -> std::io::Result<fs::File> {
    remove_if_present(path)?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true).append(append);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::model::{TableStatus, TaskCheckpoint};

    fn task() -> TaskCheckpoint {
        TaskCheckpoint {
            source_dir: "/data".into(),
            backend: "local".into(),
            target: "/store".into(),
            sorted_kv_dir: "/kv".into(),
        }
    }

    #[test]
    fn save_load_round_trip_and_remove() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = FileCheckpointStore::new(dir.path().join("sub/cp.json"));
        assert!(store.load()?.is_none());
        let cp = Checkpoints::new(task());
        store.save(&cp)?;
        assert_eq!(store.load()?, Some(cp.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.path())?.permissions().mode();
            assert_eq!(mode & 0o077, 0, "checkpoint must be owner-only");
        }
        store.remove()?;
        assert!(store.load()?.is_none());
        Ok(())
    }

    #[test]
    fn corrupt_and_foreign_versions_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cp.json");
        fs::write(&path, b"{not json")?;
        let store = FileCheckpointStore::new(&path);
        let err = store
            .load()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("cp.json"), "{err}");
        let mut cp = Checkpoints::new(task());
        cp.version = 99;
        fs::write(&path, serde_json::to_vec(&cp)?)?;
        assert!(matches!(
            store.load(),
            Err(CheckpointError::Version { found: 99, .. })
        ));
        Ok(())
    }

    fn table(status: TableStatus) -> TableCheckpoint {
        TableCheckpoint {
            status,
            failure: None,
            table_id: 1,
            schema_hash: 2,
            // The index engine's negative id too: map keys must survive.
            engines: [0, crate::checkpoint::INDEX_ENGINE]
                .into_iter()
                .map(|id| {
                    let engine = crate::checkpoint::EngineCheckpoint {
                        status: crate::checkpoint::EngineStatus::Loaded,
                        chunks: Vec::new(),
                    };
                    (id, engine)
                })
                .collect(),
            max_auto_id: 0,
            deferred_indexes: Vec::new(),
        }
    }

    fn with_tables(n: usize) -> Checkpoints {
        let mut cp = Checkpoints::new(task());
        for i in 0..n {
            cp.tables
                .insert(format!("`d`.`t{i}`"), table(TableStatus::Loaded));
        }
        cp
    }

    #[test]
    fn table_saves_append_to_the_journal_and_a_load_replays_them()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = FileCheckpointStore::new(dir.path().join("cp.json"));
        let mut cp = with_tables(3);
        // The first save writes the snapshot.
        store.save_tables(&cp, &[String::from("`d`.`t0`")])?;
        let snapshot = fs::read(store.path())?;
        assert!(!store.journal_path().exists());
        let name = String::from("`d`.`t1`");
        cp.tables.get_mut(&name).ok_or("t1")?.status = TableStatus::Imported;
        store.save_tables(&cp, [&name])?;
        let gone = String::from("`d`.`t2`");
        cp.tables.remove(&gone);
        store.save_tables(&cp, [&gone])?;
        // The snapshot is untouched; the journal carries the changes.
        assert_eq!(fs::read(store.path())?, snapshot);
        let journal = fs::read_to_string(store.journal_path())?;
        assert_eq!(journal.lines().count(), 3, "{journal}");
        assert_eq!(
            FileCheckpointStore::new(store.path()).load()?,
            Some(cp.clone())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.journal_path())?.permissions().mode();
            assert_eq!(mode & 0o077, 0, "journal must be owner-only");
        }
        // A full save folds the journal into a new snapshot.
        store.save(&cp)?;
        assert!(!store.journal_path().exists());
        assert_eq!(store.load()?, Some(cp));
        Ok(())
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_other_damage_refused()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = FileCheckpointStore::new(dir.path().join("cp.json"));
        let mut cp = with_tables(2);
        store.save(&cp)?;
        let name = String::from("`d`.`t0`");
        cp.tables.get_mut(&name).ok_or("t0")?.status = TableStatus::AllWritten;
        store.save_tables(&cp, [&name])?;
        let good = cp.clone();
        cp.tables.get_mut(&name).ok_or("t0")?.status = TableStatus::Closed;
        store.save_tables(&cp, [&name])?;
        let full = fs::read(store.journal_path())?;
        // A crash in the middle of the last append.
        fs::write(store.journal_path(), &full[..full.len() - 7])?;
        assert_eq!(FileCheckpointStore::new(store.path()).load()?, Some(good));
        // Damage before the last line is not a torn append.
        let mut broken = full.clone();
        let first_entry = broken
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("no header line")?
            + 3;
        broken[first_entry] = b'#';
        fs::write(store.journal_path(), &broken)?;
        let err = FileCheckpointStore::new(store.path()).load();
        assert!(
            matches!(err, Err(CheckpointError::Corrupt { ref path, .. }) if path.ends_with("cp.json.journal")),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn a_journal_of_an_older_snapshot_is_ignored() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = FileCheckpointStore::new(dir.path().join("cp.json"));
        let mut cp = with_tables(1);
        store.save(&cp)?;
        let name = String::from("`d`.`t0`");
        cp.tables.get_mut(&name).ok_or("t0")?.status = TableStatus::Imported;
        store.save_tables(&cp, [&name])?;
        let old_journal = fs::read(store.journal_path())?;
        // A newer snapshot, then the old journal back: as after a crash
        // between writing a snapshot and removing the journal.
        let newer = with_tables(1);
        store.save(&newer)?;
        fs::write(store.journal_path(), old_journal)?;
        assert_eq!(FileCheckpointStore::new(store.path()).load()?, Some(newer));
        Ok(())
    }

    #[test]
    fn the_journal_is_compacted_once_it_outgrows_the_snapshot()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = FileCheckpointStore::new(dir.path().join("cp.json"));
        let mut cp = with_tables(2);
        store.save(&cp)?;
        let name = String::from("`d`.`t0`");
        let mut largest = 0;
        for i in 0..20_000 {
            cp.tables.get_mut(&name).ok_or("t0")?.max_auto_id = i;
            store.save_tables(&cp, [&name])?;
            largest = largest.max(fs::metadata(store.journal_path()).map_or(0, |m| m.len()));
        }
        assert!(
            largest <= JOURNAL_SLACK + 4096,
            "journal grew to {largest} bytes"
        );
        assert_eq!(store.load()?, Some(cp));
        Ok(())
    }
}
