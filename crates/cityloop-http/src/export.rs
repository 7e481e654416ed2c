//! `GET /api/v1/cases/export` (issue 15 item 6): the staff case list of any search filter
//! as CSV or xlsx with Chinese headers, without holding the list in memory.
//!
//! - **CSV** is streamed: a task reads one search page (200 rows) at a time and sends it
//!   down a channel of [`CHANNEL_PAGES`] pages, so a slow client holds the reader back
//!   instead of the server buffering. UTF-8 with a byte-order mark (Excel opens Chinese
//!   text right).
//! - **xlsx** is a zip whose directory comes last, so it is built before the first byte
//!   is sent: rows go to a `rust_xlsxwriter` worksheet in constant-memory mode (each row
//!   flushed to a temporary file as it is written), the workbook is saved into an
//!   anonymous temporary file, and that file is streamed out.
//!
//! The filters are checked (and the first page read) before the response starts, so a
//! bad filter is a 422 naming it. At most 100,000 rows (`max_rows` may ask for fewer); a
//! longer list ends with a line saying where it was cut. A read that fails after the
//! response started aborts the body (the client sees a broken download, never a short
//! file that looks whole).

use std::io::{Seek, SeekFrom};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use cityloop_domain::case::Case;
use cityloop_service::export::{truncated_note, ExportNames, EXPORT_HEADERS, EXPORT_MAX_ROWS};
use cityloop_service::search::SearchRequest;
use cityloop_service::{ServiceError, Services};
use tokio::sync::mpsc;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, Staff};
use crate::AppState;

/// Pages of rows in flight between the reader and the response.
pub const CHANNEL_PAGES: usize = 2;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/cases/export", get(export))
}

crate::search::case_filter_query! {
    /// `GET /api/v1/cases/export` query: the filters of `GET /api/v1/cases/search` (no
    /// `cursor`, no `limit`), the format and an optional row cap.
    pub struct ExportQuery {
        /// `csv` (default) or `xlsx`.
        pub format: Option<String>,
        /// At most this many rows, 1 to 100000 (default 100000).
        #[param(minimum = 1, maximum = 100000)]
        pub max_rows: Option<usize>,
    }
}

#[utoipa::path(get, path = "/api/v1/cases/export", tag = "cases", security(("bearer" = [])), params(ExportQuery),
    responses((status = 200, description = "The matching cases in the caller's scope, in the search's order, with Chinese headers: `text/csv` (UTF-8 with BOM, streamed) or xlsx; at most 100,000 rows (or `max_rows`), a longer list ends with a line saying it was cut", content_type = "text/csv"),
              (status = 401, body = ErrorBody),
              (status = 403, description = "A filter outside the caller's scope", body = ErrorBody),
              (status = 422, description = "An unknown format, `max_rows` outside 1..=100000, or a bad filter (named in `field`)", body = ErrorBody),
              (status = 503, description = "A page of the search ran past its time limit, or the database is unavailable", body = ErrorBody)))]
pub(crate) async fn export(
    State(st): State<AppState>,
    staff: Staff,
    ApiQuery(mut q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let xlsx = match q.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "xlsx" => true,
        _ => return Err(ApiError::field("format", "must be csv or xlsx")),
    };
    if let Some(n) = q.max_rows {
        if n == 0 || n > EXPORT_MAX_ROWS {
            return Err(ApiError::field(
                "max_rows",
                format!("must be from 1 to {EXPORT_MAX_ROWS}"),
            ));
        }
    }
    let req = q.take_request();
    let svc = st.svc.clone();
    // Checks every filter before anything is sent.
    svc.export_pages(&staff.actor, req.clone(), q.max_rows)
        .await?;
    let names = svc.export_names().await?;
    let stem = format!(
        "cases-{}",
        svc.now()
            .with_timezone(&svc.calendar().tz())
            .format("%Y%m%d-%H%M")
    );
    let (tx, mut rx) = mpsc::channel::<Result<Vec<Case>, ServiceError>>(CHANNEL_PAGES);
    {
        let svc = svc.clone();
        let actor = staff.actor.clone();
        let max = q.max_rows;
        tokio::spawn(async move { read_pages(svc, actor, req, max, tx).await });
    }
    // The first page answers errors as a status, before the response starts.
    let first = match rx.recv().await {
        Some(Ok(page)) => Some(page),
        Some(Err(e)) => return Err(e.into()),
        None => None,
    };
    let now = svc.now();
    if xlsx {
        let max = q.max_rows.unwrap_or(EXPORT_MAX_ROWS);
        let file = build_xlsx(svc, names, now, max, first, rx).await?;
        let file = tokio::fs::File::from_std(file);
        let body = Body::from_stream(tokio_util_free::file_chunks(file));
        return Ok(download(
            body,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &stem,
            "xlsx",
        ));
    }
    let head = {
        let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        w.write_record(EXPORT_HEADERS).map_err(csv_error)?;
        w.into_inner()
            .map_err(|e| csv_error(e.into_error().into()))?
    };
    let state = CsvState {
        svc,
        names,
        now,
        max: q.max_rows.unwrap_or(EXPORT_MAX_ROWS),
        head: Some(head),
        first,
        rx,
    };
    let body = futures_util::stream::unfold(state, |mut s| async move {
        if let Some(head) = s.head.take() {
            return Some((Ok(Bytes::from(head)), s));
        }
        let page = match s.first.take() {
            Some(p) => Some(Ok(p)),
            None => s.rx.recv().await,
        };
        match page {
            None => None,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "case export: a page failed; the download is aborted");
                Some((Err(std::io::Error::other(e.to_string())), s))
            }
            Some(Ok(cases)) => match csv_page(&s.svc, &s.names, s.now, s.max, &cases) {
                Ok(bytes) => Some((Ok(Bytes::from(bytes)), s)),
                Err(e) => Some((Err(e), s)),
            },
        }
    });
    Ok(download(
        Body::from_stream(body),
        "text/csv; charset=utf-8",
        &stem,
        "csv",
    ))
}

/// What the CSV body stream carries between pages.
struct CsvState {
    svc: Services,
    names: ExportNames,
    now: DateTime<Utc>,
    max: usize,
    head: Option<Vec<u8>>,
    first: Option<Vec<Case>>,
    rx: mpsc::Receiver<Result<Vec<Case>, ServiceError>>,
}

/// Reads the export's pages into the channel; the last page is followed by the
/// truncation line's marker (an empty page) when the cap cut the list.
async fn read_pages(
    svc: Services,
    actor: cityloop_domain::model::Actor,
    req: SearchRequest,
    max: Option<usize>,
    tx: mpsc::Sender<Result<Vec<Case>, ServiceError>>,
) {
    let mut pages = match svc.export_pages(&actor, req, max).await {
        Ok(p) => p,
        Err(e) => {
            let _ = tx.send(Err(e)).await;
            return;
        }
    };
    loop {
        match pages.next_page().await {
            Ok(Some(cases)) => {
                if tx.send(Ok(cases)).await.is_err() {
                    return; // the client went away
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
    }
    if pages.truncated {
        let _ = tx.send(Ok(Vec::new())).await;
    }
}

fn csv_page(
    svc: &Services,
    names: &ExportNames,
    now: DateTime<Utc>,
    max: usize,
    cases: &[Case],
) -> Result<Vec<u8>, std::io::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(cases.len() * 256));
    if cases.is_empty() {
        // The marker of a list cut at its cap.
        w.write_record([truncated_note(max)])
            .map_err(std::io::Error::other)?;
    }
    for c in cases {
        w.write_record(svc.export_row(c, names, now))
            .map_err(std::io::Error::other)?;
    }
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Builds the workbook in constant memory on a blocking thread, fed page by page.
async fn build_xlsx(
    svc: Services,
    names: ExportNames,
    now: DateTime<Utc>,
    max: usize,
    first: Option<Vec<Case>>,
    mut rx: mpsc::Receiver<Result<Vec<Case>, ServiceError>>,
) -> Result<std::fs::File, ApiError> {
    let (rows_tx, rows_rx) = std::sync::mpsc::sync_channel::<Vec<Vec<String>>>(CHANNEL_PAGES);
    let writer = tokio::task::spawn_blocking(move || write_xlsx(rows_rx));
    let mut failed = None;
    let mut page = first.map(Ok);
    loop {
        let cases = match page.take() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(p) => p,
                None => break,
            },
        };
        match cases {
            Ok(cases) => {
                let rows: Vec<Vec<String>> = if cases.is_empty() {
                    vec![vec![truncated_note(max)]]
                } else {
                    cases
                        .iter()
                        .map(|c| svc.export_row(c, &names, now))
                        .collect()
                };
                let tx = rows_tx.clone();
                // The writer thread may be busy; wait for room without blocking the runtime.
                let sent = tokio::task::spawn_blocking(move || tx.send(rows).is_ok())
                    .await
                    .unwrap_or(false);
                if !sent {
                    break;
                }
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(rows_tx);
    let file = writer
        .await
        .map_err(|e| ApiError::from(ServiceError::Internal(anyhow::anyhow!("xlsx writer: {e}"))))?
        .map_err(|e| ApiError::from(ServiceError::Internal(anyhow::anyhow!("xlsx export: {e}"))))?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(file)
}

fn write_xlsx(rows: std::sync::mpsc::Receiver<Vec<Vec<String>>>) -> anyhow::Result<std::fs::File> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet_with_constant_memory()?;
    ws.set_name("案件列表")?;
    for (i, h) in EXPORT_HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, u16::try_from(i)?, *h, &bold)?;
    }
    ws.set_freeze_panes(1, 0)?;
    let mut r: u32 = 1;
    while let Ok(page) = rows.recv() {
        for row in page {
            for (i, v) in row.iter().enumerate() {
                ws.write_string(r, u16::try_from(i)?, v)?;
            }
            r += 1;
        }
    }
    let mut file = tempfile::tempfile()?;
    wb.save_to_writer(&mut file)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

/// Reading a file as a body stream (tokio-util is not a dependency).
mod tokio_util_free {
    use axum::body::Bytes;
    use futures_util::stream::Stream;
    use tokio::io::AsyncReadExt;

    const CHUNK: usize = 64 * 1024;

    pub fn file_chunks(file: tokio::fs::File) -> impl Stream<Item = std::io::Result<Bytes>> {
        futures_util::stream::unfold(Some(file), |f| async move {
            let mut f = f?;
            let mut buf = vec![0u8; CHUNK];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), Some(f)))
                }
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}

fn csv_error(e: csv::Error) -> ApiError {
    ApiError::from(ServiceError::Internal(anyhow::anyhow!("csv: {e}")))
}

fn download(body: Body, content_type: &'static str, stem: &str, ext: &str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{stem}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-export-limit", HeaderValue::from(EXPORT_MAX_ROWS as u64));
    resp
}
