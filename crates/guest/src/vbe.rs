//! The Bochs VBE ("dispi") registers as a guest programs them: index port 0x1CE, data port
//! 0x1CF, 16 bits wide, and the linear framebuffer at [`LFB_BASE`].

use vga::{
    LFB_BASE, VBE_ENABLED, VBE_INDEX_BPP, VBE_INDEX_ENABLE, VBE_INDEX_VIDEO_MEMORY_64K,
    VBE_INDEX_VIRT_WIDTH, VBE_INDEX_X_OFFSET, VBE_INDEX_XRES, VBE_INDEX_Y_OFFSET, VBE_INDEX_YRES,
    VBE_LFB_ENABLED, VBE_PORT_DATA, VBE_PORT_INDEX,
};

use crate::Bus;

/// Bytes of the linear framebuffer a 32-bit guest can address: from [`LFB_BASE`] to 4 GiB.
#[must_use]
pub fn lfb_window() -> u64 {
    (1 << 32) - u64::from(LFB_BASE)
}

/// Writes VBE register `index`.
pub fn write_reg(bus: &mut dyn Bus, index: u16, v: u16) {
    bus.outw(VBE_PORT_INDEX, index);
    bus.outw(VBE_PORT_DATA, v);
}

/// Reads VBE register `index`.
pub fn read_reg(bus: &mut dyn Bus, index: u16) -> u16 {
    bus.outw(VBE_PORT_INDEX, index);
    bus.inw(VBE_PORT_DATA)
}

/// Sets a 32 bpp mode with the linear framebuffer (the sequence the benchmark harness's
/// guest uses) and returns the size the card accepted, read back from XRES/YRES.
pub fn set_mode_32bpp(bus: &mut dyn Bus, width: u32, height: u32) -> (u32, u32) {
    let w16 = u16::try_from(width).unwrap_or(u16::MAX);
    let h16 = u16::try_from(height).unwrap_or(u16::MAX);
    write_reg(bus, VBE_INDEX_ENABLE, 0);
    write_reg(bus, VBE_INDEX_XRES, w16);
    write_reg(bus, VBE_INDEX_YRES, h16);
    write_reg(bus, VBE_INDEX_BPP, 32);
    write_reg(bus, VBE_INDEX_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
    write_reg(bus, VBE_INDEX_VIRT_WIDTH, w16);
    write_reg(bus, VBE_INDEX_X_OFFSET, 0);
    write_reg(bus, VBE_INDEX_Y_OFFSET, 0);
    (
        u32::from(read_reg(bus, VBE_INDEX_XRES)),
        u32::from(read_reg(bus, VBE_INDEX_YRES)),
    )
}

/// Turns the VBE mode off (ENABLE = 0): the card shows its standard VGA mode again, whose
/// registers the caller then sets (the VBE mode set changed some of them).
pub fn disable(bus: &mut dyn Bus) {
    write_reg(bus, VBE_INDEX_ENABLE, 0);
}

/// Video memory of the card in bytes (VBE index 0xA counts 64 KiB units).
pub fn video_memory(bus: &mut dyn Bus) -> u64 {
    u64::from(read_reg(bus, VBE_INDEX_VIDEO_MEMORY_64K)) * 0x1_0000
}

/// Physical address of byte `offset` of the linear framebuffer, if a 32-bit guest can reach
/// it.
pub fn lfb_address(offset: u64) -> Option<u32> {
    u32::try_from(offset)
        .ok()
        .and_then(|o| LFB_BASE.checked_add(o))
}

/// Writes `px` (0x00RRGGBB) as 32 bpp pixels into the linear framebuffer from pixel `first`
/// on, one bulk write; `scratch` holds the bytes and is reused between calls. Pixels a 32-bit
/// guest cannot address are not written.
pub fn write_pixels(bus: &mut dyn Bus, first: u64, px: &[u32], scratch: &mut Vec<u8>) {
    scratch.clear();
    scratch.extend(px.iter().flat_map(|p| p.to_le_bytes()));
    if let Some(addr) = lfb_address(first.saturating_mul(4)) {
        bus.write_bytes(addr, scratch);
    }
}
