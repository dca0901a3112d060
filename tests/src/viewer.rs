//! A well-behaved viewer built on the in-repo `rfbclient` crate: the byte-exact reference
//! for what a VNC client receives (native 0x00RRGGBB pixels, Raw + DesktopSize).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use rfbclient::{Client, HandshakeOpts, ServerInit};

use crate::image::Image;

/// Timeout for connecting and for each read or write.
pub const VIEWER_TIMEOUT: Duration = Duration::from_secs(5);

/// An `rfbclient` connection past the handshake, asking for native pixels in Raw.
pub struct Viewer {
    /// The underlying client (for messages the wrapper does not cover).
    pub client: Client,
    /// What ServerInit said.
    pub init: ServerInit,
}

/// Runs the handshake with `rfbclient` on 127.0.0.1:`port` with RFB 3.`minor`; the error is
/// `rfbclient`'s (for example `AuthFailed` with the reason).
pub fn handshake(
    port: u16,
    password: Option<&str>,
    minor: u8,
) -> Result<(Client, ServerInit), rfbclient::Error> {
    let mut client = Client::connect_tcp(&format!("127.0.0.1:{port}"), VIEWER_TIMEOUT)?;
    let init = client.handshake(&HandshakeOpts {
        minor,
        password: password.map(|p| p.as_bytes().to_vec()),
        shared: true,
    })?;
    Ok((client, init))
}

impl Viewer {
    /// Connects with RFB 3.8, sets the native pixel format and Raw + DesktopSize, and
    /// reads a first full picture.
    pub fn open(port: u16, password: Option<&str>) -> Result<Viewer> {
        Self::open_minor(port, password, 8)
    }

    /// Like [`Viewer::open`] with RFB 3.`minor`.
    pub fn open_minor(port: u16, password: Option<&str>, minor: u8) -> Result<Viewer> {
        let (mut client, init) = handshake(port, password, minor)
            .with_context(|| format!("rfbclient handshake (3.{minor}) on port {port}"))?;
        client.set_pixel_format(&rfb::PixelFormat::NATIVE)?;
        client.set_encodings(&[rfb::encoding::RAW, rfb::encoding::DESKTOP_SIZE])?;
        let mut viewer = Viewer { client, init };
        viewer.refresh()?;
        Ok(viewer)
    }

    /// Framebuffer size.
    pub fn size(&self) -> (u16, u16) {
        let (_, w, h) = self.client.framebuffer();
        (
            u16::try_from(w).unwrap_or(u16::MAX),
            u16::try_from(h).unwrap_or(u16::MAX),
        )
    }

    /// Asks for a full update and reads until the whole screen was painted (asking again
    /// after a DesktopSize change); returns the picture.
    pub fn refresh(&mut self) -> Result<Image> {
        for _ in 0..4 {
            let (w, h) = self.size();
            self.client.request_update(false, 0, 0, w, h)?;
            let deadline = Instant::now() + VIEWER_TIMEOUT;
            let mut painted = 0u64;
            loop {
                ensure!(
                    Instant::now() < deadline,
                    "no full update within {VIEWER_TIMEOUT:?}"
                );
                let update = self.client.read_update()?;
                if update.resized.is_some() {
                    break;
                }
                painted += update
                    .rects
                    .iter()
                    .filter(|r| r.encoding == rfb::encoding::RAW)
                    .map(|r| u64::from(r.w) * u64::from(r.h))
                    .sum::<u64>();
                if painted >= u64::from(w) * u64::from(h) {
                    return self.image();
                }
            }
        }
        bail!("the framebuffer size kept changing")
    }

    /// Sends an incremental request and reads one update.
    pub fn incremental(&mut self) -> Result<rfbclient::UpdateSummary> {
        let (w, h) = self.size();
        self.client.request_update(true, 0, 0, w, h)?;
        Ok(self.client.read_update()?)
    }

    /// The local framebuffer as an image.
    pub fn image(&self) -> Result<Image> {
        let (pixels, w, h) = self.client.framebuffer();
        Image::from_xrgb(pixels, w, h)
    }

    /// Presses and releases each keysym.
    pub fn tap_keys(&mut self, keysyms: &[u32]) -> Result<()> {
        for &k in keysyms {
            self.client.key(true, k)?;
            self.client.key(false, k)?;
        }
        Ok(())
    }

    /// Whether the server closed the connection within `wait`.
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        self.client.is_closed_by_peer(wait)
    }
}
