//! Screendump: PPM and PNG encoding and the atomic file write.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Surface};

/// Screendump file formats (QEMU's `ImageFormat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum ImageFormat {
    /// Binary PPM (`P6`), QEMU's default.
    #[default]
    Ppm,
    /// PNG, 8-bit RGB.
    Png,
}

impl ImageFormat {
    /// The QAPI name: `ppm` or `png`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Ppm => "ppm",
            ImageFormat::Png => "png",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImageFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "ppm" => Ok(ImageFormat::Ppm),
            "png" => Ok(ImageFormat::Png),
            other => Err(Error::InvalidFormat(other.to_owned())),
        }
    }
}

fn rgb_bytes(surface: &Surface, out: &mut Vec<u8>) {
    out.reserve(surface.pixels().len() * 3);
    for &p in surface.pixels() {
        out.extend_from_slice(&p.to_be_bytes()[1..]);
    }
}

/// The surface as a binary PPM, exactly as QEMU writes it: `P6\n{w} {h}\n255\n` + RGB bytes.
pub fn encode_ppm(surface: &Surface) -> Vec<u8> {
    let mut out = format!("P6\n{} {}\n255\n", surface.width(), surface.height()).into_bytes();
    rgb_bytes(surface, &mut out);
    out
}

/// The surface as an 8-bit RGB PNG.
pub fn encode_png(surface: &Surface) -> Result<Vec<u8>, Error> {
    let mut rgb = Vec::new();
    rgb_bytes(surface, &mut rgb);
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, surface.width(), surface.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(Error::Png)?;
    writer.write_image_data(&rgb).map_err(Error::Png)?;
    writer.finish().map_err(Error::Png)?;
    Ok(out)
}

/// Writes a screendump of `surface` to `path`.
///
/// The image is written to a temporary file in the same directory, fsynced and renamed over
/// `path`, so readers see either the old file or the complete new one; the temporary file is
/// removed on any error. A symlink is followed (its target is replaced); a `path` that exists
/// and is not a regular file (a FIFO, `/dev/null`, ...) is written in place, as QEMU does.
pub fn write_image(surface: &Surface, path: &Path, format: ImageFormat) -> Result<(), Error> {
    let data = match format {
        ImageFormat::Ppm => encode_ppm(surface),
        ImageFormat::Png => encode_png(surface)?,
    };
    write_file_atomic(path, &data)
}

/// The OS reason as `strerror` prints it (std appends " (os error N)").
fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .map_or_else(|| text.clone(), str::to_owned),
        None => text,
    }
}

fn open_error(path: &Path, e: &io::Error) -> Error {
    Error::Open {
        path: path.display().to_string(),
        reason: reason(e),
    }
}

fn write_error(path: &Path, e: &io::Error) -> Error {
    Error::Write {
        path: path.display().to_string(),
        reason: reason(e),
    }
}

/// Errors name the path the caller gave, not a resolved one.
fn rename_path(e: Error, path: &Path) -> Error {
    let shown = path.display().to_string();
    match e {
        Error::Open { reason, .. } => Error::Open {
            path: shown,
            reason,
        },
        Error::Write { reason, .. } => Error::Write {
            path: shown,
            reason,
        },
        other => other,
    }
}

fn write_in_place(path: &Path, data: &[u8]) -> Result<(), Error> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| open_error(path, &e))?;
    file.write_all(data).map_err(|e| write_error(path, &e))
}

/// How a path is to be written.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Open, truncate and write this path directly.
    InPlace(PathBuf),
    /// Write a temporary file beside this path and rename it over.
    Atomic(PathBuf),
}

fn plan(path: &Path) -> Plan {
    let target: PathBuf = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(resolved) => resolved,
            // A dangling link: let open() create its target, as QEMU would.
            Err(_) => return Plan::InPlace(path.to_path_buf()),
        },
        _ => path.to_path_buf(),
    };
    match fs::metadata(&target) {
        // Devices, FIFOs: renaming over them would be wrong; directories fail in open().
        Ok(meta) if !meta.is_file() => Plan::InPlace(target),
        _ => Plan::Atomic(target),
    }
}

fn write_file_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    let target = match plan(path) {
        Plan::InPlace(p) => return write_in_place(&p, data).map_err(|e| rename_path(e, path)),
        Plan::Atomic(t) => t,
    };
    if target.file_name().is_none() {
        return Err(open_error(
            path,
            &io::Error::from(io::ErrorKind::InvalidInput),
        ));
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // A short fixed-shape name, so a target name near NAME_MAX still works.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".screendump-{}-{n}.tmp", std::process::id()));

    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| open_error(path, &e))?;
    let written = file.write_all(data).and_then(|()| file.sync_all());
    drop(file);
    let result = written.and_then(|()| fs::rename(&tmp, &target));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(write_error(path, &e));
    }
    // Make the rename itself durable; a failure here does not undo the dump.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rect;

    fn sample() -> Surface {
        let mut s = Surface::new(3, 2).unwrap();
        s.set(0, 0, 0x00ff0000);
        s.set(1, 0, 0x0000ff00);
        s.set(2, 0, 0x000000ff);
        s.fill_rect(Rect::new(0, 1, 3, 1), 0x00123456);
        s
    }

    #[test]
    fn ppm_header_and_bytes_match_qemu() {
        let ppm = encode_ppm(&sample());
        let header = b"P6\n3 2\n255\n";
        assert_eq!(&ppm[..header.len()], header);
        assert_eq!(
            &ppm[header.len()..],
            &[
                0xff, 0, 0, 0, 0xff, 0, 0, 0, 0xff, 0x12, 0x34, 0x56, 0x12, 0x34, 0x56, 0x12, 0x34,
                0x56
            ]
        );
    }

    #[test]
    fn png_round_trip() {
        let s = sample();
        let bytes = encode_png(&s).unwrap();
        let decoder = png::Decoder::new(io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let pixels: Vec<u32> = buf[..info.buffer_size()]
            .chunks(3)
            .map(|c| u32::from_be_bytes([0, c[0], c[1], c[2]]))
            .collect();
        assert_eq!(pixels, s.pixels());
    }

    #[test]
    fn format_names() {
        assert_eq!("ppm".parse::<ImageFormat>().unwrap(), ImageFormat::Ppm);
        assert_eq!("png".parse::<ImageFormat>().unwrap(), ImageFormat::Png);
        assert_eq!(ImageFormat::default(), ImageFormat::Ppm);
        let err = "jpeg".parse::<ImageFormat>().unwrap_err();
        assert_eq!(err.to_string(), "invalid parameter value: jpeg");
        assert_eq!(ImageFormat::Png.to_string(), "png");
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn atomic_write_replaces_existing_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shot.ppm");
        fs::write(&path, b"old contents that are longer than the new image").unwrap();
        write_image(&sample(), &path, ImageFormat::Ppm).unwrap();
        assert_eq!(fs::read(&path).unwrap(), encode_ppm(&sample()));
        assert_eq!(entries(dir.path()), vec!["shot.ppm".to_owned()]);

        let png_path = dir.path().join("shot.png");
        write_image(&sample(), &png_path, ImageFormat::Png).unwrap();
        assert_eq!(&fs::read(&png_path).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(entries(dir.path()), vec!["shot.png", "shot.ppm"]);
    }

    #[test]
    fn missing_directory_error_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("shot.ppm");
        let err = write_image(&sample(), &path, ImageFormat::Ppm).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Could not open '{}': No such file or directory",
                path.display()
            )
        );
        assert_eq!(entries(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn directory_as_target_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_image(&sample(), dir.path(), ImageFormat::Ppm).unwrap_err();
        assert!(matches!(err, Error::Open { .. }), "{err}");
        assert!(err.to_string().ends_with("Is a directory"), "{err}");
    }

    #[test]
    fn symlink_target_is_replaced_and_link_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.ppm");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.ppm");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_image(&sample(), &link, ImageFormat::Ppm).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), encode_ppm(&sample()));
        assert_eq!(entries(dir.path()), vec!["link.ppm", "real.ppm"]);
    }

    #[test]
    fn non_regular_target_is_written_in_place() {
        // /dev/null must never be renamed over; only the plan is checked here.
        assert_eq!(
            plan(Path::new("/dev/null")),
            Plan::InPlace(PathBuf::from("/dev/null"))
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.ppm");
        assert_eq!(plan(&file), Plan::Atomic(file.clone()));
        let dangling = dir.path().join("dangling.ppm");
        std::os::unix::fs::symlink(dir.path().join("nowhere.ppm"), &dangling).unwrap();
        assert_eq!(plan(&dangling), Plan::InPlace(dangling.clone()));
        write_image(&sample(), &dangling, ImageFormat::Ppm).unwrap();
        assert_eq!(
            fs::read(dir.path().join("nowhere.ppm")).unwrap(),
            encode_ppm(&sample())
        );
    }

    #[test]
    fn os_reason_has_no_rust_suffix() {
        let e = io::Error::from_raw_os_error(28);
        assert_eq!(reason(&e), "No space left on device");
    }
}
