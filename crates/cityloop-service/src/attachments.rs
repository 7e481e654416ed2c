//! Photo attachments: upload, read back, and the check that ties actions to uploads.
//!
//! An upload is judged by its content ([`crate::media`]): JPEG, PNG or WebP, decoded in
//! full. Decoding is the one step whose cost the file controls, so it is bounded three
//! ways ([`MediaConfig`]): the container is scanned first (dimensions, pixels, estimated
//! decode memory, colour profile and metadata sizes; a refusal costs no decode and no
//! slot); at most `max_decodes` decodes run at once, on the blocking pool, each within
//! `max_decode_bytes`; an upload waits for a slot in a queue of at most `max_queue`, for
//! at most `queue_wait`, and is otherwise answered "busy" (503 with Retry-After).
//! Two files are written, named by the SHA-256 of the original, in the media folder
//! (beside the SQLite file by default, `./attachments` for PostgreSQL):
//! `<dir>/<sha[0..2]>/<sha>.<ext>` (the original, staff only) and
//! `<dir>/<sha[0..2]>/<sha>.public.<ext>` (EXIF/XMP/text removed). The metadata row,
//! with the EXIF GPS position, goes through the store; the same content uploaded again
//! is the same attachment. Files are written (fsync, rename) before the row, so a row
//! never names a missing file; a crash in between leaves at most an unreferenced file.
//!
//! Who sees what: the original and the GPS metadata only staff; the public copy anyone
//! who has the attachment's id (a random UUID, 122 bits), which is how a citizen's photo
//! reaches an Open311 `media_url` before the case exists.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cityloop_domain::model::{Actor, ActorRole};
use cityloop_store::Attachment;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::auth::hex;
use crate::media::{self, Format, MediaError};
use crate::{ServiceError, Services};

/// Largest photo staff may upload.
pub const MAX_STAFF_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// Largest photo the public upload takes.
pub const MAX_PUBLIC_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// The media folder's name when it is not configured.
pub const DEFAULT_DIR_NAME: &str = "attachments";

/// How photos are judged and how many are decoded at once (docs/API-DESIGN.md, "Limits";
/// `cityloop serve --media-*` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaConfig {
    /// What the content is judged against (pixels, decode memory, profile, metadata).
    pub limits: media::Limits,
    /// Decodes running at once; with `limits.max_decode_bytes` each, this bounds the
    /// memory all photo decoding can take.
    pub max_decodes: usize,
    /// Uploads waiting for a decode slot at most; one more is answered busy at once.
    pub max_queue: usize,
    /// How long an upload waits for a slot before it is answered busy.
    pub queue_wait: std::time::Duration,
}

/// Two decodes at a time (at most 2 × 512 MiB), 16 waiting for at most 10 s.
pub const DEFAULT_MEDIA_CONFIG: MediaConfig = MediaConfig {
    limits: media::DEFAULT_LIMITS,
    max_decodes: 2,
    max_queue: 16,
    queue_wait: std::time::Duration::from_secs(10),
};

impl Default for MediaConfig {
    fn default() -> Self {
        DEFAULT_MEDIA_CONFIG
    }
}

/// Where the files are, who uploaded publicly lately, and the decode slots.
#[derive(Debug)]
pub struct Media {
    pub dir: PathBuf,
    pub config: MediaConfig,
    decodes: Arc<Semaphore>,
    waiting: AtomicUsize,
}

/// A place in the decode queue, given back when dropped.
struct QueueSeat<'a>(&'a AtomicUsize);

impl<'a> QueueSeat<'a> {
    fn take(waiting: &'a AtomicUsize, max: usize) -> Option<Self> {
        waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
                (w < max).then_some(w + 1)
            })
            .ok()
            .map(|_| QueueSeat(waiting))
    }
}

impl Drop for QueueSeat<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Media {
    pub fn new(dir: PathBuf) -> Self {
        Self::with_config(dir, DEFAULT_MEDIA_CONFIG)
    }

    pub fn with_config(dir: PathBuf, config: MediaConfig) -> Self {
        Self {
            dir,
            config,
            decodes: Arc::new(Semaphore::new(config.max_decodes.max(1))),
            waiting: AtomicUsize::new(0),
        }
    }

    /// A decode slot: at once if one is free, else after waiting in the queue (if it has
    /// room) for at most `queue_wait`; otherwise `Busy`. The slot is held until the
    /// returned permit is dropped, which the decode's blocking task does when it ends
    /// (so a client that hangs up does not free a slot its decode still uses).
    pub async fn decode_slot(&self) -> Result<OwnedSemaphorePermit, ServiceError> {
        if let Ok(p) = self.decodes.clone().try_acquire_owned() {
            return Ok(p);
        }
        let busy = |why: &str| {
            tracing::warn!(
                max_decodes = self.config.max_decodes,
                max_queue = self.config.max_queue,
                "photo upload refused: {why}"
            );
            ServiceError::Busy {
                retry_after_s: self.config.queue_wait.as_secs().clamp(1, 60),
            }
        };
        let Some(_seat) = QueueSeat::take(&self.waiting, self.config.max_queue) else {
            return Err(busy("the decode queue is full"));
        };
        match tokio::time::timeout(self.config.queue_wait, self.decodes.clone().acquire_owned())
            .await
        {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(ServiceError::Internal(anyhow::anyhow!(
                "the decode slots were closed"
            ))),
            Err(_) => Err(busy("no decode slot within the queue wait")),
        }
    }

    /// The original's path and the public copy's path for a content hash.
    fn paths(&self, sha256: &str, ext: &str) -> Result<(PathBuf, PathBuf), ServiceError> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ServiceError::Internal(anyhow::anyhow!(
                "stored attachment hash {sha256:?} is not a SHA-256"
            )));
        }
        let [orig, public] = relative_names(sha256, ext);
        Ok((self.dir.join(orig), self.dir.join(public)))
    }
}

fn relative_names(sha256: &str, ext: &str) -> [String; 2] {
    let sub = sha256.get(..2).unwrap_or("xx");
    [
        format!("{sub}/{sha256}.{ext}"),
        format!("{sub}/{sha256}.public.{ext}"),
    ]
}

/// The original's and the public copy's paths inside the media folder (backup, verify).
pub fn file_names(sha256: &str, mime: &str) -> [String; 2] {
    relative_names(
        sha256,
        Format::from_mime(mime).map(Format::ext).unwrap_or("bin"),
    )
}

/// The media folder for a database: beside a SQLite file, `./attachments` for a server.
pub fn default_dir(db_url: &str) -> PathBuf {
    if db_url.starts_with("postgres://") || db_url.starts_with("postgresql://") {
        return PathBuf::from(DEFAULT_DIR_NAME);
    }
    let path = Path::new(db_url.strip_prefix("sqlite://").unwrap_or(db_url));
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(DEFAULT_DIR_NAME),
        _ => PathBuf::from(DEFAULT_DIR_NAME),
    }
}

/// Who is uploading.
#[derive(Debug, Clone, Copy)]
pub enum Uploader<'a> {
    Staff(&'a Actor),
    /// A citizen, identified for the rate limit by the client address.
    Public {
        client: &'a str,
    },
}

/// Which file of an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// As uploaded, with its metadata (staff only).
    Original,
    /// Without EXIF/XMP/text metadata.
    Public,
}

/// The attachment id a reference names: the id itself, or a URL of its public copy
/// (`…/media/<id>`, as a citizen's `media_url` carries it).
pub fn media_id_of(reference: &str) -> Option<Uuid> {
    let r = reference.trim();
    let id = match r.rsplit_once("/media/") {
        Some((_, tail)) => tail.split(['?', '#']).next().unwrap_or(""),
        None => r,
    };
    Uuid::parse_str(id).ok().filter(|_| id.len() == 36)
}

fn invalid_file(e: MediaError) -> ServiceError {
    ServiceError::invalid("file", e.to_string())
}

impl Services {
    /// Replaces the media folder (the binary derives it from the database location).
    pub fn with_media_dir(mut self, dir: PathBuf) -> Self {
        self.media = Arc::new(Media::with_config(dir, self.media.config));
        self
    }

    /// Replaces the photo limits and decode slots (the binary takes them from its flags).
    pub fn with_media_config(mut self, config: MediaConfig) -> Self {
        self.media = Arc::new(Media::with_config(self.media.dir.clone(), config));
        self
    }

    /// Checks, stores and records one photo. Returns the attachment and whether it is new
    /// (false: the same content was uploaded before, and that attachment answers).
    pub async fn upload_attachment(
        &self,
        uploader: Uploader<'_>,
        bytes: Vec<u8>,
        declared_type: Option<&str>,
    ) -> Result<(Attachment, bool), ServiceError> {
        let now = self.now();
        let (limit, uploaded_by, channel) = match uploader {
            Uploader::Staff(actor) => match (actor.role, actor.person_id) {
                (ActorRole::Staff(_), Some(p)) => (MAX_STAFF_UPLOAD_BYTES, Some(p), "staff"),
                _ => return Err(ServiceError::Forbidden("staff only".into())),
            },
            Uploader::Public { .. } => (MAX_PUBLIC_UPLOAD_BYTES, None, "public"),
        };
        if bytes.len() > limit {
            return Err(ServiceError::invalid(
                "file",
                format!("is larger than {limit} bytes"),
            ));
        }
        let limits = self.media.config.limits;
        let declared = declared_type.map(str::to_owned);
        // The scan: a pass over the bytes, a few KiB of memory; needs no decode slot, so
        // a hostile file is refused without waiting behind honest ones.
        let (header, bytes) = tokio::task::spawn_blocking(move || {
            (media::check(&bytes, declared.as_deref(), &limits), bytes)
        })
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("photo check failed: {e}")))?;
        let header = header.map_err(invalid_file)?;
        let slot = self.media.decode_slot().await?;
        let (info, public, sha) = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let info = media::decode(&bytes, &header, &limits)?;
            let public = media::strip_metadata(info.format, &bytes, info.orientation)?;
            let sha = hex(&Sha256::digest(&bytes));
            Ok::<_, MediaError>((info, public, (sha, bytes)))
        })
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("photo check failed: {e}")))?
        .map_err(invalid_file)?;
        let (sha256, original) = sha;
        let (orig_path, public_path) = self.media.paths(&sha256, info.format.ext())?;
        let public_size = public.len() as i64;
        let size = original.len() as i64;
        tokio::task::spawn_blocking(move || {
            write_once(&orig_path, &original)?;
            write_once(&public_path, &public)
        })
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("writing a photo failed: {e}")))?
        .map_err(|e| ServiceError::Internal(anyhow::Error::new(e).context("writing a photo")))?;
        let row = Attachment {
            id: Uuid::new_v4(),
            sha256,
            mime: info.format.mime().into(),
            size,
            public_size,
            width: i64::from(info.width),
            height: i64::from(info.height),
            gps_lat: info.gps.map(|g| g.0),
            gps_lon: info.gps.map(|g| g.1),
            uploaded_by,
            channel: channel.into(),
            uploaded_at: now,
        };
        let (stored, new) = self.store.put_attachment(&row).await?;
        tracing::info!(attachment.id = %stored.id, attachment.sha256 = %stored.sha256, new, channel, "photo uploaded");
        Ok((stored, new))
    }

    /// The attachment an id names (`NotFound` for a malformed id too).
    pub async fn attachment(&self, id: &str) -> Result<Attachment, ServiceError> {
        let uuid = Uuid::parse_str(id)
            .ok()
            .filter(|_| id.len() == 36)
            .ok_or_else(|| ServiceError::NotFound(format!("attachment {id:?}")))?;
        Ok(self.store.get_attachment(uuid).await?)
    }

    /// The bytes of one of an attachment's files.
    pub async fn attachment_bytes(
        &self,
        a: &Attachment,
        variant: Variant,
    ) -> Result<Vec<u8>, ServiceError> {
        let ext = Format::from_mime(&a.mime).map(Format::ext).unwrap_or("bin");
        let (orig, public) = self.media.paths(&a.sha256, ext)?;
        let path = match variant {
            Variant::Original => orig,
            Variant::Public => public,
        };
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(attachment.id = %a.id, path = %path.display(), "attachment file missing");
                Err(ServiceError::NotFound(format!(
                    "the file of attachment {}",
                    a.id
                )))
            }
            Err(e) => Err(ServiceError::Internal(
                anyhow::Error::new(e).context(format!("reading {}", path.display())),
            )),
        }
    }

    /// Every reference must be the id of an uploaded attachment; otherwise a 422 on
    /// `field`.
    pub async fn check_attachment_refs(
        &self,
        field: &str,
        refs: &[String],
    ) -> Result<(), ServiceError> {
        if refs.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(refs.len());
        for r in refs {
            let id = Uuid::parse_str(r.trim())
                .ok()
                .filter(|_| r.trim().len() == 36)
                .ok_or_else(|| {
                    ServiceError::invalid(
                        field,
                        format!(
                            "{r:?} is not an attachment id (upload with POST /api/v1/attachments)"
                        ),
                    )
                })?;
            ids.push(id);
        }
        let found = self.store.attachments(&ids).await?;
        if let Some(missing) = ids.iter().find(|id| !found.iter().any(|a| a.id == **id)) {
            return Err(ServiceError::invalid(
                field,
                format!("no uploaded attachment with id {missing}"),
            ));
        }
        Ok(())
    }

    /// The uploaded attachments that references name (ids or public-copy URLs), keyed by
    /// the reference. Other references (external URLs) are left out.
    pub async fn resolve_attachments<'a>(
        &self,
        refs: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, Attachment>, ServiceError> {
        let wanted: Vec<(&str, Uuid)> = refs
            .into_iter()
            .filter_map(|r| media_id_of(r).map(|id| (r, id)))
            .collect();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let mut ids: Vec<Uuid> = wanted.iter().map(|(_, id)| *id).collect();
        ids.sort();
        ids.dedup();
        let found: HashMap<Uuid, Attachment> = self
            .store
            .attachments(&ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        Ok(wanted
            .into_iter()
            .filter_map(|(r, id)| found.get(&id).map(|a| (r.to_owned(), a.clone())))
            .collect())
    }
}

/// Writes `bytes` at `path` durably unless a file of that size is there already (the name
/// is the content's hash, so it is the same content).
fn write_once(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if std::fs::metadata(path).is_ok_and(|m| m.len() == bytes.len() as u64) {
        return Ok(());
    }
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a photo path without a folder"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", Uuid::new_v4().simple()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_an_id_or_a_public_copy_url() {
        let id = "0193b2c4-1111-4222-8333-444455556666";
        assert_eq!(media_id_of(id).map(|u| u.to_string()).as_deref(), Some(id));
        for r in [
            format!("http://127.0.0.1:8080/media/{id}"),
            format!("https://city.example.cn/media/{id}?x=1"),
            format!("/media/{id}"),
        ] {
            assert!(media_id_of(&r).is_some(), "{r}");
        }
        for r in [
            "https://img.example.cn/p/9f2c.jpg",
            "sha256:after1",
            "0193b2c4111142228333444455556666",
            "",
        ] {
            assert!(media_id_of(r).is_none(), "{r}");
        }
    }

    #[test]
    fn the_media_folder_sits_beside_a_sqlite_file() {
        assert_eq!(
            default_dir("/var/lib/cityloop/city.db"),
            PathBuf::from("/var/lib/cityloop/attachments")
        );
        assert_eq!(
            default_dir("sqlite:///tmp/x/t.db"),
            PathBuf::from("/tmp/x/attachments")
        );
        assert_eq!(default_dir("cityloop.db"), PathBuf::from("attachments"));
        assert_eq!(
            default_dir("postgres://u@h/db"),
            PathBuf::from("attachments")
        );
    }

    fn slots(max_decodes: usize, max_queue: usize, wait_ms: u64) -> Media {
        Media::with_config(
            PathBuf::from("unused"),
            MediaConfig {
                max_decodes,
                max_queue,
                queue_wait: std::time::Duration::from_millis(wait_ms),
                ..DEFAULT_MEDIA_CONFIG
            },
        )
    }

    #[tokio::test]
    async fn with_every_slot_taken_and_no_queue_an_upload_is_busy_at_once() {
        let m = slots(1, 0, 10_000);
        let first = m.decode_slot().await.unwrap();
        assert!(matches!(
            m.decode_slot().await,
            Err(ServiceError::Busy { retry_after_s: 10 })
        ));
        drop(first);
        assert!(m.decode_slot().await.is_ok(), "a freed slot is taken again");
    }

    #[tokio::test]
    async fn a_queued_upload_gets_the_slot_when_it_is_freed_or_busy_after_the_wait() {
        let m = Arc::new(slots(1, 1, 60_000));
        let first = m.decode_slot().await.unwrap();
        let waiter = {
            let m = m.clone();
            tokio::spawn(async move { m.decode_slot().await.map(drop) })
        };
        while m.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // The queue (one seat) is full: the next is refused without waiting.
        assert!(matches!(
            m.decode_slot().await,
            Err(ServiceError::Busy { .. })
        ));
        drop(first);
        waiter.await.unwrap().unwrap();
        assert_eq!(
            m.waiting.load(Ordering::SeqCst),
            0,
            "the seat is given back"
        );

        let m = slots(1, 4, 0);
        let _held = m.decode_slot().await.unwrap();
        assert!(matches!(
            m.decode_slot().await,
            Err(ServiceError::Busy { retry_after_s: 1 })
        ));
        assert_eq!(m.waiting.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn paths_are_named_by_the_hash_and_refuse_anything_else() {
        let m = Media::new(PathBuf::from("/m"));
        let sha = "ab".repeat(32);
        let (o, p) = m.paths(&sha, "jpg").unwrap();
        assert_eq!(o, PathBuf::from(format!("/m/ab/{sha}.jpg")));
        assert_eq!(p, PathBuf::from(format!("/m/ab/{sha}.public.jpg")));
        assert!(m.paths("../../etc/passwd", "jpg").is_err());
    }
}
