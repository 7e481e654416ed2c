//! Photo content, judged by the bytes alone: which format they are (magic number *and* a
//! real decode, never the file name or the declared type), their size in pixels, the
//! EXIF GPS position, and a public copy with the metadata removed.
//!
//! Pure functions over byte slices (no files, no clock). Decoding uses the `image` crate
//! with pixel and memory limits; EXIF is read with `kamadak-exif`. The metadata stripping
//! is written here at the byte level, because it must keep the image data untouched:
//! - JPEG: APP1 (EXIF, XMP), APP13 (Photoshop/IPTC) and COM segments are dropped;
//!   a photo turned by its EXIF orientation keeps a minimal EXIF block holding only the
//!   orientation, so the public copy still shows upright;
//! - PNG: `eXIf`, `tEXt`, `iTXt`, `zTXt` and `tIME` chunks are dropped;
//! - WebP: `EXIF` and `XMP ` chunks are dropped, the VP8X flags for them cleared and the
//!   RIFF size fixed.

use std::io::Cursor;

/// Largest width or height accepted, in pixels.
pub const MAX_SIDE: u32 = 12_000;
/// Most memory a decode may allocate.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// The formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    WebP,
}

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::WebP => "image/webp",
        }
    }

    pub fn ext(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::WebP => "webp",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::WebP => "WebP",
        }
    }

    /// The format a MIME type names (`image/jpeg`, `image/png`, `image/webp`).
    pub fn from_mime(mime: &str) -> Option<Format> {
        let m = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match m.as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Format::Jpeg),
            "image/png" => Some(Format::Png),
            "image/webp" => Some(Format::WebP),
            _ => None,
        }
    }

    /// The format the magic number says, if any.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Format::WebP)
        } else {
            None
        }
    }

    fn image_format(self) -> image::ImageFormat {
        match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
            Format::WebP => image::ImageFormat::WebP,
        }
    }
}

/// Why bytes are not an acceptable photo. Every variant is the uploader's problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("is not a JPEG, PNG or WebP image (judged by its content)")]
    NotAnImage,
    #[error("is declared as {declared} but its content is {actual}")]
    TypeMismatch {
        declared: String,
        actual: &'static str,
    },
    #[error("is not a valid {format} image: {reason}")]
    Corrupt {
        format: &'static str,
        reason: String,
    },
    #[error("is too large in pixels (at most {MAX_SIDE} per side)")]
    TooManyPixels,
    #[error("is empty")]
    Empty,
}

/// What the content of an accepted photo says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspected {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    /// EXIF GPS (lat, lon) in degrees, when present and plausible.
    pub gps: Option<(f64, f64)>,
    /// EXIF orientation 1–8, when present.
    pub orientation: Option<u16>,
}

/// Checks that `bytes` are a whole JPEG, PNG or WebP image and reads its facts.
/// `declared` is the MIME type the client claimed; an image type that disagrees with the
/// content is refused, other claims (`application/octet-stream`) are ignored.
pub fn inspect(bytes: &[u8], declared: Option<&str>) -> Result<Inspected, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    let format = Format::sniff(bytes).ok_or(MediaError::NotAnImage)?;
    if let Some(d) = declared {
        let d = d
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let claims_image = d.starts_with("image/");
        if claims_image && Format::from_mime(&d) != Some(format) {
            return Err(MediaError::TypeMismatch {
                declared: d,
                actual: format.mime(),
            });
        }
    }
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => MediaError::TooManyPixels,
        other => MediaError::Corrupt {
            format: format.name(),
            reason: other.to_string(),
        },
    };
    let reader = || {
        let mut r = image::ImageReader::with_format(Cursor::new(bytes), format.image_format());
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        limits.max_alloc = Some(MAX_DECODE_BYTES);
        r.limits(limits);
        r
    };
    let (width, height) = reader().into_dimensions().map_err(corrupt)?;
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt {
            format: format.name(),
            reason: "zero size".into(),
        });
    }
    // A real decode: a file that only starts like an image is refused here.
    reader().decode().map_err(corrupt)?;
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok();
    Ok(Inspected {
        format,
        width,
        height,
        gps: exif.as_ref().and_then(gps),
        orientation: exif.as_ref().and_then(orientation),
    })
}

fn orientation(e: &exif::Exif) -> Option<u16> {
    let f = e.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?;
    let v = f.value.get_uint(0)?;
    u16::try_from(v).ok().filter(|o| (1..=8).contains(o))
}

/// Degrees from EXIF's (degrees, minutes, seconds) rationals and its N/S or E/W reference.
fn coordinate(e: &exif::Exif, value: exif::Tag, reference: exif::Tag, negative: u8) -> Option<f64> {
    let f = e.get_field(value, exif::In::PRIMARY)?;
    let exif::Value::Rational(parts) = &f.value else {
        return None;
    };
    let mut deg = 0.0;
    for (i, r) in parts.iter().take(3).enumerate() {
        if r.denom == 0 {
            return None;
        }
        deg += r.to_f64() / [1.0, 60.0, 3600.0][i];
    }
    let sign = match e.get_field(reference, exif::In::PRIMARY).map(|f| &f.value) {
        Some(exif::Value::Ascii(v)) if v.first().and_then(|s| s.first()) == Some(&negative) => -1.0,
        _ => 1.0,
    };
    Some(sign * deg).filter(|d| d.is_finite())
}

fn gps(e: &exif::Exif) -> Option<(f64, f64)> {
    let lat = coordinate(e, exif::Tag::GPSLatitude, exif::Tag::GPSLatitudeRef, b'S')?;
    let lon = coordinate(e, exif::Tag::GPSLongitude, exif::Tag::GPSLongitudeRef, b'W')?;
    (lat.abs() <= 90.0 && lon.abs() <= 180.0).then_some((lat, lon))
}

/// A copy of the image without its metadata (see the module comment for what goes).
/// `orientation` (from [`inspect`]) is kept for JPEG so the copy is not shown turned.
pub fn strip_metadata(
    format: Format,
    bytes: &[u8],
    orientation: Option<u16>,
) -> Result<Vec<u8>, MediaError> {
    match format {
        Format::Jpeg => strip_jpeg(bytes, orientation),
        Format::Png => strip_png(bytes),
        Format::WebP => strip_webp(bytes),
    }
}

fn bad(format: Format, reason: &str) -> MediaError {
    MediaError::Corrupt {
        format: format.name(),
        reason: reason.into(),
    }
}

/// A JPEG APP1 segment holding an EXIF block with only the orientation tag.
fn orientation_app1(orientation: u16) -> Vec<u8> {
    let mut payload = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    payload.extend_from_slice(&1u16.to_be_bytes()); // one entry
    payload.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    payload.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    payload.extend_from_slice(&1u32.to_be_bytes()); // count
    payload.extend_from_slice(&orientation.to_be_bytes());
    payload.extend_from_slice(&[0, 0]); // value padding
    payload.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(&payload);
    seg
}

fn strip_jpeg(b: &[u8], orientation: Option<u16>) -> Result<Vec<u8>, MediaError> {
    let f = Format::Jpeg;
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err(bad(f, "no start-of-image marker"));
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    if let Some(o) = orientation.filter(|o| (2..=8).contains(o)) {
        out.extend_from_slice(&orientation_app1(o));
    }
    let mut i = 2;
    loop {
        if i >= b.len() {
            // Some encoders omit the end marker; the decode already accepted the data.
            return Ok(out);
        }
        if b[i] != 0xFF {
            return Err(bad(f, "a segment does not start with a marker"));
        }
        let mut j = i;
        while j < b.len() && b[j] == 0xFF {
            j += 1;
        }
        let Some(&marker) = b.get(j) else {
            return Err(bad(f, "truncated marker"));
        };
        match marker {
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                return Ok(out);
            }
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&[0xFF, marker]);
                i = j + 1;
                continue;
            }
            _ => {}
        }
        let len = match b.get(j + 1..j + 3) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return Err(bad(f, "truncated segment length")),
        };
        let end = j + 1 + len;
        if len < 2 || end > b.len() {
            return Err(bad(f, "a segment runs past the end"));
        }
        // APP1 = EXIF and XMP, APP13 = Photoshop/IPTC, COM = free text.
        let drop = matches!(marker, 0xE1 | 0xED | 0xFE);
        if !drop {
            out.push(0xFF);
            out.extend_from_slice(&b[j..end]);
        }
        i = end;
        if marker == 0xDA {
            // Entropy-coded data follows until the next real marker (0xFF followed by
            // something other than a stuffed 0x00, a restart marker or fill).
            let mut k = i;
            while k + 1 < b.len() {
                if b[k] == 0xFF && !matches!(b[k + 1], 0x00 | 0xD0..=0xD7 | 0xFF) {
                    break;
                }
                k += 1;
            }
            if k + 1 >= b.len() {
                k = b.len();
            }
            out.extend_from_slice(&b[i..k]);
            i = k;
        }
    }
}

fn strip_png(b: &[u8]) -> Result<Vec<u8>, MediaError> {
    let f = Format::Png;
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !b.starts_with(SIG) {
        return Err(bad(f, "no PNG signature"));
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(SIG);
    let mut i = SIG.len();
    loop {
        let Some(head) = b.get(i..i + 8) else {
            return Err(bad(f, "no IEND chunk"));
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let end = i
            .checked_add(12)
            .and_then(|x| x.checked_add(len))
            .filter(|&e| e <= b.len())
            .ok_or_else(|| bad(f, "a chunk runs past the end"))?;
        let drop = matches!(kind, b"eXIf" | b"tEXt" | b"iTXt" | b"zTXt" | b"tIME");
        if !drop {
            out.extend_from_slice(&b[i..end]);
        }
        i = end;
        if kind == b"IEND" {
            return Ok(out);
        }
    }
}

fn strip_webp(b: &[u8]) -> Result<Vec<u8>, MediaError> {
    let f = Format::WebP;
    if b.len() < 12 || &b[..4] != b"RIFF" || &b[8..12] != b"WEBP" {
        return Err(bad(f, "no RIFF/WEBP header"));
    }
    let riff_end = (u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize)
        .saturating_add(8)
        .min(b.len());
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..12]);
    let mut i = 12;
    while i + 8 <= riff_end {
        let kind = &b[i..i + 4];
        let len = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
        let padded = len + (len & 1);
        let end = (i + 8)
            .checked_add(padded)
            .ok_or_else(|| bad(f, "a chunk runs past the end"))?;
        // An odd last chunk may lack its padding byte.
        let end = if end == riff_end + 1 && len & 1 == 1 {
            riff_end
        } else {
            end
        };
        if end > riff_end {
            return Err(bad(f, "a chunk runs past the end"));
        }
        match kind {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => {
                let at = out.len();
                out.extend_from_slice(&b[i..end]);
                if len >= 1 {
                    // Flags byte: bit 3 = EXIF present, bit 2 = XMP present.
                    out[at + 8] &= !0b0000_1100;
                }
            }
            _ => {
                out.extend_from_slice(&b[i..end]);
                if end - i < 8 + padded {
                    out.push(0);
                }
            }
        }
        i = end;
    }
    let size = u32::try_from(out.len() - 8).map_err(|_| bad(f, "too large"))?;
    out[4..8].copy_from_slice(&size.to_le_bytes());
    Ok(out)
}

/// Builders of small images with metadata, for tests and the demo. They produce exactly
/// what a phone camera would put in a file, so the stripping is tested on real layouts.
pub mod samples {
    use std::io::Cursor;

    /// A TIFF (EXIF) block, big-endian, with the orientation and a GPS position given as
    /// degrees/minutes/seconds rationals, exactly as cameras write it.
    pub fn exif_tiff(lat: f64, lon: f64, orientation: u16) -> Vec<u8> {
        fn dms(x: f64) -> [(u32, u32); 3] {
            let x = x.abs();
            let d = x.trunc();
            let m = ((x - d) * 60.0).trunc();
            let s = ((x - d) * 60.0 - m) * 60.0;
            [
                (d as u32, 1),
                (m as u32, 1),
                ((s * 10_000.0).round() as u32, 10_000),
            ]
        }
        let mut t = b"MM\0\x2a\0\0\0\x08".to_vec();
        let entry = |t: &mut Vec<u8>, tag: u16, typ: u16, count: u32, value: [u8; 4]| {
            t.extend_from_slice(&tag.to_be_bytes());
            t.extend_from_slice(&typ.to_be_bytes());
            t.extend_from_slice(&count.to_be_bytes());
            t.extend_from_slice(&value);
        };
        // IFD0 at 8: orientation and the GPS IFD pointer (2 entries = 30 bytes).
        let gps_at: u32 = 8 + 30;
        t.extend_from_slice(&2u16.to_be_bytes());
        let o = orientation.to_be_bytes();
        entry(&mut t, 0x0112, 3, 1, [o[0], o[1], 0, 0]);
        entry(&mut t, 0x8825, 4, 1, gps_at.to_be_bytes());
        t.extend_from_slice(&0u32.to_be_bytes());
        // GPS IFD: 4 entries = 54 bytes; the rationals follow it.
        let rationals_at = gps_at + 54;
        t.extend_from_slice(&4u16.to_be_bytes());
        let ns = if lat < 0.0 { b'S' } else { b'N' };
        let ew = if lon < 0.0 { b'W' } else { b'E' };
        entry(&mut t, 0x0001, 2, 2, [ns, 0, 0, 0]);
        entry(&mut t, 0x0002, 5, 3, rationals_at.to_be_bytes());
        entry(&mut t, 0x0003, 2, 2, [ew, 0, 0, 0]);
        entry(&mut t, 0x0004, 5, 3, (rationals_at + 24).to_be_bytes());
        t.extend_from_slice(&0u32.to_be_bytes());
        for (n, d) in dms(lat).into_iter().chain(dms(lon)) {
            t.extend_from_slice(&n.to_be_bytes());
            t.extend_from_slice(&d.to_be_bytes());
        }
        t
    }

    /// A small gradient picture, so every format has real pixel data.
    fn picture(w: u32, h: u32) -> image::RgbImage {
        image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 128])
        })
    }

    /// A JPEG; with `gps`, an EXIF APP1 segment (orientation 6 and that position) and an
    /// XMP APP1 segment follow the start marker, as in a phone photo.
    pub fn jpeg(w: u32, h: u32, gps: Option<(f64, f64)>) -> Vec<u8> {
        let mut plain = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 85);
        picture(w, h)
            .write_with_encoder(enc)
            .unwrap_or_else(|e| panic!("encoding a sample JPEG: {e}"));
        let Some((lat, lon)) = gps else {
            return plain;
        };
        let mut out = plain[..2].to_vec();
        let mut app1 = |payload: &[u8]| {
            out.extend_from_slice(&[0xFF, 0xE1]);
            out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
            out.extend_from_slice(payload);
        };
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend_from_slice(&exif_tiff(lat, lon, 6));
        app1(&exif);
        app1(XMP.as_bytes());
        out.extend_from_slice(&plain[2..]);
        out
    }

    /// XMP packet as cameras embed it, with a GPS position in it too.
    pub const XMP: &str = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description xmlns:exif=\"http://ns.adobe.com/exif/1.0/\" exif:GPSLatitude=\"34,45.018N\"/></rdf:RDF></x:xmpmeta>";

    /// A PNG; with `gps`, an `eXIf` chunk and a `tEXt` chunk before the image data.
    pub fn png(w: u32, h: u32, gps: Option<(f64, f64)>) -> Vec<u8> {
        let mut plain = Vec::new();
        picture(w, h)
            .write_to(&mut Cursor::new(&mut plain), image::ImageFormat::Png)
            .unwrap_or_else(|e| panic!("encoding a sample PNG: {e}"));
        let Some((lat, lon)) = gps else {
            return plain;
        };
        // Signature (8) + IHDR (8 + 13 + 4).
        let split = 8 + 25;
        let mut out = plain[..split].to_vec();
        push_png_chunk(&mut out, b"eXIf", &exif_tiff(lat, lon, 1));
        push_png_chunk(&mut out, b"tEXt", b"Comment\0taken at home");
        out.extend_from_slice(&plain[split..]);
        out
    }

    fn push_png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    /// A lossless WebP; with `gps`, in the extended layout (VP8X with the EXIF and XMP
    /// flags set, then the image, then `EXIF` and `XMP ` chunks).
    pub fn webp(w: u32, h: u32, gps: Option<(f64, f64)>) -> Vec<u8> {
        let mut plain = Vec::new();
        let enc = image::codecs::webp::WebPEncoder::new_lossless(&mut plain);
        picture(w, h)
            .write_with_encoder(enc)
            .unwrap_or_else(|e| panic!("encoding a sample WebP: {e}"));
        let Some((lat, lon)) = gps else {
            return plain;
        };
        fn chunk(body: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            body.extend_from_slice(kind);
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut body = b"WEBP".to_vec();
        let mut vp8x = vec![0b0000_1100, 0, 0, 0];
        vp8x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
        vp8x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
        chunk(&mut body, b"VP8X", &vp8x);
        body.extend_from_slice(&plain[12..]);
        chunk(&mut body, b"EXIF", &exif_tiff(lat, lon, 1));
        chunk(&mut body, b"XMP ", XMP.as_bytes());
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: (f64, f64) = (34.7503, 113.6615);

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    fn assert_clean(public: &[u8]) {
        let exif = exif::Reader::new().read_from_container(&mut Cursor::new(public));
        if let Ok(e) = exif {
            assert!(gps(&e).is_none(), "GPS survived");
            assert!(e.fields().all(|f| f.tag.context() != exif::Context::Gps));
        }
        assert!(!contains(public, b"xmpmeta"), "XMP survived");
        assert!(!contains(public, b"taken at home"), "text survived");
    }

    #[test]
    fn each_format_is_recognised_by_content_with_its_size_and_gps() {
        for (bytes, format) in [
            (samples::jpeg(40, 30, Some(HERE)), Format::Jpeg),
            (samples::png(40, 30, Some(HERE)), Format::Png),
            (samples::webp(40, 30, Some(HERE)), Format::WebP),
        ] {
            let got = inspect(&bytes, None).unwrap();
            assert_eq!(got.format, format);
            assert_eq!((got.width, got.height), (40, 30), "{format:?}");
            let (lat, lon) = got.gps.unwrap_or_else(|| panic!("{format:?} GPS"));
            assert!(
                (lat - HERE.0).abs() < 1e-6 && (lon - HERE.1).abs() < 1e-6,
                "{lat} {lon}"
            );
        }
    }

    #[test]
    fn southern_and_western_positions_are_negative() {
        let got = inspect(&samples::jpeg(8, 8, Some((-33.8688, -70.5))), None).unwrap();
        let (lat, lon) = got.gps.unwrap();
        assert!((lat + 33.8688).abs() < 1e-6 && (lon + 70.5).abs() < 1e-6);
    }

    #[test]
    fn text_renamed_or_declared_as_an_image_is_refused() {
        let text = b"GIF89a? no: plain text pretending to be a photo".to_vec();
        assert_eq!(
            inspect(&text, Some("image/jpeg")),
            Err(MediaError::NotAnImage)
        );
        assert_eq!(inspect(&[], None), Err(MediaError::Empty));
        // Right magic number, then garbage: the decode refuses it.
        let mut fake = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        fake.extend_from_slice(b"JFIF\0 and then nothing an image needs");
        assert!(matches!(
            inspect(&fake, None),
            Err(MediaError::Corrupt { format: "JPEG", .. })
        ));
        let mut png = samples::png(16, 16, None);
        png.truncate(png.len() / 2);
        assert!(matches!(
            inspect(&png, None),
            Err(MediaError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_declared_image_type_must_match_the_content() {
        let png = samples::png(4, 4, None);
        assert!(matches!(
            inspect(&png, Some("image/jpeg")),
            Err(MediaError::TypeMismatch {
                actual: "image/png",
                ..
            })
        ));
        assert!(inspect(&png, Some("image/png")).is_ok());
        assert!(inspect(&png, Some("application/octet-stream")).is_ok());
    }

    #[test]
    fn stripping_removes_gps_and_text_and_keeps_the_picture() {
        for bytes in [
            samples::jpeg(40, 30, Some(HERE)),
            samples::png(40, 30, Some(HERE)),
            samples::webp(40, 30, Some(HERE)),
        ] {
            let info = inspect(&bytes, None).unwrap();
            let public = strip_metadata(info.format, &bytes, info.orientation).unwrap();
            assert_clean(&public);
            let again = inspect(&public, None).unwrap();
            assert_eq!((again.width, again.height, again.gps), (40, 30, None));
            assert!(public.len() < bytes.len());
            let a = image::load_from_memory(&bytes).unwrap().to_rgb8();
            let b = image::load_from_memory(&public).unwrap().to_rgb8();
            assert_eq!(a, b, "{:?}: the pixels are unchanged", info.format);
        }
    }

    #[test]
    fn a_turned_jpeg_keeps_only_its_orientation() {
        let bytes = samples::jpeg(20, 10, Some(HERE));
        let info = inspect(&bytes, None).unwrap();
        assert_eq!(info.orientation, Some(6));
        let public = strip_metadata(Format::Jpeg, &bytes, info.orientation).unwrap();
        let e = exif::Reader::new()
            .read_from_container(&mut Cursor::new(&public))
            .unwrap();
        assert_eq!(e.fields().count(), 1);
        assert_eq!(orientation(&e), Some(6));
    }

    #[test]
    fn the_webp_header_is_consistent_after_stripping() {
        let public = strip_metadata(Format::WebP, &samples::webp(9, 7, Some(HERE)), None).unwrap();
        let riff = u32::from_le_bytes([public[4], public[5], public[6], public[7]]) as usize;
        assert_eq!(riff, public.len() - 8);
        assert_eq!(&public[12..16], b"VP8X");
        assert_eq!(public[20] & 0b1100, 0, "EXIF and XMP flags cleared");
        assert!(!contains(&public, b"EXIF"));
    }

    #[test]
    fn images_without_metadata_pass_through_unchanged() {
        for (bytes, format) in [
            (samples::jpeg(8, 8, None), Format::Jpeg),
            (samples::png(8, 8, None), Format::Png),
            (samples::webp(8, 8, None), Format::WebP),
        ] {
            assert_eq!(strip_metadata(format, &bytes, None).unwrap(), bytes);
        }
    }

    #[test]
    fn truncated_segments_are_errors_not_panics() {
        let jpeg = samples::jpeg(8, 8, Some(HERE));
        for cut in [3, 5, 20, 100] {
            let _ = strip_jpeg(&jpeg[..cut.min(jpeg.len())], None);
        }
        assert!(strip_png(b"\x89PNG\r\n\x1a\n\0\0\0\xffIHDR").is_err());
        assert!(strip_webp(b"RIFF\xff\0\0\0WEBPVP8X\xff\0\0\0").is_err());
    }
}
