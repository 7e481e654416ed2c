//! Photo attachments over HTTP against the real server on every store: upload checked by
//! content, size limits, EXIF GPS kept as metadata and stripped from the public copy,
//! deduplication by content hash, photos on the case timeline, the public upload.

mod common;

use cityloop_service::media::{self, samples};
use common::{Server, TestDb};
use serde_json::{json, Value};

const HERE: (f64, f64) = (34.7503, 113.6615);

macro_rules! http_test {
    ($name:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in TestDb::all().await {
                eprintln!("backend {:?}", db.store.backend());
                let server = Server::spawn("demo", &db.url);
                $body(&server).await;
            }
        }
    };
}

/// Posts raw bytes with a Content-Type (no multipart).
async fn post_raw(
    s: &Server,
    path: &str,
    token: Option<&str>,
    bytes: Vec<u8>,
    ctype: &str,
) -> (u16, Value) {
    let mut req = s
        .http
        .post(s.url(path))
        .header("content-type", ctype)
        .body(bytes);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn get_bytes(s: &Server, path: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut req = s.http.get(s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let st = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (st, ctype, r.bytes().await.unwrap().to_vec())
}

/// Every file under the server's media folder.
fn media_files(s: &Server) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![s.media.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn jpeg_png_and_webp_upload_and_the_same_content_twice_is_one_attachment(s: &Server) {
    let t = s.login("inspector").await;
    let mut ids = Vec::new();
    for (bytes, name, mime) in [
        (samples::jpeg(64, 48, None), "a.jpg", "image/jpeg"),
        (samples::png(64, 48, None), "b.png", "image/png"),
        (samples::webp(64, 48, None), "c.webp", "image/webp"),
    ] {
        let (st, a) = s.upload(&t, bytes.clone(), name, mime).await;
        assert_eq!(st, 201, "{name}: {a}");
        assert_eq!(a["mime"], mime);
        assert_eq!(
            (a["width"].as_i64(), a["height"].as_i64()),
            (Some(64), Some(48))
        );
        assert_eq!(a["size"].as_u64(), Some(bytes.len() as u64));
        assert_eq!(a["gps"], Value::Null);
        assert_eq!(a["channel"], "staff");
        let id = a["id"].as_str().unwrap().to_owned();
        assert_eq!(a["public_url"], format!("/media/{id}"));
        // The original comes back byte for byte, to staff only.
        let (st, ctype, got) = get_bytes(s, &format!("/api/v1/attachments/{id}"), Some(&t)).await;
        assert_eq!((st, ctype.as_str()), (200, mime));
        assert_eq!(got, bytes);
        let (st, _, _) = get_bytes(s, &format!("/api/v1/attachments/{id}"), None).await;
        assert_eq!(st, 401);
        ids.push((id, a["sha256"].clone(), bytes));
    }
    assert_eq!(
        media_files(s).len(),
        6,
        "an original and a public copy each"
    );

    // The same JPEG again, as a raw body this time and by another person.
    let other = s.login("operator").await;
    let (id, sha, bytes) = &ids[0];
    let (st, again) = post_raw(
        s,
        "/api/v1/attachments",
        Some(&other),
        bytes.clone(),
        "image/jpeg",
    )
    .await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["id"], id.as_str());
    assert_eq!(&again["sha256"], sha);
    assert_eq!(
        media_files(s).len(),
        6,
        "no second file for the same content"
    );
    let name = format!("{}.jpg", sha.as_str().unwrap());
    assert!(media_files(s).iter().any(|p| p.ends_with(&name)));
}
http_test!(
    upload_formats_and_dedup,
    jpeg_png_and_webp_upload_and_the_same_content_twice_is_one_attachment
);

async fn a_non_image_renamed_jpg_or_with_a_lying_type_is_refused_naming_file(s: &Server) {
    let t = s.login("inspector").await;
    let text = "这不是照片，只是改了扩展名的文本文件。\n"
        .repeat(20)
        .into_bytes();
    let (st, e) = s.upload(&t, text.clone(), "photo.jpg", "image/jpeg").await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["error"]["field"], "file");
    assert_eq!(e["error"]["code"], "invalid_field");
    let (st, e) = post_raw(
        s,
        "/api/v1/attachments",
        Some(&t),
        text.clone(),
        "image/png",
    )
    .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("file")),
        "{e}"
    );
    let (st, e) = post_raw(s, "/api/v1/public/media", None, text, "image/jpeg").await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("file")),
        "{e}"
    );
    // A JPEG magic number in front of garbage: the decode refuses it.
    let mut fake = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    fake.extend_from_slice(b"JFIF\0 then nothing an image needs");
    let (st, e) = s.upload(&t, fake, "x.jpg", "image/jpeg").await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("file")),
        "{e}"
    );
    // A real PNG declared as JPEG.
    let (st, e) = s
        .upload(&t, samples::png(8, 8, None), "x.jpg", "image/jpeg")
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("file")),
        "{e}"
    );
    // No field `file` at all.
    let form = reqwest::multipart::Form::new().text("photo", "x");
    let r = s
        .http
        .post(s.url("/api/v1/attachments"))
        .bearer_auth(&t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "file");
    // Nothing was stored for any of these.
    assert!(media_files(s).is_empty());
    let (st, _) = post_raw(
        s,
        "/api/v1/attachments",
        None,
        samples::png(8, 8, None),
        "image/png",
    )
    .await;
    assert_eq!(st, 401, "uploading to the staff route needs a login");
}
http_test!(
    non_images_refused,
    a_non_image_renamed_jpg_or_with_a_lying_type_is_refused_naming_file
);

async fn a_photo_over_the_size_limit_is_refused_with_413(s: &Server) {
    let t = s.login("inspector").await;
    let mut big = samples::jpeg(16, 16, None);
    big.resize(10 * 1024 * 1024 + 1, 0);
    let (st, e) = s.upload(&t, big.clone(), "big.jpg", "image/jpeg").await;
    assert_eq!(st, 413, "{e}");
    assert_eq!(e["error"]["field"], "file");
    let (st, e) = post_raw(s, "/api/v1/attachments", Some(&t), big, "image/jpeg").await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (413, Some("file")),
        "{e}"
    );
    let mut public = samples::jpeg(16, 16, None);
    public.resize(5 * 1024 * 1024 + 1, 0);
    let (st, e) = post_raw(s, "/api/v1/public/media", None, public, "image/jpeg").await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (413, Some("body_too_large")),
        "{e}"
    );
    // The JSON API keeps its 1 MiB limit.
    let (st, _) = s
        .post(
            &t,
            "/api/v1/cases",
            json!({"description": "x".repeat(1024 * 1024 + 100)}),
        )
        .await;
    assert_eq!(st, 413);
}
http_test!(
    oversize_refused,
    a_photo_over_the_size_limit_is_refused_with_413
);

async fn exif_gps_is_kept_as_metadata_and_absent_from_the_public_copy(s: &Server) {
    let t = s.login("inspector").await;
    let original = samples::jpeg(64, 48, Some(HERE));
    assert!(contains(&original, b"Exif\0\0"));
    let (st, a) = s
        .upload(&t, original.clone(), "IMG_0001.JPG", "image/jpeg")
        .await;
    assert_eq!(st, 201, "{a}");
    let (lat, lon) = (
        a["gps"]["lat"].as_f64().unwrap(),
        a["gps"]["lon"].as_f64().unwrap(),
    );
    assert!(
        (lat - HERE.0).abs() < 1e-6 && (lon - HERE.1).abs() < 1e-6,
        "{a}"
    );
    let id = a["id"].as_str().unwrap();

    let (st, ctype, public) = get_bytes(s, &format!("/media/{id}"), None).await;
    assert_eq!((st, ctype.as_str()), (200, "image/jpeg"));
    let info = media::inspect(&public, None).unwrap();
    assert_eq!(info.gps, None, "no GPS in the public copy");
    assert_eq!((info.width, info.height), (64, 48));
    assert_eq!(info.orientation, Some(6), "only the orientation is kept");
    assert!(
        !contains(&public, &0x8825u16.to_be_bytes()),
        "no GPS IFD pointer"
    );
    assert!(!contains(&public, b"xmpmeta"), "no XMP");
    assert!(public.len() < original.len());
    // Staff still get the original with its metadata.
    let (_, _, staff_copy) = get_bytes(s, &format!("/api/v1/attachments/{id}"), Some(&t)).await;
    assert!(media::inspect(&staff_copy, None).unwrap().gps.is_some());
    // PNG and WebP lose their metadata the same way.
    for (bytes, name) in [
        (samples::png(20, 10, Some(HERE)), "p.png"),
        (samples::webp(20, 10, Some(HERE)), "w.webp"),
    ] {
        let mime = media::Format::sniff(&bytes).unwrap().mime();
        let (st, a) = s.upload(&t, bytes, name, mime).await;
        assert_eq!(st, 201, "{a}");
        assert!(a["gps"]["lat"].as_f64().is_some(), "{name} GPS read");
        let (_, _, public) = get_bytes(s, a["public_url"].as_str().unwrap(), None).await;
        assert_eq!(media::inspect(&public, None).unwrap().gps, None, "{name}");
        assert!(!contains(&public, b"xmpmeta") && !contains(&public, b"taken at home"));
    }
    let (st, _, _) = get_bytes(s, "/media/00000000-0000-4000-8000-000000000000", None).await;
    assert_eq!(st, 404);
    let (st, _, _) = get_bytes(s, "/media/not-an-id", None).await;
    assert_eq!(st, 404);
}
http_test!(
    exif_gps_stripped,
    exif_gps_is_kept_as_metadata_and_absent_from_the_public_copy
);

async fn unit_id(s: &Server, token: &str, code: &str) -> String {
    let (_, units) = s.get(token, "/api/v1/units").await;
    units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == code)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn before_and_after_photos_show_on_the_timeline_and_unknown_ids_are_422(s: &Server) {
    let inspector = s.login("inspector").await;
    let operator = s.login("operator").await;
    let dispatcher = s.login("dispatcher").await;
    let handler = s.login("handler-hw").await;
    let body = |media: Value| {
        json!({
            "source": "inspector", "category": "06010", "description": "人行道暴露垃圾",
            "lat": HERE.0, "lon": HERE.1, "media": media
        })
    };
    let (st, e) = s
        .post(&inspector, "/api/v1/cases", body(json!(["photo-before-1"])))
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("media")),
        "{e}"
    );
    let before = s.upload_photo(&inspector).await;
    let (st, case) = s
        .post(&inspector, "/api/v1/cases", body(json!([before])))
        .await;
    assert_eq!(st, 201, "{case}");
    let id = case["id"].as_str().unwrap();
    let act = |token: &str, body: Value| {
        let path = format!("/api/v1/cases/{id}/actions");
        let token = token.to_owned();
        async move { s.post(&token, &path, body).await }
    };
    assert_eq!(act(&operator, json!({"action": "accept"})).await.0, 200);
    assert_eq!(act(&operator, json!({"action": "register"})).await.0, 200);
    let hw = unit_id(s, &dispatcher, "hw").await;
    assert_eq!(
        act(&dispatcher, json!({"action": "dispatch", "unit_id": hw}))
            .await
            .0,
        200
    );
    for bad in [
        json!(["00000000-0000-4000-8000-000000000000"]),
        json!(["sha256:after1"]),
    ] {
        let (st, e) = act(
            &handler,
            json!({"action": "report_back", "note": "已清运", "attachments": bad}),
        )
        .await;
        assert_eq!(
            (st, e["error"]["field"].as_str()),
            (422, Some("attachments")),
            "{e}"
        );
    }
    let (_, after) = s
        .upload(
            &handler,
            samples::png(30, 20, Some(HERE)),
            "after.png",
            "image/png",
        )
        .await;
    let after = after["id"].as_str().unwrap().to_owned();
    let (st, done) = act(
        &handler,
        json!({"action": "report_back", "note": "已清运", "attachments": [after]}),
    )
    .await;
    assert_eq!(st, 200, "{done}");
    assert_eq!(done["state"], "to_check");

    let (st, detail) = s.get(&inspector, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(detail["photos"][0]["id"], before.as_str());
    let events = detail["events"].as_array().unwrap();
    assert_eq!(events[0]["kind"], "reported");
    assert_eq!(
        events[0]["photos"][0]["public_url"],
        format!("/media/{before}")
    );
    let back = events.last().unwrap();
    assert_eq!(back["kind"], "report_back");
    let p = &back["photos"][0];
    assert_eq!(p["id"], after.as_str());
    assert_eq!(p["url"], format!("/api/v1/attachments/{after}"));
    assert_eq!(p["public_url"], format!("/media/{after}"));
    assert_eq!(
        (p["width"].as_i64(), p["height"].as_i64()),
        (Some(30), Some(20))
    );
    assert!(
        p["gps"]["lat"].as_f64().is_some(),
        "staff see the GPS metadata"
    );
    let (st, ctype, _) = get_bytes(s, p["public_url"].as_str().unwrap(), None).await;
    assert_eq!((st, ctype.as_str()), (200, "image/png"));
}
http_test!(
    photos_on_timeline,
    before_and_after_photos_show_on_the_timeline_and_unknown_ids_are_422
);

async fn a_citizen_uploads_a_photo_then_reports_it_through_open311(s: &Server) {
    let photo = samples::jpeg(40, 30, Some(HERE));
    let (st, m) = post_raw(s, "/api/v1/public/media", None, photo.clone(), "image/jpeg").await;
    assert_eq!(st, 201, "{m}");
    assert!(
        m.get("gps").is_none(),
        "the public answer shows no metadata"
    );
    let media_url = m["media_url"].as_str().unwrap().to_owned();
    assert_eq!(
        media_url,
        format!("{}{}", s.base, m["public_url"].as_str().unwrap())
    );
    let r = s
        .http
        .post(s.url("/open311/v2/requests.json"))
        .form(&[
            ("api_key", "demo-key"),
            ("service_code", "06010"),
            ("lat", "34.7503"),
            ("long", "113.6615"),
            ("description", "路边堆放垃圾（附照片）"),
            ("media_url", media_url.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let created: Value = r.json().await.unwrap();
    let number = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .http
        .get(s.url(&format!("/open311/v2/requests/{number}.json")))
        .send()
        .await
        .unwrap();
    let got: Value = r.json().await.unwrap();
    assert_eq!(got[0]["media_url"], media_url.as_str());
    // Staff see the photo resolved to the upload, with its GPS metadata.
    let op = s.login("operator").await;
    let (_, list) = s.get(&op, "/api/v1/cases?source=public").await;
    let case = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["number"] == number.as_str())
        .unwrap()
        .clone();
    let (_, detail) = s
        .get(
            &op,
            &format!("/api/v1/cases/{}", case["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(detail["photos"][0]["id"], m["id"]);
    assert!(detail["photos"][0]["gps"]["lat"].as_f64().is_some());

    // The public route is rate-limited per client address.
    let mut last = 0;
    for i in 0..40 {
        let (st, _) = post_raw(s, "/api/v1/public/media", None, photo.clone(), "image/jpeg").await;
        last = st;
        if st == 429 {
            assert!(i >= 20, "limited too early, after {i}");
            break;
        }
        assert_eq!(st, 200, "the same photo again is the same attachment");
    }
    assert_eq!(last, 429);
}
http_test!(
    public_upload_and_open311,
    a_citizen_uploads_a_photo_then_reports_it_through_open311
);

/// The server's peak resident memory so far (`VmHWM`), in KiB.
fn peak_rss_kib(s: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"))
}

/// One upload, staff (multipart, with `token`) or public (raw body): status, the
/// Retry-After header and the body.
async fn send(
    s: &Server,
    token: Option<&str>,
    bytes: Vec<u8>,
    mime: &str,
) -> (u16, Option<String>, Value) {
    let req = match token {
        Some(t) => {
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name("photo")
                .mime_str(mime)
                .unwrap();
            s.http
                .post(s.url("/api/v1/attachments"))
                .bearer_auth(t)
                .multipart(reqwest::multipart::Form::new().part("file", part))
        }
        None => s
            .http
            .post(s.url("/api/v1/public/media"))
            .header("content-type", mime)
            .body(bytes),
    };
    let r = req.send().await.unwrap();
    let st = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (st, retry, r.json().await.unwrap_or(Value::Null))
}

fn refused_naming_file(got: &(u16, Option<String>, Value), status: u16, reason: &str) {
    let (st, _, e) = got;
    assert_eq!(*st, status, "{e}");
    assert_eq!(e["error"]["field"], "file", "{e}");
    let message = e["error"]["message"].as_str().unwrap_or("");
    assert!(message.starts_with("file: "), "{e}");
    assert!(message.contains(reason), "{reason:?} in {e}");
}

async fn hostile_photos_are_refused_from_their_headers_without_the_memory_a_decode_would_take(
    s: &Server,
) {
    let t = s.login("inspector").await;
    let before = peak_rss_kib(s);
    // A lossless WebP of 12000×12000 pixels in a few dozen bytes: decoding it would take
    // about 1 GB (an ARGB working buffer and the RGB output).
    let bomb = samples::webp_flat(12_000, 12_000);
    assert!(bomb.len() < 5 * 1024);
    let pixels = "too large in pixels: 12000×12000";
    refused_naming_file(
        &send(s, Some(&t), bomb.clone(), "image/webp").await,
        422,
        pixels,
    );
    refused_naming_file(
        &send(s, None, bomb.clone(), "image/webp").await,
        422,
        pixels,
    );
    // A PNG whose colour profile inflates to 64 MiB.
    let iccp = samples::png_with_iccp(16, 16, 64 * 1024 * 1024);
    let profile = "colour profile (ICC) larger than 1 MiB";
    refused_naming_file(
        &send(s, Some(&t), iccp.clone(), "image/png").await,
        422,
        profile,
    );
    // A JPEG with 17 APP1 segments of 64 KiB (over the 1 MiB of metadata).
    let app = samples::jpeg_with_app(16, 16, 0xE1, 17, 65_533);
    let metadata = "more than 1 MiB of metadata";
    refused_naming_file(
        &send(s, None, app.clone(), "image/jpeg").await,
        422,
        metadata,
    );
    // Frame headers that claim more than the limits over a tiny picture.
    let huge_jpeg = samples::jpeg_claiming(65_000, 65_000);
    refused_naming_file(
        &send(s, Some(&t), huge_jpeg.clone(), "image/jpeg").await,
        422,
        "65000×65000",
    );
    let wide_png = samples::png_claiming(10_000, 5_001);
    refused_naming_file(
        &send(s, Some(&t), wide_png.clone(), "image/png").await,
        422,
        "50 megapixels",
    );

    // Eight at once, staff and public: every one refused, and the server's peak memory
    // stays where it was (the bombs above would each need from 64 MiB to 1 GB).
    let hostile = [
        (bomb.clone(), "image/webp"),
        (iccp.clone(), "image/png"),
        (app.clone(), "image/jpeg"),
        (huge_jpeg.clone(), "image/jpeg"),
    ];
    let all = hostile
        .iter()
        .cycle()
        .take(8)
        .enumerate()
        .map(|(i, (b, m))| {
            let token = (i % 2 == 0).then_some(t.as_str());
            send(s, token, b.clone(), m)
        });
    for got in futures_join_all(all).await {
        assert_eq!(got.0, 422, "{}", got.2);
        assert_eq!(got.2["error"]["field"], "file");
    }
    let grown_mib = (peak_rss_kib(s).saturating_sub(before)) / 1024;
    eprintln!("peak RSS grew by {grown_mib} MiB refusing hostile photos");
    assert!(
        grown_mib < 48,
        "peak RSS grew by {grown_mib} MiB while refusing hostile photos"
    );
    assert!(media_files(s).is_empty(), "nothing stored");
    // An honest photo with a small profile and EXIF still goes through.
    let (st, _, a) = send(
        s,
        Some(&t),
        samples::png_with_iccp(64, 48, 3144),
        "image/png",
    )
    .await;
    assert_eq!(st, 201, "{a}");
    let (st, _, a) = send(s, None, samples::jpeg(64, 48, Some(HERE)), "image/jpeg").await;
    assert_eq!(st, 201, "{a}");
}
http_test!(
    hostile_photos_refused_from_headers,
    hostile_photos_are_refused_from_their_headers_without_the_memory_a_decode_would_take
);

/// Runs the futures concurrently on this task and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    fs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in fs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match std::future::Future::poll(f.as_mut(), cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

macro_rules! http_test_env {
    ($name:ident, $env:expr, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in TestDb::all().await {
                eprintln!("backend {:?}", db.store.backend());
                let server = Server::spawn_env("demo", &db.url, $env);
                $body(&server).await;
            }
        }
    };
}

async fn with_one_decode_slot_and_no_queue_parallel_uploads_get_503_busy_and_a_single_one_succeeds(
    s: &Server,
) {
    let t = s.login("inspector").await;
    // A valid 4000×4000 photo (a flat lossless WebP: 16 megapixels to decode, so each
    // decode holds the one slot while the others arrive).
    let photo = samples::webp_flat(4_000, 4_000);
    for token in [Some(t.as_str()), None] {
        let all = (0..8).map(|_| send(s, token, photo.clone(), "image/webp"));
        let got = futures_join_all(all).await;
        let ok = got.iter().filter(|g| g.0 == 201 || g.0 == 200).count();
        let busy: Vec<_> = got.iter().filter(|g| g.0 == 503).collect();
        assert!(ok >= 1, "{got:?}");
        assert!(
            !busy.is_empty(),
            "one slot, no queue: some must be refused: {got:?}"
        );
        assert_eq!(ok + busy.len(), 8, "{got:?}");
        for (_, retry, e) in busy {
            assert_eq!(e["error"]["code"], "busy", "{e}");
            let secs: u64 = retry.as_deref().unwrap_or("").parse().unwrap();
            assert!(secs >= 1, "Retry-After {secs}");
        }
        // Alone, the same upload succeeds.
        let (st, _, a) = send(s, token, photo.clone(), "image/webp").await;
        assert_eq!(st, 200, "the same content again: {a}");
    }
    // The limits come from the server's configuration too (16 KiB of metadata here):
    // a 60 KB APP1 segment is refused, a small one is not.
    let app = samples::jpeg_with_app(16, 16, 0xE1, 1, 60_000);
    refused_naming_file(
        &send(s, Some(&t), app, "image/jpeg").await,
        422,
        "more than 16 KiB of metadata",
    );
    let (st, _, a) = send(
        s,
        Some(&t),
        samples::jpeg_with_app(16, 16, 0xE1, 1, 4_000),
        "image/jpeg",
    )
    .await;
    assert_eq!(st, 201, "{a}");
}
http_test_env!(
    decode_slots_busy_503,
    &[
        ("CITYLOOP_MEDIA_DECODES", "1"),
        ("CITYLOOP_MEDIA_QUEUE", "0"),
        ("CITYLOOP_MEDIA_MAX_METADATA", "16KiB"),
    ],
    with_one_decode_slot_and_no_queue_parallel_uploads_get_503_busy_and_a_single_one_succeeds
);

async fn eight_parallel_decompression_bombs_within_the_limits_are_decoded_one_at_a_time(
    s: &Server,
) {
    let t = s.login("inspector").await;
    let before = peak_rss_kib(s);
    // 5000×5000 flat lossless WebPs: accepted (25 megapixels, about 200 MiB estimated),
    // each needs about 175 MB to decode. Eight decoded at once would take 1.4 GB; with one
    // decode slot (the others wait in the queue) the peak stays near one decode's.
    let all = (0..8u32).map(|i| {
        let token = (i % 2 == 0).then_some(t.as_str());
        send(s, token, samples::webp_flat(5_000 - i, 5_000), "image/webp")
    });
    for got in futures_join_all(all).await {
        assert_eq!(got.0, 201, "{}", got.2);
    }
    let grown_mib = (peak_rss_kib(s).saturating_sub(before)) / 1024;
    eprintln!("peak RSS grew by {grown_mib} MiB for eight 25-megapixel decodes");
    assert!(
        grown_mib < 400,
        "peak RSS grew by {grown_mib} MiB for eight decodes of about 175 MB each"
    );
}
http_test_env!(
    parallel_bombs_bounded_memory,
    &[
        ("CITYLOOP_MEDIA_DECODES", "1"),
        ("CITYLOOP_MEDIA_QUEUE", "16"),
        ("CITYLOOP_MEDIA_QUEUE_WAIT", "2m"),
    ],
    eight_parallel_decompression_bombs_within_the_limits_are_decoded_one_at_a_time
);
