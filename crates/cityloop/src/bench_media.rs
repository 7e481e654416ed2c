//! `cityloop bench media`: decodes the largest photos the default limits accept (at the
//! pixel limit and under the staff byte limit) through our checks — the header scan, then
//! the bounded decode — beside the plain `image` decode without limits, in the same run:
//! wall time and peak resident memory of each, and the estimate the scan judged.
//!
//! Peak memory is the process's `VmHWM` after resetting it (`/proc/self/clear_refs`),
//! minus the resident set before; Linux only.

use std::io::Cursor;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cityloop_service::attachments::MAX_STAFF_UPLOAD_BYTES;
use cityloop_service::media::{self, samples, DEFAULT_LIMITS};

const MIB: f64 = 1024.0 * 1024.0;

fn status_kib(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))
}

/// Runs `f` and answers its time and the peak resident memory it added, in bytes.
fn measure<T>(f: impl FnOnce() -> T) -> Result<(Duration, u64, T)> {
    std::fs::write("/proc/self/clear_refs", "5").context("resetting VmHWM")?;
    let base = status_kib("VmRSS:")?;
    let t = Instant::now();
    let out = f();
    let took = t.elapsed();
    let peak = status_kib("VmHWM:")?;
    Ok((took, peak.saturating_sub(base) * 1024, out))
}

/// The largest accepted photo of each format: 8160×6120 (49.9 megapixels, a 50 MP phone
/// photo's size), encoded to stay under the 10 MiB staff upload limit.
fn photos() -> Result<Vec<(&'static str, Vec<u8>)>> {
    let (w, h) = (8160, 6120);
    let picture = samples::photo(w, h);
    let mut out = Vec::new();
    for quality in [85u8, 75, 65, 50] {
        let mut jpeg = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality);
        picture.write_with_encoder(enc)?;
        if jpeg.len() <= MAX_STAFF_UPLOAD_BYTES {
            out.push(("JPEG photo (baseline)", jpeg));
            break;
        }
    }
    // A photo's grain does not fit 10 MiB losslessly; a smooth picture does.
    let smooth = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 128])
    });
    let mut png = Vec::new();
    smooth.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)?;
    out.push(("PNG smooth RGB", png));
    out.push(("WebP lossless flat (bomb)", samples::webp_flat(w, h)));
    for (name, bytes) in &out {
        if bytes.len() > MAX_STAFF_UPLOAD_BYTES {
            bail!("{name} is {} bytes, over the upload limit", bytes.len());
        }
    }
    Ok(out)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

pub fn run(runs: usize) -> Result<()> {
    if runs == 0 {
        bail!("--runs must be positive");
    }
    println!("cityloop bench media: generating the largest accepted photos ...");
    let photos = photos()?;
    let limits = DEFAULT_LIMITS;
    println!(
        "limits: {} px per side, {} megapixels, {:.0} MiB per decode; {runs} runs, median time, largest peak",
        limits.max_side,
        limits.max_pixels / 1_000_000,
        limits.max_decode_bytes as f64 / MIB
    );
    println!(
        "{:<28} {:>9} {:>12} {:>12} {:>10} {:>12} {:>10} {:>12}",
        "photo", "file MiB", "estimate MiB", "scan", "checked", "peak MiB", "plain", "peak MiB"
    );
    for (name, bytes) in &photos {
        let mut scan = Vec::new();
        let mut checked = Vec::new();
        let mut plain = Vec::new();
        let (mut checked_peak, mut plain_peak) = (0u64, 0u64);
        let mut estimate = 0u64;
        for _ in 0..runs {
            let (t, _, header) = measure(|| media::check(bytes, None, &limits))?;
            let header = header.with_context(|| format!("{name}: refused by the scan"))?;
            estimate = header.decode_bytes;
            scan.push(t);
            let (t, peak, got) = measure(|| media::inspect_with(bytes, None, &limits))?;
            got.with_context(|| format!("{name}: refused"))?;
            checked.push(t);
            checked_peak = checked_peak.max(peak);
            let (t, peak, got) = measure(|| {
                image::ImageReader::new(Cursor::new(bytes))
                    .with_guessed_format()
                    .map(|mut r| {
                        r.no_limits();
                        r.decode().map(drop)
                    })
            })?;
            got?.with_context(|| format!("{name}: the plain decode failed"))?;
            plain.push(t);
            plain_peak = plain_peak.max(peak);
        }
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        println!(
            "{:<28} {:>9.2} {:>12.0} {:>12} {:>10} {:>12.0} {:>10} {:>12.0}",
            name,
            bytes.len() as f64 / MIB,
            estimate as f64 / MIB,
            ms(median(scan)),
            ms(median(checked)),
            checked_peak as f64 / MIB,
            ms(median(plain)),
            plain_peak as f64 / MIB
        );
    }
    println!("scan = header scan alone; checked = scan + bounded decode + EXIF (what an upload costs); plain = image::ImageReader without limits");
    Ok(())
}
