//! `cityloop backup` and `cityloop restore` for the embedded SQLite store (issue 13,
//! item 11).
//!
//! A backup is a folder:
//!
//! ```text
//! <to>/cityloop.db       a consistent copy of the database (SQLite `VACUUM INTO`, taken
//!                        while the server goes on writing)
//! <to>/attachments/...   every file of the media folder, copied after the database
//! <to>/MANIFEST.json     format, time, and the size and SHA-256 of every file above
//! ```
//!
//! The database is copied first: photo files are written before their metadata row and
//! never changed, so every attachment the copy names is already on disk when the folder
//! is copied (newer, unreferenced files may come along; they are harmless). The folder
//! is written as `<to>.partial` and renamed when complete, so a `<to>` that exists is a
//! whole backup.
//!
//! A restore checks every file against the manifest before it writes anything, refuses to
//! overwrite an existing database, writes the database under a temporary name and renames
//! it into place, then opens it and runs the full verification ([`crate::integrity`]).
//!
//! PostgreSQL is backed up with its own tools (`pg_dump`, base backups); the store says so
//! and docs/OPERATIONS.md describes how, with the attachments folder.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use cityloop_store::{Store, VerifyRun};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::hex;
use crate::ServiceError;

/// The manifest's `format`.
pub const FORMAT: &str = "cityloop-backup/1";
pub const MANIFEST: &str = "MANIFEST.json";
pub const DATABASE: &str = "cityloop.db";
pub const ATTACHMENTS: &str = "attachments";

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the backup folder, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// `MANIFEST.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub created_at: DateTime<Utc>,
    pub cityloop_version: String,
    pub database: FileEntry,
    pub attachments: Vec<FileEntry>,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// Attachment files written (those already present with the same content are kept).
    pub files_written: usize,
    pub verify: VerifyRun,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> ServiceError {
    move |e| ServiceError::Internal(anyhow::anyhow!("{context}: {e}"))
}

/// Copies `from` to `to` (a new file), fsyncs it, and returns its size and SHA-256.
fn copy_hashed(from: &Path, to: &Path) -> Result<(u64, String), ServiceError> {
    let mut src =
        std::fs::File::open(from).map_err(io(format!("cannot read {}", from.display())))?;
    let mut dst =
        std::fs::File::create_new(to).map_err(io(format!("cannot create {}", to.display())))?;
    let (size, sha) = pump(&mut src, Some(&mut dst)).map_err(io(format!(
        "copying {} to {}",
        from.display(),
        to.display()
    )))?;
    dst.sync_all()
        .map_err(io(format!("cannot sync {}", to.display())))?;
    Ok((size, sha))
}

fn hash_file(path: &Path) -> Result<(u64, String), ServiceError> {
    let mut f = std::fs::File::open(path).map_err(io(format!("cannot read {}", path.display())))?;
    pump(&mut f, None).map_err(io(format!("reading {}", path.display())))
}

fn pump(
    src: &mut impl Read,
    mut dst: Option<&mut std::fs::File>,
) -> std::io::Result<(u64, String)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        if let Some(d) = dst.as_deref_mut() {
            d.write_all(&buf[..n])?;
        }
        size += n as u64;
    }
    Ok((size, hex(&h.finalize())))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Every regular file under `dir` (relative `/` paths), skipping in-progress `.*.tmp` files.
fn walk(dir: &Path) -> Result<Vec<String>, ServiceError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let here = dir.join(&rel);
        let entries =
            std::fs::read_dir(&here).map_err(io(format!("cannot list {}", here.display())))?;
        for e in entries {
            let e = e.map_err(io(format!("cannot list {}", here.display())))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let kind = e
                .file_type()
                .map_err(io(format!("cannot stat {}", e.path().display())))?;
            if kind.is_dir() {
                stack.push(rel.join(&name));
            } else if kind.is_file() && !name.starts_with('.') {
                out.push(
                    rel.join(&name)
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Makes the backup folder `to` from `store` and the media folder `media_dir` (which may
/// not exist: no photos yet).
pub async fn backup(
    store: &dyn Store,
    media_dir: &Path,
    to: &Path,
) -> Result<Manifest, ServiceError> {
    if to.exists() {
        return Err(ServiceError::Conflict(format!(
            "{} exists; name a new folder for the backup",
            to.display()
        )));
    }
    let partial = PathBuf::from(format!("{}.partial", to.display()));
    if partial.exists() {
        return Err(ServiceError::Conflict(format!(
            "{} exists (an interrupted backup?); remove it first",
            partial.display()
        )));
    }
    std::fs::create_dir_all(&partial)
        .map_err(io(format!("cannot create {}", partial.display())))?;
    let created_at = Utc::now();
    let db_path = partial.join(DATABASE);
    store.snapshot_into(&db_path).await?;
    let media_dir = media_dir.to_owned();
    let part = partial.clone();
    let manifest = tokio::task::spawn_blocking(move || -> Result<Manifest, ServiceError> {
        let db_file = part.join(DATABASE);
        std::fs::File::open(&db_file)
            .and_then(|f| f.sync_all())
            .map_err(io(format!("cannot sync {}", db_file.display())))?;
        let (size, sha256) = hash_file(&db_file)?;
        let mut attachments = Vec::new();
        if media_dir.is_dir() {
            for rel in walk(&media_dir)? {
                let target = part.join(ATTACHMENTS).join(&rel);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(io(format!("cannot create {}", parent.display())))?;
                }
                let (size, sha256) = copy_hashed(&media_dir.join(&rel), &target)?;
                attachments.push(FileEntry {
                    path: format!("{ATTACHMENTS}/{rel}"),
                    size,
                    sha256,
                });
            }
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            created_at,
            cityloop_version: env!("CARGO_PKG_VERSION").into(),
            database: FileEntry {
                path: DATABASE.into(),
                size,
                sha256,
            },
            attachments,
        };
        let text =
            serde_json::to_vec_pretty(&manifest).map_err(|e| ServiceError::Internal(e.into()))?;
        let mpath = part.join(MANIFEST);
        let mut f = std::fs::File::create_new(&mpath)
            .map_err(io(format!("cannot create {}", mpath.display())))?;
        f.write_all(&text)
            .and_then(|()| f.sync_all())
            .map_err(io(format!("cannot write {}", mpath.display())))?;
        sync_dir(&part);
        Ok(manifest)
    })
    .await
    .map_err(|e| ServiceError::Internal(anyhow::anyhow!("backup task failed: {e}")))??;
    std::fs::rename(&partial, to).map_err(io(format!(
        "cannot rename {} to {}",
        partial.display(),
        to.display()
    )))?;
    if let Some(parent) = to.parent() {
        sync_dir(parent);
    }
    Ok(manifest)
}

/// Reads `MANIFEST.json` and checks every file it lists (size and SHA-256).
pub fn check_backup(from: &Path) -> Result<Manifest, ServiceError> {
    let mpath = from.join(MANIFEST);
    let text = std::fs::read(&mpath).map_err(io(format!(
        "{} is not a cityloop backup (no {MANIFEST})",
        from.display()
    )))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
        ServiceError::invalid(
            "from",
            format!("{} is not a valid manifest: {e}", mpath.display()),
        )
    })?;
    if manifest.format != FORMAT {
        return Err(ServiceError::invalid(
            "from",
            format!(
                "unknown backup format {:?} (this version reads {FORMAT})",
                manifest.format
            ),
        ));
    }
    for entry in std::iter::once(&manifest.database).chain(&manifest.attachments) {
        if entry.path.split('/').any(|c| c == ".." || c.is_empty()) || entry.path.starts_with('/') {
            return Err(ServiceError::invalid(
                "from",
                format!("manifest names an unsafe path {:?}", entry.path),
            ));
        }
        let (size, sha) = hash_file(&from.join(&entry.path))?;
        if size != entry.size || sha != entry.sha256 {
            return Err(ServiceError::invalid(
                "from",
                format!(
                    "{} differs from the manifest (size {size}, sha256 {sha}; the manifest says size {}, sha256 {}): the backup is damaged",
                    entry.path, entry.size, entry.sha256
                ),
            ));
        }
    }
    Ok(manifest)
}

/// Restores the backup folder `from` into the new SQLite file `db_path` and the media
/// folder `media_dir`, then opens and verifies it.
pub async fn restore(
    from: &Path,
    db_path: &Path,
    media_dir: &Path,
) -> Result<RestoreReport, ServiceError> {
    for p in [
        db_path.to_owned(),
        PathBuf::from(format!("{}-wal", db_path.display())),
    ] {
        if p.exists() {
            return Err(ServiceError::Conflict(format!(
                "{} exists; restore into a new path (stop the server and move the old database away first)",
                p.display()
            )));
        }
    }
    let (from_c, db_c, media_c) = (from.to_owned(), db_path.to_owned(), media_dir.to_owned());
    let (manifest, files_written) =
        tokio::task::spawn_blocking(move || -> Result<(Manifest, usize), ServiceError> {
            let manifest = check_backup(&from_c)?;
            let mut written = 0;
            for entry in &manifest.attachments {
                let rel = entry
                    .path
                    .strip_prefix(&format!("{ATTACHMENTS}/"))
                    .ok_or_else(|| {
                        ServiceError::invalid("from", format!("unexpected file {:?}", entry.path))
                    })?;
                let target = media_c.join(rel);
                if target.is_file() && hash_file(&target)?.1 == entry.sha256 {
                    continue;
                }
                let parent = target.parent().unwrap_or(&media_c).to_owned();
                std::fs::create_dir_all(&parent)
                    .map_err(io(format!("cannot create {}", parent.display())))?;
                let tmp = parent.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
                copy_hashed(&from_c.join(&entry.path), &tmp)?;
                std::fs::rename(&tmp, &target)
                    .map_err(io(format!("cannot write {}", target.display())))?;
                sync_dir(&parent);
                written += 1;
            }
            let parent = match db_c.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
                _ => PathBuf::from("."),
            };
            std::fs::create_dir_all(&parent)
                .map_err(io(format!("cannot create {}", parent.display())))?;
            let tmp = PathBuf::from(format!("{}.restoring", db_c.display()));
            let _ = std::fs::remove_file(&tmp);
            copy_hashed(&from_c.join(&manifest.database.path), &tmp)?;
            std::fs::rename(&tmp, &db_c).map_err(io(format!("cannot write {}", db_c.display())))?;
            sync_dir(&parent);
            Ok((manifest, written))
        })
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("restore task failed: {e}")))??;
    let store = cityloop_store::SqliteStore::open(db_path, false).await?;
    let verify = crate::integrity::verify(&store, Some(media_dir), "restore").await?;
    Ok(RestoreReport {
        manifest,
        files_written,
        verify,
    })
}
