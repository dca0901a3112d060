//! Bochs VBE: registers as QEMU adjusts them, every pixel depth, panning, damage.

use super::*;
use display::Surface;
use proptest::prelude::*;

fn vbe(vga: &mut Vga, index: u16, v: u16) {
    vga.vbe_write(VBE_PORT_INDEX, index);
    vga.vbe_write(VBE_PORT_DATA, v);
}

fn vbe_get(vga: &mut Vga, index: u16) -> u16 {
    vga.vbe_write(VBE_PORT_INDEX, index);
    vga.vbe_read(VBE_PORT_DATA)
}

/// The mode set sequence of the benchmark guest (and of Linux's bochs driver).
fn set_mode(vga: &mut Vga, w: u16, h: u16, bpp: u16) {
    vbe(vga, VBE_INDEX_ENABLE, 0);
    vbe(vga, VBE_INDEX_XRES, w);
    vbe(vga, VBE_INDEX_YRES, h);
    vbe(vga, VBE_INDEX_BPP, bpp);
    vbe(vga, VBE_INDEX_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
}

fn put32(vga: &mut Vga, pitch: usize, x: usize, y: usize, rgb: u32) {
    vga.lfb_write((y * pitch + x) * 4, &rgb.to_le_bytes());
}

fn settled(vga: &mut Vga) -> Surface {
    let mut s = Surface::new(1, 1).unwrap();
    vga.render(&mut s, 0);
    s
}

#[test]
fn id_caps_and_video_memory_size() {
    let mut vga = Vga::new();
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_ID), VBE_ID5);
    vbe(&mut vga, VBE_INDEX_ID, 0x1234); // not an ID: ignored
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_ID), VBE_ID5);
    vbe(&mut vga, VBE_INDEX_ID, VBE_ID0 + 2);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_ID), VBE_ID0 + 2);
    vbe(&mut vga, VBE_INDEX_ENABLE, VBE_GETCAPS);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_XRES), VBE_MAX_XRES);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_YRES), VBE_MAX_YRES);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_BPP), 32);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_VIDEO_MEMORY_64K), 256);
    assert_eq!(vbe_get(&mut vga, 0x0B), 0);
    assert_eq!(vga.vram_size(), 16 << 20);
    // vgamem_mb as QEMU adjusts it: 1..=512, rounded up to a power of two.
    assert_eq!(vgamem_bytes(0), 1 << 20);
    assert_eq!(vgamem_bytes(3), 4 << 20);
    assert_eq!(vgamem_bytes(100_000), 512 << 20);
    let mut small = Vga::with_vgamem_mb(1);
    assert_eq!(vbe_get(&mut small, VBE_INDEX_VIDEO_MEMORY_64K), 16);
}

#[test]
fn mode_set_shows_the_linear_framebuffer() {
    let mut vga = Vga::new();
    set_mode(&mut vga, 1024, 768, 32);
    assert!(vga.vbe_enabled());
    assert_eq!(vga.mode_size(), (1024, 768));
    put32(&mut vga, 1024, 5, 7, 0x00_12_34_56);
    put32(&mut vga, 1024, 1023, 767, 0xFF_AB_CD_EF); // the top byte is not colour
    let mut s = Surface::new(1, 1).unwrap();
    let r = vga.render(&mut s, 0);
    assert!(r.resized);
    assert_eq!((s.width(), s.height()), (1024, 768));
    assert_eq!(s.get(5, 7), 0x12_34_56);
    assert_eq!(s.get(1023, 767), 0xAB_CD_EF);
    assert_eq!(s.get(6, 7), 0);
    // Reading the LFB back; beyond video memory reads as an open bus.
    let mut b = [0u8; 4];
    vga.lfb_read((7 * 1024 + 5) * 4, &mut b);
    assert_eq!(u32::from_le_bytes(b), 0x12_34_56);
    let mut b = [0u8; 2];
    vga.lfb_read(vga.vram_size() - 1, &mut b);
    assert_eq!(b, [0, 0xFF]);
}

#[test]
fn damage_is_exactly_what_changed() {
    let mut vga = Vga::new();
    set_mode(&mut vga, 1920, 1080, 32);
    let mut s = settled(&mut vga);
    // A static screen: nothing to report.
    assert!(vga.render(&mut s, 0).dirty.is_empty());
    // A 64×64 box.
    for y in 100..164 {
        let row = vec![0xEE_u8; 64 * 4];
        vga.lfb_write((y * 1920 + 300) * 4, &row);
    }
    let r = vga.render(&mut s, 0);
    assert_eq!(r.dirty, vec![Rect::new(300, 100, 64, 64)]);
    // Writing the same values again logs the pages but changes no pixel.
    let row = vec![0xEE_u8; 64 * 4];
    vga.lfb_write((120 * 1920 + 300) * 4, &row);
    assert!(vga.render(&mut s, 0).dirty.is_empty());
    // Two separate changes on the same rows stay two rectangles.
    for y in 10..20 {
        put32(&mut vga, 1920, 2, y, 0x01);
        put32(&mut vga, 1920, 1900, y, 0x02);
    }
    let mut d = vga.render(&mut s, 0).dirty;
    d.sort_by_key(|r| r.x);
    assert_eq!(d, vec![Rect::new(2, 10, 1, 10), Rect::new(1900, 10, 1, 10)]);
}

#[test]
fn every_depth_converts_to_the_surface_format() {
    // 32: BGRX little-endian.
    let mut vga = Vga::new();
    set_mode(&mut vga, 16, 8, 32);
    vga.lfb_write(0, &[0x56, 0x34, 0x12, 0x99]);
    let s = settled(&mut vga);
    assert_eq!(s.get(0, 0), 0x12_34_56);
    // 24: BGR.
    set_mode(&mut vga, 16, 8, 24);
    vga.lfb_write(3, &[0x56, 0x34, 0x12]);
    let s = settled(&mut vga);
    assert_eq!(s.get(1, 0), 0x12_34_56);
    // 16: RGB565, no low-bit replication (QEMU).
    set_mode(&mut vga, 16, 8, 16);
    vga.lfb_write(0, &0xFFFF_u16.to_le_bytes());
    vga.lfb_write(2, &0b1000_0100_0000_0001_u16.to_le_bytes());
    let s = settled(&mut vga);
    assert_eq!(s.get(0, 0), 0xF8_FC_F8);
    assert_eq!(s.get(1, 0), 0x80_80_08);
    // 15: RGB555.
    set_mode(&mut vga, 16, 8, 15);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_BPP), 15);
    vga.lfb_write(0, &0x7FFF_u16.to_le_bytes());
    vga.lfb_write(2, &0b0100_0000_0011_1111_u16.to_le_bytes());
    let s = settled(&mut vga);
    assert_eq!(s.get(0, 0), 0xF8_F8_F8);
    assert_eq!(s.get(1, 0), 0x80_08_F8);
    // 8: through the DAC, 6-bit unless the 8-bit DAC is enabled.
    set_mode(&mut vga, 16, 8, 8);
    vga.port_write(0x3C8, 7);
    for c in [0x3F, 0x20, 0x01] {
        vga.port_write(0x3C9, c);
    }
    vga.lfb_write(3, &[7]);
    let mut s = settled(&mut vga);
    assert_eq!(s.get(3, 0), 0xFF_82_04);
    vbe(
        &mut vga,
        VBE_INDEX_ENABLE,
        VBE_ENABLED | VBE_8BIT_DAC | VBE_NOCLEARMEM,
    );
    let r = vga.render(&mut s, 0);
    assert_eq!(s.get(3, 0), 0x3F_20_01);
    assert_eq!(r.dirty, vec![Rect::new(3, 0, 1, 1)]);
}

#[test]
fn registers_are_clamped_as_qemu_clamps_them() {
    let mut vga = Vga::new();
    set_mode(&mut vga, 1023, 0, 0);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_XRES), 1016); // multiple of 8
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_YRES), 1); // at least 1
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_BPP), 8); // unknown depth → 8
    vbe(&mut vga, VBE_INDEX_XRES, 0);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_XRES), 8);
    vbe(&mut vga, VBE_INDEX_XRES, 0xFFFF);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_XRES), VBE_MAX_XRES);
    vbe(&mut vga, VBE_INDEX_BPP, 32);
    vbe(&mut vga, VBE_INDEX_YRES, 0xFFFF);
    // 16 MiB / (8192 × 4) lines fit.
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_YRES), 512);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_VIRT_HEIGHT), 512);
    assert_eq!(vga.mode_size(), (8192, 512));
    // Virtual width below the visible width is raised to it.
    vbe(&mut vga, VBE_INDEX_XRES, 640);
    vbe(&mut vga, VBE_INDEX_VIRT_WIDTH, 320);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_VIRT_WIDTH), 640);
    // An offset that would show memory beyond VRAM is dropped.
    vbe(&mut vga, VBE_INDEX_YRES, 480);
    vbe(&mut vga, VBE_INDEX_Y_OFFSET, 0xFFFF);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_Y_OFFSET), 0);
    // A small card limits the mode to what fits.
    let mut small = Vga::with_vgamem_mb(1);
    set_mode(&mut small, 1920, 1080, 32);
    assert_eq!(vbe_get(&mut small, VBE_INDEX_YRES), 136);
}

#[test]
fn panning_through_the_offsets() {
    let mut vga = Vga::new();
    set_mode(&mut vga, 64, 32, 32);
    vbe(&mut vga, VBE_INDEX_VIRT_WIDTH, 128);
    put32(&mut vga, 128, 70, 40, 0xABCDEF);
    let mut s = settled(&mut vga);
    assert_eq!(s.get(6, 8), 0);
    vbe(&mut vga, VBE_INDEX_X_OFFSET, 64);
    vbe(&mut vga, VBE_INDEX_Y_OFFSET, 32);
    let r = vga.render(&mut s, 0);
    assert_eq!(s.get(6, 8), 0xABCDEF);
    assert!(!r.dirty.is_empty());
}

#[test]
fn enabling_clears_unless_noclearmem_and_disabling_returns_to_vga() {
    let mut vga = Vga::new();
    set_mode(&mut vga, 64, 32, 32);
    put32(&mut vga, 64, 1, 1, 0x112233);
    vbe(&mut vga, VBE_INDEX_ENABLE, 0);
    vbe(&mut vga, VBE_INDEX_ENABLE, VBE_ENABLED | VBE_NOCLEARMEM);
    assert_eq!(settled(&mut vga).get(1, 1), 0x112233);
    vbe(&mut vga, VBE_INDEX_ENABLE, 0);
    vbe(&mut vga, VBE_INDEX_ENABLE, VBE_ENABLED);
    assert_eq!(settled(&mut vga).get(1, 1), 0);
    // Off again: the standard registers decide (VBE left them in 256-colour graphics).
    vbe(&mut vga, VBE_INDEX_ENABLE, 0);
    assert!(!vga.vbe_enabled());
    vga.reset();
    assert_eq!(vga.mode_size(), (720, 400));
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_XRES), 0);
}

#[test]
fn banked_window_writes_the_linear_memory() {
    let mut vga = Vga::new();
    set_mode(&mut vga, 320, 400, 8);
    vbe(&mut vga, VBE_INDEX_BANK, 1);
    vga.mem_write(0xA0010, 0x42);
    assert_eq!(vga.mem_read(0xA0010), 0x42);
    let mut b = [0u8];
    vga.lfb_read(0x10010, &mut b);
    assert_eq!(b[0], 0x42);
    // The bank number is masked to the memory size (16 MiB: 256 banks).
    vbe(&mut vga, VBE_INDEX_BANK, 0x1FF);
    assert_eq!(vbe_get(&mut vga, VBE_INDEX_BANK), 0xFF);
}

#[derive(Clone, Debug)]
enum Op {
    Index(u16),
    Data(u16),
    Lfb(usize, Vec<u8>),
    Port(u16, u8),
    Render,
}

fn op() -> impl Strategy<Value = Op> {
    let interesting = prop_oneof![
        Just(0u16),
        Just(1),
        Just(4),
        Just(8),
        Just(15),
        Just(16),
        Just(24),
        Just(32),
        Just(0x41),
        Just(0xC3),
        Just(640),
        Just(1023),
        Just(8192),
        Just(0xFFFF),
        any::<u16>()
    ];
    prop_oneof![
        (0u16..12).prop_map(Op::Index),
        interesting.prop_map(Op::Data),
        (
            0usize..(17 << 20),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(o, d)| Op::Lfb(o, d)),
        (0x3C0u16..0x3E0, any::<u8>()).prop_map(|(p, v)| Op::Port(p, v)),
        Just(Op::Render),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Any register sequence, at any time (including between a mode change and the render
    /// that follows it): rendering never panics or reads outside video memory, the surface
    /// stays within the display limits, and every reported rectangle lies inside it.
    #[test]
    fn random_register_sequences_never_read_outside_vram(
        ops in proptest::collection::vec(op(), 1..60),
        mb in prop_oneof![Just(1u32), Just(4), Just(16)],
    ) {
        let mut vga = Vga::with_vgamem_mb(mb);
        let mut s = Surface::new(1, 1).unwrap();
        for op in ops {
            match op {
                Op::Index(i) => vga.vbe_write(VBE_PORT_INDEX, i),
                Op::Data(v) => vga.vbe_write(VBE_PORT_DATA, v),
                Op::Lfb(o, d) => vga.lfb_write(o, &d),
                Op::Port(p, v) => vga.port_write(p, v),
                Op::Render => {
                    let r = vga.render(&mut s, 0);
                    prop_assert!(s.width() <= display::MAX_WIDTH);
                    prop_assert!(s.height() <= display::MAX_HEIGHT);
                    for d in &r.dirty {
                        prop_assert!(s.rect().contains_rect(d), "{:?} outside {}x{}", d, s.width(), s.height());
                    }
                }
            }
        }
        let r = vga.render(&mut s, 0);
        for d in &r.dirty {
            prop_assert!(s.rect().contains_rect(d));
        }
    }
}
