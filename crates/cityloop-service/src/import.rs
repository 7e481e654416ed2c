//! `cityloop import`: historical records from a CSV (plain or gzip, UTF-8 or GBK) or an
//! xlsx sheet, turned into cases through a mapping file (`cityloop_domain::import`).
//!
//! The file is read on a blocking thread and streamed over a bounded channel, so memory
//! stays flat in the file's size: the reader holds one record, the writer one batch of
//! [`BATCH`] rows; what grows with the file is a 16-byte entry per external reference
//! (to refuse a reference repeated inside the file) and the refusals kept for the report
//! (at most [`MAX_REFUSALS_KEPT`], the rest counted). Each batch asks the store which of
//! its references it already holds (`Store::known_external_refs`, unique per source since
//! migration 0016) and imports the rest through `Store::import_cases` (the projection
//! pipeline: case view, events, chain links, evaluation counters, search index; no
//! webhooks for history). A re-run therefore adds nothing. `--all-or-nothing` reads the
//! file twice: a checking pass, and the writing pass only if no row was refused.
//!
//! Encoding: a CSV whose first 64 KiB are valid UTF-8 is read as UTF-8; otherwise, if
//! they decode as GBK without error, the file is converted from GBK on the fly;
//! otherwise it is refused naming what it is not. A later undecodable record is refused
//! with its line.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cityloop_domain::case::{ImportMark, Location};
use cityloop_domain::ids::CaseId;
use cityloop_domain::import::{
    import_number, imported_history, Bound, Crs, ImportRow, Mapping, Placement, Refusal,
};
use cityloop_store::{CaseRecord, Store};
use tokio::sync::mpsc;

use crate::{ServiceError, Services};

/// Rows per store transaction.
pub const BATCH: usize = 500;
/// Refusals kept for the report; beyond this they are counted only.
pub const MAX_REFUSALS_KEPT: usize = 10_000;
/// The setting that says whether imported cases count in rankings (`true`/`false`,
/// default false); read once per import and recorded on each case.
pub const RANKED_SETTING: &str = "import_in_rankings";
/// Bytes looked at to decide a CSV's encoding.
const SNIFF_BYTES: usize = 64 * 1024;

/// How to run an import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Check and count, write nothing.
    pub dry_run: bool,
    /// Write nothing if any row is refused.
    pub all_or_nothing: bool,
}

/// Progress callback: bytes of the file read so far and rows seen.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// What an import did (or, dry, would do).
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    /// `UTF-8`, `GBK` or `xlsx`.
    pub encoding: String,
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Rows that mapped to a case.
    pub accepted: u64,
    /// Accepted rows written as new cases (dry run: that would be written).
    pub written: u64,
    /// Accepted rows whose external reference the store already holds (skipped).
    pub already_present: u64,
    /// Accepted rows by source status (`open`, `closed`, `voided`).
    pub by_status: BTreeMap<&'static str, u64>,
    /// Accepted rows placed at the intake point (no location, or a placeholder).
    pub location_unknown: u64,
    pub refused: u64,
    /// The first [`MAX_REFUSALS_KEPT`] refusals, in file order.
    pub refusals: Vec<Refusal>,
    pub dry_run: bool,
    /// `--all-or-nothing` found refusals, so nothing was written.
    pub aborted: bool,
}

impl ImportSummary {
    fn refuse(&mut self, r: Refusal) {
        self.refused += 1;
        if self.refusals.len() < MAX_REFUSALS_KEPT {
            self.refusals.push(r);
        }
    }
}

/// Parses a mapping file (TOML), naming the key it refuses.
pub fn parse_mapping(text: &str) -> Result<Mapping, ServiceError> {
    toml::from_str(text)
        .map_err(|e| ServiceError::invalid("mapping", e.to_string().trim().to_owned()))
}

impl Services {
    /// Imports `file` with `mapping` (see the module comment).
    pub async fn import_file(
        &self,
        file: &Path,
        mapping: Mapping,
        opts: ImportOptions,
        progress: Option<Progress>,
    ) -> Result<ImportSummary, ServiceError> {
        let cache = self.cached();
        let known = |c: &cityloop_domain::model::CategoryCode| cache.categories.contains_key(c);
        if opts.all_or_nothing && !opts.dry_run {
            let check = ImportOptions {
                dry_run: true,
                all_or_nothing: true,
            };
            let first = self
                .import_pass(file, mapping.clone(), &known, check, None)
                .await?;
            if first.refused > 0 {
                return Ok(ImportSummary {
                    aborted: true,
                    dry_run: false,
                    written: 0,
                    ..first
                });
            }
        }
        self.import_pass(file, mapping, &known, opts, progress)
            .await
    }

    async fn import_pass(
        &self,
        file: &Path,
        mapping: Mapping,
        known: &dyn Fn(&cityloop_domain::model::CategoryCode) -> bool,
        opts: ImportOptions,
        progress: Option<Progress>,
    ) -> Result<ImportSummary, ServiceError> {
        let (tx, mut rx) = mpsc::channel::<Msg>(4 * BATCH);
        let path = file.to_path_buf();
        let bytes = Arc::new(AtomicU64::new(0));
        let reader_bytes = bytes.clone();
        let reader = tokio::task::spawn_blocking(move || read_file(&path, &tx, &reader_bytes));
        let mut sum = ImportSummary {
            dry_run: opts.dry_run,
            ..ImportSummary::default()
        };
        let bound = match rx.recv().await {
            Some(Msg::Header { encoding, columns }) => {
                sum.encoding = encoding;
                mapping
                    .bind(&columns, known)
                    .map_err(|e| ServiceError::invalid(format!("mapping {}", e.field), e.problem))?
            }
            Some(Msg::Fail(m)) => return Err(ServiceError::invalid("file", m)),
            _ => return Err(ServiceError::invalid("file", "has no header row")),
        };
        let ranked = matches!(
            self.store.get_setting(RANKED_SETTING).await?,
            Some(serde_json::Value::Bool(true))
        );
        let intake = self.intake_point();
        let mut seen: HashMap<u64, u64> = HashMap::new();
        let mut batch: Vec<ImportRow> = Vec::with_capacity(BATCH);
        let mut writes = Writes::default();
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Header { .. } => {}
                Msg::Fail(m) => return Err(ServiceError::invalid("file", m)),
                Msg::Bad(r) => {
                    sum.rows += 1;
                    sum.refuse(r);
                }
                Msg::Row { line, fields } => {
                    sum.rows += 1;
                    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                    match bound.map_row(line, &refs) {
                        Err(r) => sum.refuse(r),
                        Ok(row) => {
                            if let Some(first) = seen.insert(hash_ref(&row.external_ref), line) {
                                sum.refuse(Refusal {
                                    line,
                                    column: bound.mapping().columns.external_ref.clone(),
                                    reason: format!("{:?} repeats line {first}", row.external_ref),
                                });
                                continue;
                            }
                            if row.point.is_none() && intake.is_none() {
                                sum.refuse(Refusal {
                                    line,
                                    column: "location".into(),
                                    reason: "no usable point, and the district has no territory for an intake point".into(),
                                });
                                continue;
                            }
                            batch.push(row);
                            if batch.len() >= BATCH {
                                self.write_batch(
                                    &bound,
                                    &mut batch,
                                    ranked,
                                    intake,
                                    &mut sum,
                                    &mut writes,
                                )
                                .await?;
                            }
                        }
                    }
                    if let Some(p) = &progress {
                        if sum.rows.is_multiple_of(1000) {
                            p(bytes.load(Ordering::Relaxed), sum.rows);
                        }
                    }
                }
            }
        }
        self.write_batch(&bound, &mut batch, ranked, intake, &mut sum, &mut writes)
            .await?;
        writes.finish().await?;
        if let Some(p) = &progress {
            p(bytes.load(Ordering::Relaxed), sum.rows);
        }
        match reader.await {
            Ok(()) => Ok(sum),
            Err(e) => Err(ServiceError::Internal(anyhow::anyhow!(
                "the file reader failed: {e}"
            ))),
        }
    }

    /// The point a case without a usable location is placed at: the middle of the
    /// territory's extent (None without a territory).
    fn intake_point(&self) -> Option<(f64, f64)> {
        let [w, s, e, n] = self.territory.as_ref()?.extent()?;
        Some(((w + e) / 2.0, (s + n) / 2.0))
    }

    async fn write_batch(
        &self,
        bound: &Bound,
        batch: &mut Vec<ImportRow>,
        ranked: bool,
        intake: Option<(f64, f64)>,
        sum: &mut ImportSummary,
        writes: &mut Writes,
    ) -> Result<(), ServiceError> {
        if batch.is_empty() {
            return Ok(());
        }
        let m = bound.mapping();
        let refs: Vec<String> = batch.iter().map(|r| r.external_ref.clone()).collect();
        let present: std::collections::HashSet<String> = self
            .store
            .known_external_refs(m.source, &refs)
            .await?
            .into_iter()
            .collect();
        let cache = self.cached();
        let (cal, limits, now) = (cache.calendar.clone(), cache.limits.clone(), self.now());
        let mut records = Vec::with_capacity(batch.len());
        for row in batch.drain(..) {
            sum.accepted += 1;
            *sum.by_status.entry(row.status.as_str()).or_insert(0) += 1;
            sum.location_unknown += u64::from(row.point.is_none());
            if present.contains(&row.external_ref) {
                sum.already_present += 1;
                continue;
            }
            let (lon, lat) = match row.point {
                Some((lon, lat)) => match m.coordinates.system {
                    Crs::Wgs84 => (lon, lat),
                    Crs::Gcj02 => cityloop_geo::coords::gcj02_to_wgs84(lon, lat),
                },
                // Checked by the caller: rows without a point need the intake point.
                None => intake.unwrap_or_default(),
            };
            let unit_type = cache
                .categories
                .get(&row.category)
                .map(|c| c.default_unit_type.clone())
                .unwrap_or_default();
            let routing = self.route(&row.category, &unit_type, lon, lat).await?;
            let mark = ImportMark {
                mapping: m.name.clone(),
                line: row.line,
                location_unknown: row.point.is_none(),
                ranked,
                source_deadline: row.source_deadline,
                source_on_time: row.source_on_time,
                source_unit: row.source_unit.clone(),
                satisfaction: row.satisfaction.clone(),
            };
            let place = Placement {
                location: Location {
                    lon,
                    lat,
                    address: row.address.clone(),
                },
                routing,
            };
            let number = import_number(&self.district.code, &m.number_prefix, &row.external_ref);
            let (case, events) = match imported_history(
                CaseId::new_v7(),
                number,
                m.source,
                &row,
                place,
                mark,
                &cal,
                &limits,
                now,
            ) {
                Ok(done) => done,
                Err(e) => {
                    sum.accepted -= 1;
                    *sum.by_status.entry(row.status.as_str()).or_insert(1) -= 1;
                    sum.location_unknown -= u64::from(row.point.is_none());
                    sum.refuse(Refusal {
                        line: row.line,
                        column: e.field.into(),
                        reason: e.problem,
                    });
                    continue;
                }
            };
            let deadline = case.deadline(&cal);
            records.push(CaseRecord {
                case,
                deadline,
                events,
            });
        }
        sum.written += records.len() as u64;
        if !sum.dry_run && !records.is_empty() {
            writes.start(self.store.clone(), records).await?;
        }
        Ok(())
    }
}

/// Batches written while the next ones are read, checked and routed: at most
/// [`WRITES_IN_FLIGHT`] at once, each its own transaction. A batch's rows never share an
/// external reference with another batch's (repeats within the file are refused before
/// batching, and each batch is checked against the store before it is started), so the
/// writes are independent. On PostgreSQL they run concurrently; SQLite's single writer
/// takes them in turn, and the gain there is the overlap with the checking.
#[derive(Default)]
struct Writes {
    in_flight: std::collections::VecDeque<tokio::task::JoinHandle<cityloop_store::Result<()>>>,
}

/// How many batches may be being written at once.
pub const WRITES_IN_FLIGHT: usize = 3;

impl Writes {
    async fn start(
        &mut self,
        store: Arc<dyn Store>,
        records: Vec<CaseRecord>,
    ) -> Result<(), ServiceError> {
        if self.in_flight.len() >= WRITES_IN_FLIGHT {
            self.wait_oldest().await?;
        }
        self.in_flight.push_back(tokio::spawn(
            async move { store.import_cases(&records).await },
        ));
        Ok(())
    }

    async fn wait_oldest(&mut self) -> Result<(), ServiceError> {
        if let Some(h) = self.in_flight.pop_front() {
            match h.await {
                Ok(done) => done?,
                Err(e) => {
                    return Err(ServiceError::Internal(anyhow::anyhow!(
                        "an import write failed: {e}"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Waits for every batch still being written; the first error is answered.
    async fn finish(mut self) -> Result<(), ServiceError> {
        while !self.in_flight.is_empty() {
            self.wait_oldest().await?;
        }
        Ok(())
    }
}

fn hash_ref(r: &str) -> u64 {
    // SipHash with fixed keys: two distinct references share a hash with odds of about
    // n²/2⁶⁵ (3·10⁻⁸ for a million rows); such a pair would be refused as a repeat.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    r.hash(&mut h);
    h.finish()
}

/// What the reader thread sends.
enum Msg {
    Header {
        encoding: String,
        columns: Vec<String>,
    },
    Row {
        line: u64,
        fields: Vec<String>,
    },
    Bad(Refusal),
    Fail(String),
}

/// Counts the bytes read from the file (before decompression), for the progress bar.
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// Reads the whole file, sending the header, then each row; stops early if the
/// receiver is gone.
fn read_file(path: &PathBuf, tx: &mpsc::Sender<Msg>, bytes: &Arc<AtomicU64>) {
    if let Err(m) = read_file_inner(path, tx, bytes) {
        let _ = tx.blocking_send(Msg::Fail(m));
    }
}

fn read_file_inner(
    path: &PathBuf,
    tx: &mpsc::Sender<Msg>,
    bytes: &Arc<AtomicU64>,
) -> Result<(), String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut head = [0u8; 4];
    let mut peek = BufReader::new(file);
    let got = peek.fill_buf().map_err(|e| e.to_string())?;
    head[..got.len().min(4)].copy_from_slice(&got[..got.len().min(4)]);
    if head == *b"PK\x03\x04" {
        drop(peek);
        return read_xlsx(path, tx, bytes);
    }
    let counted = Counting {
        inner: peek,
        n: bytes.clone(),
    };
    let raw: Box<dyn Read + Send> = if head[..2] == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    let mut raw = raw;
    let mut sniff = Vec::with_capacity(SNIFF_BYTES);
    (&mut raw)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut sniff)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    let found = sniff_encoding(&sniff);
    let raw = std::io::Cursor::new(sniff).chain(raw);
    let (encoding, input): (&str, Box<dyn Read + Send>) = match found {
        Sniffed::Utf8 => ("UTF-8", Box::new(raw)),
        Sniffed::Gbk => ("GBK", Box::new(GbkReader::new(raw))),
        Sniffed::Neither(at) => {
            return Err(format!(
                "is neither UTF-8 nor GBK text (byte {at} cannot be read in either); save it as UTF-8 CSV"
            ))
        }
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut rec = csv::ByteRecord::new();
    let mut header = true;
    loop {
        let line = rec.position().map_or(1, |p| p.line());
        match csv.read_byte_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                if header {
                    return Err(format!("cannot read the header: {e}"));
                }
                // An unreadable record (bad quoting, a broken GBK byte): refused, and
                // reading goes on with the next one when the reader can.
                let line = e.position().map_or(line, |p| p.line());
                let bad = Msg::Bad(Refusal {
                    line,
                    column: "row".into(),
                    reason: e.to_string(),
                });
                if tx.blocking_send(bad).is_err() {
                    return Ok(());
                }
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(format!("line {line}: {e}"));
                }
                continue;
            }
        }
        let line = rec.position().map_or(line, |p| p.line());
        let fields: Result<Vec<String>, usize> = rec
            .iter()
            .enumerate()
            .map(|(i, f)| std::str::from_utf8(f).map(str::to_owned).map_err(|_| i))
            .collect();
        let msg = match (header, fields) {
            (true, Ok(columns)) => {
                header = false;
                Msg::Header {
                    encoding: encoding.into(),
                    columns,
                }
            }
            (true, Err(_)) => return Err("the header is not valid UTF-8".into()),
            (false, Ok(fields)) => Msg::Row { line, fields },
            (false, Err(i)) => Msg::Bad(Refusal {
                line,
                column: format!("column {}", i + 1),
                reason: format!("is not valid {encoding} text"),
            }),
        };
        if tx.blocking_send(msg).is_err() {
            return Ok(());
        }
    }
}

/// What a CSV's first bytes are.
#[derive(Debug, PartialEq, Eq)]
pub enum Sniffed {
    Utf8,
    Gbk,
    /// Neither; the offset of the first byte neither reads.
    Neither(usize),
}

/// Decides a CSV's encoding from its first bytes (a character cut at the end is fine).
pub fn sniff_encoding(bytes: &[u8]) -> Sniffed {
    let utf8_err = match std::str::from_utf8(bytes) {
        Ok(_) => return Sniffed::Utf8,
        Err(e) if e.error_len().is_none() => return Sniffed::Utf8,
        Err(e) => e.valid_up_to(),
    };
    let mut dec = encoding_rs::GBK.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(bytes.len() * 2);
    let (res, _read) = dec.decode_to_string_without_replacement(bytes, &mut out, false);
    match res {
        encoding_rs::DecoderResult::Malformed(_, _) => Sniffed::Neither(utf8_err),
        _ => Sniffed::Gbk,
    }
}

/// A `Read` that converts GBK to UTF-8 as it goes; a malformed byte is an error
/// (refused with its line by the CSV reader).
struct GbkReader<R> {
    inner: R,
    dec: encoding_rs::Decoder,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<R: Read> GbkReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            dec: encoding_rs::GBK.new_decoder_without_bom_handling(),
            inbuf: vec![0; 16 * 1024],
            out: Vec::new(),
            pos: 0,
            eof: false,
        }
    }
}

impl<R: Read> Read for GbkReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.eof {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.inbuf)?;
            self.eof = n == 0;
            let mut s = String::with_capacity(n * 2 + 16);
            let mut input = &self.inbuf[..n];
            loop {
                let (res, read) = self
                    .dec
                    .decode_to_string_without_replacement(input, &mut s, self.eof);
                input = &input[read..];
                match res {
                    encoding_rs::DecoderResult::InputEmpty => break,
                    encoding_rs::DecoderResult::OutputFull => s.reserve(input.len() * 2 + 16),
                    encoding_rs::DecoderResult::Malformed(_, _) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "a byte sequence is not GBK text",
                        ))
                    }
                }
            }
            self.out = s.into_bytes();
            self.pos = 0;
        }
        let k = buf.len().min(self.out.len() - self.pos);
        buf[..k].copy_from_slice(&self.out[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

/// Streams the first sheet of an xlsx cell by cell (calamine's cell reader), one row at a
/// time; a date cell becomes `YYYY-MM-DD HH:MM:SS`.
fn read_xlsx(path: &PathBuf, tx: &mpsc::Sender<Msg>, bytes: &Arc<AtomicU64>) -> Result<(), String> {
    use calamine::{DataRef, Reader};
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(path)
        .map_err(|e: calamine::XlsxError| format!("cannot read the workbook: {e}"))?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| "the workbook has no sheet".to_string())?;
    if let Ok(meta) = std::fs::metadata(path) {
        bytes.store(meta.len(), Ordering::Relaxed);
    }
    let mut cells = wb
        .worksheet_cells_reader(&sheet)
        .map_err(|e| format!("cannot read sheet {sheet}: {e}"))?;
    let mut row: Vec<String> = Vec::new();
    let mut current: Option<u32> = None;
    let mut header = true;
    let flush = |r: u32, row: &mut Vec<String>, header: &mut bool| -> bool {
        let fields = std::mem::take(row);
        let msg = if *header {
            *header = false;
            Msg::Header {
                encoding: "xlsx".into(),
                columns: fields,
            }
        } else {
            Msg::Row {
                line: u64::from(r) + 1,
                fields,
            }
        };
        tx.blocking_send(msg).is_ok()
    };
    loop {
        let cell = cells
            .next_cell()
            .map_err(|e| format!("cannot read sheet {sheet}: {e}"))?;
        let Some(cell) = cell else { break };
        let (r, c) = cell.get_position();
        if current != Some(r) {
            if let Some(prev) = current {
                if !flush(prev, &mut row, &mut header) {
                    return Ok(());
                }
            }
            current = Some(r);
        }
        let text = match cell.get_value() {
            DataRef::Empty => String::new(),
            DataRef::String(s) => s.clone(),
            DataRef::SharedString(s) => (*s).to_owned(),
            DataRef::Int(i) => i.to_string(),
            DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            DataRef::Float(f) => f.to_string(),
            DataRef::Bool(b) => b.to_string(),
            DataRef::DateTime(d) => {
                let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
                format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}")
            }
            DataRef::DateTimeIso(s) => s.replacen('T', " ", 1),
            DataRef::DurationIso(s) => s.clone(),
            DataRef::Error(e) => format!("#{e:?}"),
        };
        let c = c as usize;
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = text;
    }
    if let Some(prev) = current {
        flush(prev, &mut row, &mut header);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_text_cut_mid_character_still_reads_as_utf8() {
        let s = "工单编号,诉求内容\n1,井盖".as_bytes();
        assert_eq!(sniff_encoding(&s[..s.len() - 1]), Sniffed::Utf8);
    }

    #[test]
    fn gbk_text_is_recognised_and_converted() {
        let (gbk, _, _) = encoding_rs::GBK.encode("工单编号,诉求内容\n1,井盖缺失\n");
        assert_eq!(sniff_encoding(&gbk), Sniffed::Gbk);
        let mut out = String::new();
        GbkReader::new(&gbk[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "工单编号,诉求内容\n1,井盖缺失\n");
    }

    #[test]
    fn bytes_that_are_neither_are_refused_with_the_offset() {
        assert_eq!(sniff_encoding(b"ok,\xff\xff\xff"), Sniffed::Neither(3));
    }
}
