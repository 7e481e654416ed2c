//! Photo content, judged by the bytes alone: which format they are (magic number *and* a
//! real decode, never the file name or the declared type), their size in pixels, the
//! EXIF GPS position, and a public copy with the metadata removed.
//!
//! Pure functions over byte slices (no files, no clock). An upload is judged in two steps,
//! so that a hostile file costs no more than reading it:
//! 1. [`check`], a byte scan of the container without decoding anything: the dimensions
//!    from the header (PNG `IHDR`, JPEG `SOFn`, WebP `VP8X`/`VP8 `/`VP8L`/`ANMF`), the
//!    decoded-pixel budget and an estimate of the memory the decode will need, the colour
//!    profile's size (PNG `iCCP` inflated with a cap, WebP `ICCP`, JPEG APP2
//!    `ICC_PROFILE`) and the metadata's size (EXIF, XMP, PNG text chunks, JPEG APPn and
//!    comments), each against [`Limits`];
//! 2. [`decode`], the full decode (`image` crate, with its own width, height and
//!    allocation limits as a second line) and EXIF reading (`kamadak-exif`).
//!
//! The metadata stripping is written here at the byte level, because it must keep the
//! image data untouched:
//! - JPEG: APP1 (EXIF, XMP), APP13 (Photoshop/IPTC) and COM segments are dropped;
//!   a photo turned by its EXIF orientation keeps a minimal EXIF block holding only the
//!   orientation, so the public copy still shows upright;
//! - PNG: `eXIf`, `tEXt`, `iTXt`, `zTXt` and `tIME` chunks are dropped;
//! - WebP: `EXIF` and `XMP ` chunks are dropped, the VP8X flags for them cleared and the
//!   RIFF size fixed.

use std::io::{Cursor, Read};

const MIB: u64 = 1024 * 1024;

/// What an upload's content is judged against (docs/API-DESIGN.md, "Limits"; each is
/// configurable where the server is started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest width or height, in pixels.
    pub max_side: u32,
    /// Most pixels (width × height).
    pub max_pixels: u64,
    /// Most memory one decode may need: checked against an estimate from the header
    /// before decoding, and given to the `image` crate as its allocation limit.
    pub max_decode_bytes: u64,
    /// Largest colour profile (ICC), decompressed.
    pub max_icc_bytes: u64,
    /// Most metadata in one file: EXIF, XMP, PNG text chunks, JPEG APPn segments (other
    /// than the ICC profile's) and comments, counted as stored.
    pub max_metadata_bytes: u64,
}

/// The defaults: 12,000 px per side, 50 megapixels (a 50 MP phone photo is 8160×6120),
/// 512 MiB per decode, a 1 MiB colour profile (common ones are 0.5–4 KiB), 1 MiB of
/// metadata (EXIF is at most 64 KiB in a JPEG). Our choices, not a standard's.
pub const DEFAULT_LIMITS: Limits = Limits {
    max_side: 12_000,
    max_pixels: 50_000_000,
    max_decode_bytes: 512 * MIB,
    max_icc_bytes: MIB,
    max_metadata_bytes: MIB,
};

impl Default for Limits {
    fn default() -> Self {
        DEFAULT_LIMITS
    }
}

/// A byte count as configured: a whole number, optionally followed by `KiB`, `MiB` or
/// `GiB` (`512MiB`, `65536`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("{s:?}: a whole number of bytes, optionally with KiB, MiB or GiB");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1024,
        "MiB" | "M" => MIB,
        "GiB" | "G" => 1024 * MIB,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

/// A byte count for people: `512 MiB`, `64 KiB`, `1000 bytes`.
fn human(n: u64) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

fn megapixels(n: &u64) -> String {
    let mp = *n as f64 / 1e6;
    if mp.fract() == 0.0 {
        format!("{mp:.0}")
    } else {
        format!("{mp:.1}")
    }
}

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
    #[error(
        "is too large in pixels: {width}×{height}; at most {max_side} per side and {} megapixels",
        megapixels(max_pixels)
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
    #[error(
        "would need about {} of memory to decode ({width}×{height} {format}); at most {}",
        human(*needed),
        human(*budget)
    )]
    DecodeBudget {
        format: &'static str,
        width: u32,
        height: u32,
        needed: u64,
        budget: u64,
    },
    #[error("has a colour profile (ICC) larger than {}", human(*max))]
    ColourProfileTooLarge { max: u64 },
    #[error(
        "carries more than {} of metadata (EXIF, XMP, text chunks, JPEG APPn segments)",
        human(*max)
    )]
    MetadataTooLarge { max: u64 },
    #[error("is empty")]
    Empty,
}

/// What the container says about itself, read by [`check`] without decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    /// The estimate of the memory the decode needs (output buffer and the decoder's own
    /// full-size buffers), in bytes.
    pub decode_bytes: u64,
    /// The colour profile's size, decompressed.
    pub icc_bytes: u64,
    /// The metadata's size, as stored.
    pub metadata_bytes: u64,
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

/// Checks that `bytes` are a whole JPEG, PNG or WebP image within the default limits and
/// reads its facts ([`check`] then [`decode`]).
pub fn inspect(bytes: &[u8], declared: Option<&str>) -> Result<Inspected, MediaError> {
    inspect_with(bytes, declared, &DEFAULT_LIMITS)
}

/// [`inspect`] against the given limits.
pub fn inspect_with(
    bytes: &[u8],
    declared: Option<&str>,
    limits: &Limits,
) -> Result<Inspected, MediaError> {
    let header = check(bytes, declared, limits)?;
    decode(bytes, &header, limits)
}

/// The cheap step: format by magic number, the declared type against it, then a scan of
/// the container (no decoding; memory used is a few KiB whatever the file says) that
/// refuses dimensions, pixels, decode memory, colour profile or metadata over `limits`.
/// `declared` is the MIME type the client claimed; an image type that disagrees with the
/// content is refused, other claims (`application/octet-stream`) are ignored.
pub fn check(bytes: &[u8], declared: Option<&str>, limits: &Limits) -> Result<Header, MediaError> {
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
    let mut budget = Budget {
        limits,
        icc: 0,
        metadata: 0,
    };
    let scanned = match format {
        Format::Jpeg => scan_jpeg(bytes, &mut budget)?,
        Format::Png => scan_png(bytes, &mut budget)?,
        Format::WebP => scan_webp(bytes, &mut budget)?,
    };
    let (width, height) = (scanned.width, scanned.height);
    if width == 0 || height == 0 {
        return Err(bad(format, "zero size"));
    }
    let pixels = u64::from(width) * u64::from(height);
    if width > limits.max_side || height > limits.max_side || pixels > limits.max_pixels {
        return Err(MediaError::TooManyPixels {
            width,
            height,
            max_side: limits.max_side,
            max_pixels: limits.max_pixels,
        });
    }
    let decode_bytes = pixels.saturating_mul(scanned.bytes_per_pixel);
    if decode_bytes > limits.max_decode_bytes {
        return Err(MediaError::DecodeBudget {
            format: format.name(),
            width,
            height,
            needed: decode_bytes,
            budget: limits.max_decode_bytes,
        });
    }
    Ok(Header {
        format,
        width,
        height,
        decode_bytes,
        icc_bytes: budget.icc,
        metadata_bytes: budget.metadata,
    })
}

/// The expensive step, after [`check`] accepted `header`: a real decode (a file that only
/// starts like an image is refused here) and the EXIF facts.
pub fn decode(bytes: &[u8], header: &Header, limits: &Limits) -> Result<Inspected, MediaError> {
    let format = header.format;
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => MediaError::DecodeBudget {
            format: format.name(),
            width: header.width,
            height: header.height,
            needed: header.decode_bytes.max(limits.max_decode_bytes + 1),
            budget: limits.max_decode_bytes,
        },
        other => MediaError::Corrupt {
            format: format.name(),
            reason: other.to_string(),
        },
    };
    let reader = || {
        let mut r = image::ImageReader::with_format(Cursor::new(bytes), format.image_format());
        let mut l = image::Limits::default();
        l.max_image_width = Some(limits.max_side);
        l.max_image_height = Some(limits.max_side);
        l.max_alloc = Some(limits.max_decode_bytes);
        r.limits(l);
        r
    };
    let (width, height) = reader().into_dimensions().map_err(corrupt)?;
    if (width, height) != (header.width, header.height) {
        // The scan read other dimensions than the decoder: refuse rather than guess
        // which one the budget should have been checked against.
        return Err(bad(
            format,
            &format!(
                "the header says {}×{} but the image data {width}×{height}",
                header.width, header.height
            ),
        ));
    }
    drop(reader().decode().map_err(corrupt)?);
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

/// The colour-profile and metadata bytes counted so far, refused as soon as they pass
/// their limit.
struct Budget<'a> {
    limits: &'a Limits,
    icc: u64,
    metadata: u64,
}

impl Budget<'_> {
    fn icc(&mut self, n: u64) -> Result<(), MediaError> {
        self.icc = self.icc.saturating_add(n);
        if self.icc > self.limits.max_icc_bytes {
            return Err(MediaError::ColourProfileTooLarge {
                max: self.limits.max_icc_bytes,
            });
        }
        Ok(())
    }

    fn metadata(&mut self, n: u64) -> Result<(), MediaError> {
        self.metadata = self.metadata.saturating_add(n);
        if self.metadata > self.limits.max_metadata_bytes {
            return Err(MediaError::MetadataTooLarge {
                max: self.limits.max_metadata_bytes,
            });
        }
        Ok(())
    }

    /// The room left for the colour profile (what an inflate may produce before the
    /// limit is passed).
    fn icc_room(&self) -> u64 {
        self.limits.max_icc_bytes.saturating_sub(self.icc)
    }
}

/// What a container scan found: the largest dimensions any header in it names, and the
/// bytes per pixel the decode of that format needs at most (see each scanner).
struct Scanned {
    width: u32,
    height: u32,
    bytes_per_pixel: u64,
}

fn be16(b: &[u8]) -> u32 {
    u32::from(u16::from_be_bytes([b[0], b[1]]))
}

fn le24(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], 0])
}

/// Walks the JPEG segments (and skips the entropy-coded data after each SOS) to the end:
/// the first frame header's size and component count, APP2 `ICC_PROFILE` parts as the
/// colour profile, every other APPn and COM segment as metadata.
///
/// Memory per pixel (zune-jpeg): the output (3 bytes, 1 for greyscale) and the
/// component planes (1 byte each); a progressive frame also keeps every DCT coefficient
/// (2 bytes per component).
fn scan_jpeg(b: &[u8], budget: &mut Budget) -> Result<Scanned, MediaError> {
    let f = Format::Jpeg;
    let mut frame: Option<Scanned> = None;
    let mut i = 2;
    while i < b.len() {
        if b[i] != 0xFF {
            return Err(bad(f, "a segment does not start with a marker"));
        }
        let mut j = i;
        while j < b.len() && b[j] == 0xFF {
            j += 1;
        }
        let Some(&marker) = b.get(j) else {
            break;
        };
        match marker {
            0xD9 => break,
            0x01 | 0xD0..=0xD7 => {
                i = j + 1;
                continue;
            }
            _ => {}
        }
        let len = match b.get(j + 1..j + 3) {
            Some(l) => be16(l) as usize,
            None => return Err(bad(f, "truncated segment length")),
        };
        let end = j + 1 + len;
        if len < 2 || end > b.len() {
            return Err(bad(f, "a segment runs past the end"));
        }
        let payload = &b[j + 3..end];
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if payload.len() < 6 {
                    return Err(bad(f, "a frame header is too short"));
                }
                if frame.is_none() {
                    let components = u64::from(payload[5]).max(1);
                    let progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                    let output = if components == 1 { 1 } else { 3 };
                    let coefficients = if progressive { 2 * components } else { 0 };
                    frame = Some(Scanned {
                        height: be16(&payload[1..3]),
                        width: be16(&payload[3..5]),
                        bytes_per_pixel: output + components + coefficients,
                    });
                }
            }
            0xE2 if payload.starts_with(b"ICC_PROFILE\0") => {
                // Marker, sequence number and count (14 bytes), then the profile's part.
                budget.icc(payload.len().saturating_sub(14) as u64)?;
            }
            0xE0..=0xEF | 0xFE => budget.metadata(payload.len() as u64)?,
            _ => {}
        }
        i = end;
        if marker == 0xDA {
            // Entropy-coded data until the next real marker (0xFF followed by something
            // other than a stuffed 0x00, a restart marker or fill).
            let mut k = i;
            while k + 1 < b.len() {
                if b[k] == 0xFF && !matches!(b[k + 1], 0x00 | 0xD0..=0xD7 | 0xFF) {
                    break;
                }
                k += 1;
            }
            if k + 1 >= b.len() {
                break;
            }
            i = k;
        }
    }
    frame.ok_or_else(|| bad(f, "no frame header"))
}

/// Walks the PNG chunks to `IEND`: `IHDR` first, `iCCP` inflated (with a cap, into a
/// small buffer that is thrown away) to learn the profile's real size, `eXIf`, `tEXt`,
/// `zTXt` and `iTXt` as metadata.
///
/// Memory per pixel: the output buffer, 1 or 2 bytes per channel (palette and `tRNS`
/// expanded to RGB(A), sub-byte depths to a byte), plus one byte for the decoder's rows.
fn scan_png(b: &[u8], budget: &mut Budget) -> Result<Scanned, MediaError> {
    let f = Format::Png;
    let mut i = 8;
    let mut ihdr: Option<(u32, u32, u8, u8)> = None;
    let mut transparency = false;
    loop {
        let Some(head) = b.get(i..i + 8) else {
            return Err(bad(f, "no IEND chunk"));
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind: [u8; 4] = [head[4], head[5], head[6], head[7]];
        let data = i
            .checked_add(8 + len)
            .and_then(|end| b.get(i + 8..end))
            .ok_or_else(|| bad(f, "a chunk runs past the end"))?;
        if ihdr.is_none() && &kind != b"IHDR" {
            return Err(bad(f, "the first chunk is not IHDR"));
        }
        match &kind {
            b"IHDR" if ihdr.is_none() => {
                if data.len() != 13 {
                    return Err(bad(f, "IHDR is not 13 bytes"));
                }
                let w = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                let h = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                ihdr = Some((w, h, data[8], data[9]));
            }
            b"iCCP" => {
                // Profile name (1–79 bytes), NUL, compression method, zlib stream.
                let stream = data
                    .iter()
                    .position(|&c| c == 0)
                    .and_then(|nul| data.get(nul + 2..))
                    .unwrap_or(&[]);
                budget.icc(inflated_len(stream, budget.icc_room()))?;
            }
            b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" => budget.metadata(len as u64)?,
            b"tRNS" => transparency = true,
            b"IEND" => break,
            _ => {}
        }
        i += 12 + len;
    }
    let (width, height, depth, colour) = ihdr.ok_or_else(|| bad(f, "no IHDR chunk"))?;
    let channels: u64 = match colour {
        0 => 1,
        2 => 3,
        3 => 3,
        4 => 2,
        6 => 4,
        _ => return Err(bad(f, "unknown colour type")),
    };
    let channels = if transparency && matches!(colour, 0 | 2 | 3) {
        channels + 1
    } else {
        channels
    };
    let sample = if depth == 16 { 2 } else { 1 };
    Ok(Scanned {
        width,
        height,
        bytes_per_pixel: channels * sample + 1,
    })
}

/// How many bytes a zlib stream inflates to, counting at most `cap + 1` of them: the
/// output goes through an 8 KiB buffer, so a bomb costs CPU up to the cap, never memory.
/// A broken stream counts what it produced before breaking (the decoder ignores it).
fn inflated_len(zlib: &[u8], cap: u64) -> u64 {
    let mut inflater = flate2::read::ZlibDecoder::new(zlib).take(cap.saturating_add(1));
    let mut buf = [0u8; 8192];
    let mut total = 0u64;
    loop {
        match inflater.read(&mut buf) {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n as u64,
        }
    }
}

/// Walks the RIFF chunks: the canvas (`VP8X`), each bitstream's own size (`VP8 `,
/// `VP8L`, and the frames of an animation, `ANMF`, with the bitstreams inside them),
/// `ICCP` as the colour profile, `EXIF` and `XMP ` as metadata. The largest width and
/// height any of them names is what the limits are checked against.
///
/// Memory per pixel (image-webp): the output (4 bytes at most) and a full-size ARGB or
/// YUV working buffer (4 bytes at most); an animation composes on a canvas of its own
/// (4 more).
fn scan_webp(b: &[u8], budget: &mut Budget) -> Result<Scanned, MediaError> {
    let f = Format::WebP;
    let riff_end = (u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize)
        .saturating_add(8)
        .min(b.len());
    let mut dims = Dims::default();
    let mut animated = false;
    let mut i = 12;
    while i + 8 <= riff_end {
        let kind: [u8; 4] = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        let len = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
        let data = b
            .get(i + 8..(i + 8).saturating_add(len))
            .filter(|_| i + 8 + len <= riff_end)
            .ok_or_else(|| bad(f, "a chunk runs past the end"))?;
        match &kind {
            b"VP8X" if data.len() >= 10 => {
                animated = data[0] & 0b0000_0010 != 0;
                dims.add(le24(&data[4..7]) + 1, le24(&data[7..10]) + 1);
            }
            b"ANMF" if data.len() >= 16 => {
                animated = true;
                dims.add(le24(&data[6..9]) + 1, le24(&data[9..12]) + 1);
                let mut k = 16;
                while k + 8 <= data.len() {
                    let sub: [u8; 4] = [data[k], data[k + 1], data[k + 2], data[k + 3]];
                    let n = u32::from_le_bytes([data[k + 4], data[k + 5], data[k + 6], data[k + 7]])
                        as usize;
                    let body = data.get(k + 8..(k + 8).saturating_add(n)).unwrap_or(&[]);
                    bitstream_dims(&sub, body, &mut dims);
                    k = k.saturating_add(8).saturating_add(n).saturating_add(n & 1);
                }
            }
            b"ICCP" => budget.icc(len as u64)?,
            b"EXIF" | b"XMP " => budget.metadata(len as u64)?,
            _ => bitstream_dims(&kind, data, &mut dims),
        }
        i = i
            .saturating_add(8)
            .saturating_add(len)
            .saturating_add(len & 1);
    }
    if !dims.found {
        return Err(bad(f, "no image data"));
    }
    Ok(Scanned {
        width: dims.width,
        height: dims.height,
        bytes_per_pixel: if animated { 12 } else { 8 },
    })
}

/// The largest width and height seen.
#[derive(Default)]
struct Dims {
    width: u32,
    height: u32,
    found: bool,
}

impl Dims {
    fn add(&mut self, w: u32, h: u32) {
        self.width = self.width.max(w);
        self.height = self.height.max(h);
        self.found = true;
    }
}

/// The size a `VP8 ` (lossy) or `VP8L` (lossless) bitstream header names.
fn bitstream_dims(kind: &[u8; 4], data: &[u8], dims: &mut Dims) {
    match kind {
        b"VP8 " if data.len() >= 10 && data[3..6] == [0x9D, 0x01, 0x2A] => {
            let w = u32::from(u16::from_le_bytes([data[6], data[7]]) & 0x3FFF);
            let h = u32::from(u16::from_le_bytes([data[8], data[9]]) & 0x3FFF);
            dims.add(w, h);
        }
        b"VP8L" if data.len() >= 5 && data[0] == 0x2F => {
            let bits = u32::from_le_bytes([data[1], data[2], data[3], data[4]]);
            dims.add((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
        }
        _ => {}
    }
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

    /// A lossless WebP of one flat colour whose pixels cost no bits at all: every prefix
    /// code has a single symbol, so the file is 32 bytes at any size up to
    /// 16384×16384, and a decode of it allocates the whole picture (a decompression
    /// bomb, built as an attacker would). The colour is RGB (0x40, 0x80, 0x20), opaque.
    pub fn webp_flat(w: u32, h: u32) -> Vec<u8> {
        assert!((1..=16_384).contains(&w) && (1..=16_384).contains(&h));
        let mut bits = BitWriter::default();
        bits.put(u64::from(w - 1), 14);
        bits.put(u64::from(h - 1), 14);
        bits.put(0, 1); // no alpha
        bits.put(0, 3); // version 0
        bits.put(0, 1); // no transform
        bits.put(0, 1); // no colour cache
        bits.put(0, 1); // no meta prefix codes
                        // Green, red, blue, alpha, distance: each a "simple" code of one symbol.
        for symbol in [0x80u64, 0x40, 0x20, 0xFF, 0] {
            bits.put(1, 1); // simple code
            bits.put(0, 1); // one symbol
            if symbol < 2 {
                bits.put(0, 1);
                bits.put(symbol, 1);
            } else {
                bits.put(1, 1);
                bits.put(symbol, 8);
            }
        }
        let mut vp8l = vec![0x2F];
        vp8l.extend_from_slice(&bits.finish());
        riff(&[(b"VP8L", vp8l.as_slice())])
    }

    /// Least-significant-bit-first bit packing, as VP8L reads it.
    #[derive(Default)]
    struct BitWriter {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }

    impl BitWriter {
        fn put(&mut self, value: u64, bits: u32) {
            self.acc |= value << self.n;
            self.n += bits;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }

        fn finish(mut self) -> Vec<u8> {
            if self.n > 0 {
                self.out.push(self.acc as u8);
            }
            self.out
        }
    }

    /// A RIFF/WEBP file of these chunks (padded to even lengths).
    fn riff(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut body = b"WEBP".to_vec();
        for (kind, data) in chunks {
            body.extend_from_slice(*kind);
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// A PNG whose `iCCP` chunk holds a "profile" of `profile_len` zero bytes, zlib
    /// compressed (a few KiB on the wire for megabytes inflated).
    pub fn png_with_iccp(w: u32, h: u32, profile_len: usize) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 64 * 1024];
        let mut left = profile_len;
        while left > 0 {
            let n = left.min(zeros.len());
            z.write_all(&zeros[..n])
                .unwrap_or_else(|e| panic!("compressing a sample profile: {e}"));
            left -= n;
        }
        let stream = z
            .finish()
            .unwrap_or_else(|e| panic!("compressing a sample profile: {e}"));
        let mut data = b"icc\0\0".to_vec();
        data.extend_from_slice(&stream);
        let plain = png(w, h, None);
        let split = 8 + 25;
        let mut out = plain[..split].to_vec();
        push_png_chunk(&mut out, b"iCCP", &data);
        out.extend_from_slice(&plain[split..]);
        out
    }

    /// A JPEG with `count` extra APPn segments (`marker` 0xE0–0xEF) of `len` payload
    /// bytes each (at most 65533) after the start marker.
    pub fn jpeg_with_app(w: u32, h: u32, marker: u8, count: usize, len: usize) -> Vec<u8> {
        assert!((0xE0..=0xEF).contains(&marker) && len <= 65_533);
        let plain = jpeg(w, h, None);
        let mut out = plain[..2].to_vec();
        for i in 0..count {
            out.extend_from_slice(&[0xFF, marker]);
            out.extend_from_slice(&((len + 2) as u16).to_be_bytes());
            out.extend((0..len).map(|k| (k + i) as u8));
        }
        out.extend_from_slice(&plain[2..]);
        out
    }

    /// A JPEG whose frame header claims `w`×`h` (up to 65535 each) with no more data than
    /// a tiny picture's.
    pub fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
        let mut out = jpeg(8, 8, None);
        let sof = out
            .windows(2)
            .position(|m| m == [0xFF, 0xC0])
            .unwrap_or_else(|| panic!("the sample JPEG has a baseline frame header"));
        out[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        out[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        out
    }

    /// A PNG whose `IHDR` claims `w`×`h` (its CRC fixed) over a tiny picture's data.
    pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
        let mut out = png(8, 8, None);
        out[16..20].copy_from_slice(&w.to_be_bytes());
        out[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&out[12..29]);
        out[29..33].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// A photo-like picture (smooth light with fine grain, so it compresses like a
    /// photo, not like a flat test card).
    pub fn photo(w: u32, h: u32) -> image::RgbImage {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        image::RgbImage::from_fn(w, h, |x, y| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let grain = (seed % 24) as u32;
            let r = (x * 200 / w + grain) as u8;
            let g = (y * 180 / h + grain) as u8;
            let b = ((x + y) * 100 / (w + h) + 60 + grain) as u8;
            image::Rgb([r, g, b])
        })
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
    fn the_flat_webp_sample_is_a_real_lossless_webp() {
        let small = samples::webp_flat(16, 9);
        let img = image::load_from_memory(&small).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (16, 9));
        assert!(img.pixels().all(|p| p.0 == [0x40, 0x80, 0x20]));
        assert!(inspect(&small, Some("image/webp")).is_ok());
        assert_eq!(samples::webp_flat(12_000, 12_000).len(), 32);
    }

    #[test]
    fn dimensions_over_the_limits_are_refused_from_the_header() {
        let refused = |bytes: &[u8]| match check(bytes, None, &DEFAULT_LIMITS) {
            Err(MediaError::TooManyPixels { width, height, .. }) => (width, height),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(&samples::webp_flat(12_000, 12_000)),
            (12_000, 12_000)
        );
        assert_eq!(refused(&samples::webp_flat(12_001, 10)), (12_001, 10));
        assert_eq!(
            refused(&samples::jpeg_claiming(60_000, 50_000)),
            (60_000, 50_000)
        );
        assert_eq!(refused(&samples::png_claiming(100_000, 3)), (100_000, 3));
        // Under 12,000 per side but over 50 megapixels.
        assert_eq!(
            refused(&samples::png_claiming(10_000, 5_001)),
            (10_000, 5_001)
        );
        let e = check(&samples::webp_flat(12_000, 12_000), None, &DEFAULT_LIMITS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "is too large in pixels: 12000×12000; at most 12000 per side and 50 megapixels"
        );
        // A canvas that disagrees with its bitstream is judged by the larger.
        let mut vp8x = vec![0, 0, 0, 0];
        vp8x.extend_from_slice(&[7, 0, 0, 7, 0, 0]); // 8×8 canvas
        let flat = samples::webp_flat(12_000, 12_000);
        let mut body = b"WEBPVP8X".to_vec();
        body.extend_from_slice(&10u32.to_le_bytes());
        body.extend_from_slice(&vp8x);
        body.extend_from_slice(&flat[12..]);
        let mut lying = b"RIFF".to_vec();
        lying.extend_from_slice(&(body.len() as u32).to_le_bytes());
        lying.extend_from_slice(&body);
        assert_eq!(refused(&lying), (12_000, 12_000));
    }

    #[test]
    fn the_decode_memory_estimate_is_checked_before_decoding() {
        let small = Limits {
            max_decode_bytes: 1024 * 1024,
            ..DEFAULT_LIMITS
        };
        // 600×600 lossless WebP: 8 bytes per pixel estimated, 2.7 MiB.
        match check(&samples::webp_flat(600, 600), None, &small) {
            Err(e @ MediaError::DecodeBudget { needed, .. }) => {
                assert_eq!(needed, 600 * 600 * 8);
                assert_eq!(
                    e.to_string(),
                    "would need about 2.7 MiB of memory to decode (600×600 WebP); at most 1 MiB"
                );
            }
            other => panic!("{other:?}"),
        }
        let h = check(&samples::jpeg(100, 50, None), None, &small).unwrap();
        assert_eq!((h.width, h.height), (100, 50));
        assert_eq!(h.decode_bytes, 100 * 50 * (3 + 3), "baseline colour JPEG");
        let h = check(&samples::png(100, 50, None), None, &small).unwrap();
        assert_eq!(h.decode_bytes, 100 * 50 * (3 + 1), "8-bit RGB PNG");
    }

    #[test]
    fn an_oversized_colour_profile_is_refused_by_its_inflated_size() {
        let ok = samples::png_with_iccp(8, 8, 4096);
        let h = check(&ok, None, &DEFAULT_LIMITS).unwrap();
        assert_eq!(h.icc_bytes, 4096);
        assert!(inspect(&ok, None).is_ok());
        // 64 MiB of profile in a few dozen KiB of file.
        let bomb = samples::png_with_iccp(8, 8, 64 * 1024 * 1024);
        assert!(bomb.len() < 128 * 1024, "{}", bomb.len());
        assert_eq!(
            check(&bomb, None, &DEFAULT_LIMITS),
            Err(MediaError::ColourProfileTooLarge { max: 1024 * 1024 })
        );
        assert_eq!(
            inspect(&bomb, None).unwrap_err().to_string(),
            "has a colour profile (ICC) larger than 1 MiB"
        );
        // WebP ICCP and JPEG APP2 ICC_PROFILE parts count as they are stored.
        let mut app2 = b"ICC_PROFILE\0\x01\x01".to_vec();
        app2.resize(65_533, 0);
        let mut jpeg = samples::jpeg(8, 8, None)[..2].to_vec();
        for _ in 0..17 {
            jpeg.extend_from_slice(&[0xFF, 0xE2]);
            jpeg.extend_from_slice(&65_535u16.to_be_bytes());
            jpeg.extend_from_slice(&app2);
        }
        jpeg.extend_from_slice(&samples::jpeg(8, 8, None)[2..]);
        assert_eq!(
            check(&jpeg, None, &DEFAULT_LIMITS),
            Err(MediaError::ColourProfileTooLarge { max: 1024 * 1024 })
        );
    }

    #[test]
    fn metadata_over_its_limit_is_refused_before_decoding() {
        // 17 APP1 segments of 64 KiB: more than 1 MiB.
        let jpeg = samples::jpeg_with_app(8, 8, 0xE1, 17, 65_533);
        assert_eq!(
            check(&jpeg, None, &DEFAULT_LIMITS),
            Err(MediaError::MetadataTooLarge { max: 1024 * 1024 })
        );
        let fine = samples::jpeg_with_app(8, 8, 0xE1, 1, 60_000);
        assert!(inspect(&fine, None).is_ok());
        let tight = Limits {
            max_metadata_bytes: 16 * 1024,
            ..DEFAULT_LIMITS
        };
        assert_eq!(
            check(&fine, None, &tight),
            Err(MediaError::MetadataTooLarge { max: 16 * 1024 })
        );
        assert_eq!(
            check(&fine, None, &tight).unwrap_err().to_string(),
            "carries more than 16 KiB of metadata (EXIF, XMP, text chunks, JPEG APPn segments)"
        );
        // PNG text and WebP EXIF/XMP count the same way.
        let tiny = Limits {
            max_metadata_bytes: 100,
            ..DEFAULT_LIMITS
        };
        for bytes in [
            samples::png(8, 8, Some(HERE)),
            samples::webp(8, 8, Some(HERE)),
        ] {
            assert!(matches!(
                check(&bytes, None, &tiny),
                Err(MediaError::MetadataTooLarge { .. })
            ));
            let h = check(&bytes, None, &DEFAULT_LIMITS).unwrap();
            assert!(h.metadata_bytes > 100, "{h:?}");
        }
    }

    #[test]
    fn sizes_are_parsed_with_binary_units() {
        assert_eq!(parse_size("65536"), Ok(65_536));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("512MiB"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
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
