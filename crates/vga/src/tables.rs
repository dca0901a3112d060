//! Register values a VGA BIOS leaves after setting mode 3, and register write masks.

/// Miscellaneous output: colour (0x3Dx) CRTC ports, RAM enabled, 28 MHz clock (720 dots),
/// odd/even page high, negative syncs for 400 lines.
pub(crate) const MODE3_MISC: u8 = 0x67;

/// Sequencer SR0–SR4: no reset, 9-dot characters, planes 0 and 1 writable, font slot 0,
/// extended memory with odd/even addressing.
pub(crate) const MODE3_SR: [u8; 5] = [0x03, 0x00, 0x03, 0x00, 0x02];

/// CRTC CR00–CR18 for 80×25 text with a 9×16 cell. CR11 bit 7 is set (CR0–CR7 write
/// protected) as a real BIOS leaves it; the cursor scan lines are 14–15.
pub(crate) const MODE3_CR: [u8; 0x19] = [
    0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, // CR00–CR07
    0x00, 0x4F, 0x0E, 0x0F, 0x00, 0x00, 0x00, 0x00, // CR08–CR0F
    0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, // CR10–CR17
    0xFF, // CR18
];

/// Graphics controller GR0–GR8: odd/even host addressing, text mode, memory at 0xB8000.
pub(crate) const MODE3_GR: [u8; 9] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF];

/// Attribute controller AR00–AR14: the EGA colour mapping (brown at 6, bright colours at
/// 0x38–0x3F), line graphics and blink enabled, all colour planes on.
pub(crate) const MODE3_AR: [u8; 0x15] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, // AR00–AR07
    0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, // AR08–AR0F
    0x0C, 0x00, 0x0F, 0x08, 0x00, // AR10–AR14
];

/// Bits of SR0–SR7 that exist (others read back as 0).
pub(crate) const SR_MASK: [u8; 8] = [0x03, 0x3D, 0x0F, 0x3F, 0x0E, 0x00, 0x00, 0xFF];

/// Bits of GR0–GR15 that exist.
pub(crate) const GR_MASK: [u8; 16] = [
    0x0F, 0x0F, 0x0F, 0x1F, 0x03, 0x7B, 0x0F, 0x0F, 0xFF, 0, 0, 0, 0, 0, 0, 0,
];

/// The standard 64-entry EGA palette the BIOS loads into DAC entries 0–63 for 16-colour
/// modes: each index is `rgbRGB` (low-intensity bits weigh 0x2A, high ones 0x15).
pub(crate) fn ega_dac_entry(i: u8) -> [u8; 3] {
    let c = |hi: u8, lo: u8| ((i >> lo) & 1) * 0x2A + ((i >> hi) & 1) * 0x15;
    [c(5, 2), c(4, 1), c(3, 0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ega_palette_has_the_cga_colours() {
        assert_eq!(ega_dac_entry(0x00), [0, 0, 0]);
        assert_eq!(ega_dac_entry(0x01), [0, 0, 0x2A]);
        assert_eq!(ega_dac_entry(0x14), [0x2A, 0x15, 0]); // brown
        assert_eq!(ega_dac_entry(0x07), [0x2A, 0x2A, 0x2A]);
        assert_eq!(ega_dac_entry(0x38), [0x15, 0x15, 0x15]); // dark grey
        assert_eq!(ega_dac_entry(0x3F), [0x3F, 0x3F, 0x3F]);
    }
}
