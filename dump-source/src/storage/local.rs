//! The local directory: a walk of the dump and plain file reads, the
//! fast path that object stores do not take.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::Listed;
use crate::SourceError;
use crate::compress::DataReader;

/// The file at `path` from byte `offset` on.
pub(super) fn open(path: &Path, offset: u64) -> Result<DataReader, SourceError> {
    let mut file = File::open(path).map_err(|e| SourceError::io(path, "open", e))?;
    if offset > 0 {
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| SourceError::io(path, "seek", e))?;
    }
    Ok(Box::new(file))
}

/// Walks `root` and returns every regular file's relative path and size,
/// sorted by path. Follows symbolic links, but never out of `root` nor
/// into a directory already visited (so link loops end).
pub(super) fn walk(root: &Path, warnings: &mut Vec<String>) -> Result<Vec<Listed>, SourceError> {
    let canon_root = root
        .canonicalize()
        .map_err(|e| SourceError::io(root, "open data-source-dir", e))?;
    if !canon_root.is_dir() {
        return Err(SourceError::Layout {
            path: root.display().to_string(),
            reason: "data-source-dir is not a directory".into(),
        });
    }
    let mut visited = HashSet::new();
    visited.insert(canon_root.clone());
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| SourceError::io(&dir, "read directory", e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| SourceError::io(&dir, "read directory", e))?;
        entries.sort();
        let mut subdirs = Vec::new();
        for name in entries {
            let rel_path = rel.join(&name);
            let full = root.join(&rel_path);
            let link = std::fs::symlink_metadata(&full)
                .map_err(|e| SourceError::io(&full, "stat", e))?
                .file_type()
                .is_symlink();
            let meta = match std::fs::metadata(&full) {
                Ok(m) => m,
                Err(_) if link => {
                    warnings.push(format!(
                        "{}: broken symbolic link skipped",
                        rel_path.display()
                    ));
                    continue;
                }
                Err(e) => return Err(SourceError::io(&full, "stat", e)),
            };
            if link {
                let target = full
                    .canonicalize()
                    .map_err(|e| SourceError::io(&full, "resolve link", e))?;
                if !target.starts_with(&canon_root) {
                    warnings.push(format!(
                        "{}: symbolic link out of the data directory skipped",
                        rel_path.display()
                    ));
                    continue;
                }
            }
            if meta.is_dir() {
                let canon = full
                    .canonicalize()
                    .map_err(|e| SourceError::io(&full, "resolve", e))?;
                if visited.insert(canon) {
                    subdirs.push(rel_path);
                } else {
                    warnings.push(format!(
                        "{}: directory already visited (link loop) skipped",
                        rel_path.display()
                    ));
                }
            } else if meta.is_file() {
                out.push(Listed {
                    path: rel_path,
                    size: meta.len(),
                    etag: None,
                });
            }
        }
        // Depth-first in name order: push in reverse so the first pops first.
        stack.extend(subdirs.into_iter().rev());
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
