use super::*;
use display::Surface;

const BLACK: u32 = 0x000000;
const BLUE: u32 = 0x0000AA;
const LIGHT_GREY: u32 = 0xAAAAAA;
const WHITE: u32 = 0xFFFFFF;
const RED: u32 = 0xAA0000;

/// Writes a character and attribute at a text cell of the 80-column screen, through the
/// B8000 window as a guest does.
fn put(vga: &mut Vga, col: u32, row: u32, ch: u8, attr: u8) {
    let at = 0xB8000 + (row * 80 + col) * 2;
    vga.mem_write(at, ch);
    vga.mem_write(at + 1, attr);
}

fn crtc(vga: &mut Vga, index: u8, v: u8) {
    vga.port_write(0x3D4, index);
    vga.port_write(0x3D5, v);
}

fn crtc_read(vga: &mut Vga, index: u8) -> u8 {
    vga.port_write(0x3D4, index);
    vga.port_read(0x3D5)
}

fn seq(vga: &mut Vga, index: u8, v: u8) {
    vga.port_write(0x3C4, index);
    vga.port_write(0x3C5, v);
}

fn gfx(vga: &mut Vga, index: u8, v: u8) {
    vga.port_write(0x3CE, index);
    vga.port_write(0x3CF, v);
}

fn attr_write(vga: &mut Vga, index: u8, v: u8) {
    vga.port_read(0x3DA);
    vga.port_write(0x3C0, index);
    vga.port_write(0x3C0, v);
}

/// A surface rendered once, so later renders report only changes.
fn settled(vga: &mut Vga) -> Surface {
    let mut s = Surface::new(1, 1).unwrap();
    let r = vga.render(&mut s, 0);
    assert!(r.resized);
    s
}

/// The 9×16 cell at `col`, `row` as rows of pixels.
fn cell(s: &Surface, col: u32, row: u32) -> Vec<Vec<u32>> {
    (0..16)
        .map(|y| (0..9).map(|x| s.get(col * 9 + x, row * 16 + y)).collect())
        .collect()
}

/// What the font says cell `ch` looks like in a 9-dot cell with these colours.
fn expected_cell(ch: u8, fg: u32, bg: u32, dup9: bool) -> Vec<Vec<u32>> {
    (0..16)
        .map(|y| {
            let bits = FONT_8X16[usize::from(ch) * 16 + y];
            let mut row: Vec<u32> = (0..8)
                .map(|x| if bits & (0x80 >> x) != 0 { fg } else { bg })
                .collect();
            row.push(if dup9 && bits & 1 != 0 { fg } else { bg });
            row
        })
        .collect()
}

#[test]
fn reset_is_bios_mode_3() {
    let mut vga = Vga::new();
    assert_eq!(vga.mode_size(), (720, 400));
    assert_eq!(vga.port_read(0x3CC), 0x67);
    let mut s = Surface::new(1, 1).unwrap();
    let r = vga.render(&mut s, 0);
    assert!(r.resized);
    assert_eq!((s.width(), s.height()), (720, 400));
    assert_eq!(r.dirty, vec![Rect::new(0, 0, 720, 400)]);
    // Cleared screen: spaces in light grey on black, cursor at 0,0 on lines 14-15.
    assert_eq!(s.get(100, 100), BLACK);
    assert_eq!(s.get(0, 14), LIGHT_GREY);
    assert_eq!(s.get(8, 15), LIGHT_GREY);
    assert_eq!(s.get(0, 13), BLACK);
    assert_eq!(crtc_read(&mut vga, 0x0A), 14);
    assert_eq!(crtc_read(&mut vga, 0x0B), 15);
    // The font sits in plane 2, 32 bytes per slot.
    seq(&mut vga, 4, 0x06); // sequential addressing
    seq(&mut vga, 2, 0x04);
    gfx(&mut vga, 4, 2); // read plane 2
    gfx(&mut vga, 5, 0x00);
    gfx(&mut vga, 6, 0x04); // A0000, 64K
    for line in 0..16u32 {
        let got = vga.mem_read(0xA0000 + u32::from(b'A') * 32 + line);
        assert_eq!(
            got,
            FONT_8X16[usize::from(b'A') * 16 + usize::try_from(line).unwrap()]
        );
    }
}

#[test]
fn font_has_the_basic_glyphs() {
    // 'A' and the full block are drawn, the space is empty.
    assert!(
        FONT_8X16[usize::from(b'A') * 16..][..16]
            .iter()
            .any(|&b| b != 0)
    );
    assert!(FONT_8X16[0xDB * 16..][..16].iter().all(|&b| b == 0xFF));
    assert!(
        FONT_8X16[usize::from(b' ') * 16..][..16]
            .iter()
            .all(|&b| b == 0)
    );
}

#[test]
fn register_round_trips() {
    let mut vga = Vga::new();
    seq(&mut vga, 3, 0x15);
    vga.port_write(0x3C4, 3);
    assert_eq!(vga.port_read(0x3C4), 3);
    assert_eq!(vga.port_read(0x3C5), 0x15);
    seq(&mut vga, 1, 0xFF); // SR1 has bits 0,2,3,4,5 only
    assert_eq!(vga.port_read(0x3C5), 0x3D);
    vga.port_write(0x3C4, 0x0B); // index wraps to 3 bits
    assert_eq!(vga.port_read(0x3C4), 3);

    gfx(&mut vga, 8, 0x5A);
    assert_eq!(vga.port_read(0x3CF), 0x5A);
    gfx(&mut vga, 5, 0xFF); // GR5 bits 2 and 7 do not exist
    assert_eq!(vga.port_read(0x3CF), 0x7B);
    assert_eq!(vga.port_read(0x3CE), 5);

    crtc(&mut vga, 0x0E, 0x12);
    crtc(&mut vga, 0x0F, 0x34);
    assert_eq!(crtc_read(&mut vga, 0x0E), 0x12);
    assert_eq!(crtc_read(&mut vga, 0x0F), 0x34);
    assert_eq!(vga.port_read(0x3D4), 0x0F);

    vga.port_write(0x3C6, 0x0F);
    assert_eq!(vga.port_read(0x3C6), 0x0F);
    vga.port_write(0x3DA, 0xFF); // feature control keeps bit 4
    assert_eq!(vga.port_read(0x3CA), 0x10);

    // Ports the card does not decode float.
    assert_eq!(vga.port_read(0x3D0), 0xFF);
    assert_eq!(vga.port_read(0x3E0), 0xFF);
    assert_eq!(vga.port_read(0x80), 0xFF);
}

#[test]
fn misc_output_selects_colour_or_mono_crtc_ports() {
    let mut vga = Vga::new();
    crtc(&mut vga, 0x0F, 0x42);
    // Colour mode: the mono ports are not decoded.
    assert_eq!(vga.port_read(0x3B5), 0xFF);
    vga.port_write(0x3B4, 0x0F);
    vga.port_write(0x3B5, 0x99);
    assert_eq!(crtc_read(&mut vga, 0x0F), 0x42);
    // Mono mode.
    vga.port_write(0x3C2, 0x66);
    assert_eq!(vga.port_read(0x3CC), 0x66);
    assert_eq!(vga.port_read(0x3D5), 0xFF);
    vga.port_write(0x3B4, 0x0F);
    assert_eq!(vga.port_read(0x3B5), 0x42);
    vga.port_write(0x3B5, 0x43);
    assert_eq!(vga.port_read(0x3B5), 0x43);
    // Input status 1 moved too, and still resets the flip-flop.
    vga.port_write(0x3C0, 0x11);
    assert_eq!(vga.port_read(0x3BA) & 0x09, 0x09);
    vga.port_write(0x3C0, 0x31);
    assert_eq!(vga.port_read(0x3C0), 0x31);
}

#[test]
fn attribute_flip_flop_and_input_status_reset() {
    let mut vga = Vga::new();
    vga.port_read(0x3DA);
    vga.port_write(0x3C0, 0x21); // index 1, PAS set
    assert_eq!(vga.port_read(0x3C0), 0x21);
    vga.port_write(0x3C0, 0x3C); // data
    assert_eq!(vga.port_read(0x3C1), 0x3C);
    // Flip-flop is back at "index": this write selects register 2.
    vga.port_write(0x3C0, 0x22);
    assert_eq!(vga.port_read(0x3C0), 0x22);
    // Half-way through (expecting data), a status read resets it to "index".
    vga.port_read(0x3DA);
    vga.port_write(0x3C0, 0x23);
    vga.port_write(0x3C0, 0x15);
    assert_eq!(vga.port_read(0x3C0), 0x23);
    assert_eq!(vga.port_read(0x3C1), 0x15);
    // Palette registers keep 6 bits; AR10 drops bit 4; AR13/14 keep 4.
    attr_write(&mut vga, 0x24, 0xFF);
    assert_eq!(vga.port_read(0x3C1), 0x3F);
    attr_write(&mut vga, 0x30, 0xFF);
    assert_eq!(vga.port_read(0x3C1), 0xEF);
    attr_write(&mut vga, 0x34, 0xFF);
    assert_eq!(vga.port_read(0x3C1), 0x0F);
}

#[test]
fn input_status_toggles_retrace_bits() {
    let mut vga = Vga::new();
    let a = vga.port_read(0x3DA);
    let b = vga.port_read(0x3DA);
    assert_eq!(a ^ b, 0x09);
    // A guest waiting for the start of vertical retrace terminates.
    let mut polls = 0;
    while vga.port_read(0x3DA) & 0x08 != 0 {
        polls += 1;
        assert!(polls < 4);
    }
    while vga.port_read(0x3DA) & 0x08 == 0 {
        polls += 1;
        assert!(polls < 4);
    }
}

#[test]
fn dac_read_write_auto_increment() {
    let mut vga = Vga::new();
    vga.port_write(0x3C8, 0xFE);
    assert_eq!(vga.port_read(0x3C7), 0); // DAC state: write mode
    for v in [1, 2, 3, 4, 5, 6, 0x47, 0x48, 0x49] {
        vga.port_write(0x3C9, v);
    }
    // Three triples written: 0xFE, 0xFF, then wrapped to 0.
    assert_eq!(vga.port_read(0x3C8), 1);
    vga.port_write(0x3C7, 0xFE);
    assert_eq!(vga.port_read(0x3C7), 3); // read mode
    let got: Vec<u8> = (0..9).map(|_| vga.port_read(0x3C9)).collect();
    // Stored whole, as QEMU does (a VBE 8-bit DAC uses all 8 bits; the 6-bit DAC ignores
    // the top two when rendering).
    assert_eq!(got, vec![1, 2, 3, 4, 5, 6, 0x47, 0x48, 0x49]);
    // Reading walks on to entry 1, untouched: the EGA blue.
    assert_eq!(
        (0..3).map(|_| vga.port_read(0x3C9)).collect::<Vec<_>>(),
        vec![0, 0, 0x2A]
    );
    // A half-written triple is not committed until its third component.
    vga.port_write(0x3C8, 5);
    vga.port_write(0x3C9, 0x3F);
    vga.port_write(0x3C7, 5);
    assert_eq!(vga.port_read(0x3C9), 0x2A);
}

#[test]
fn cr11_write_protects_cr0_to_cr7() {
    let mut vga = Vga::new();
    // The BIOS leaves protection on.
    assert_eq!(crtc_read(&mut vga, 0x11) & 0x80, 0x80);
    let before = crtc_read(&mut vga, 0x01);
    crtc(&mut vga, 0x01, 0x27);
    assert_eq!(crtc_read(&mut vga, 0x01), before);
    assert_eq!(vga.mode_size(), (720, 400));
    // CR7 bit 4 stays writable; the others do not.
    let cr7 = crtc_read(&mut vga, 0x07);
    crtc(&mut vga, 0x07, !cr7);
    assert_eq!(crtc_read(&mut vga, 0x07), (cr7 & !0x10) | (!cr7 & 0x10));
    crtc(&mut vga, 0x07, cr7);
    // CR8 and up are never protected.
    crtc(&mut vga, 0x13, 0x30);
    assert_eq!(crtc_read(&mut vga, 0x13), 0x30);
    // Unprotect: now CR1 takes.
    let cr11 = crtc_read(&mut vga, 0x11);
    crtc(&mut vga, 0x11, cr11 & 0x7F);
    crtc(&mut vga, 0x01, 0x27);
    assert_eq!(crtc_read(&mut vga, 0x01), 0x27);
    assert_eq!(vga.mode_size(), (40 * 9, 400));
}

#[test]
fn letter_a_white_on_blue_in_its_cell() {
    let mut vga = Vga::new();
    let mut s = settled(&mut vga);
    put(&mut vga, 0, 0, b'A', 0x1F);
    put(&mut vga, 3, 2, b'A', 0x1F);
    let r = vga.render(&mut s, 1000);
    assert!(!r.resized);
    assert_eq!(cell(&s, 0, 0), expected_cell(b'A', WHITE, BLUE, false));
    assert_eq!(cell(&s, 3, 2), expected_cell(b'A', WHITE, BLUE, false));
    // Neighbours untouched.
    assert_eq!(
        cell(&s, 1, 0),
        expected_cell(b' ', LIGHT_GREY, BLACK, false)
    );
    assert!(r.dirty.contains(&Rect::new(27, 32, 9, 16)));
}

#[test]
fn ninth_column_repeats_line_graphics_only() {
    let mut vga = Vga::new();
    let mut s = settled(&mut vga);
    put(&mut vga, 0, 0, 0xC4, 0x07); // ─ : line graphics
    put(&mut vga, 1, 0, 0xDB, 0x07); // █ : line graphics
    put(&mut vga, 2, 0, 0xB0, 0x07); // ░ : not in 0xC0-0xDF
    vga.render(&mut s, 1000);
    assert_eq!(cell(&s, 0, 0), expected_cell(0xC4, LIGHT_GREY, BLACK, true));
    assert_eq!(cell(&s, 1, 0), expected_cell(0xDB, LIGHT_GREY, BLACK, true));
    assert_eq!(s.get(9 + 8, 5), LIGHT_GREY);
    assert_eq!(
        cell(&s, 2, 0),
        expected_cell(0xB0, LIGHT_GREY, BLACK, false)
    );
    // AR10 bit 2 off: the ninth column is background for everything.
    attr_write(&mut vga, 0x30, 0x08);
    vga.render(&mut s, 1000);
    assert_eq!(
        cell(&s, 1, 0),
        expected_cell(0xDB, LIGHT_GREY, BLACK, false)
    );
}

#[test]
fn eight_dot_mode_is_640_wide() {
    let mut vga = Vga::new();
    seq(&mut vga, 1, 0x01);
    assert_eq!(vga.mode_size(), (640, 400));
    let mut s = Surface::new(1, 1).unwrap();
    put(&mut vga, 1, 0, b'A', 0x1F);
    assert!(vga.render(&mut s, 1000).resized);
    for y in 0..16 {
        let bits = FONT_8X16[usize::from(b'A') * 16 + y];
        for x in 0..8 {
            let want = if bits & (0x80 >> x) != 0 { WHITE } else { BLUE };
            let yy = u32::try_from(y).unwrap();
            assert_eq!(s.get(8 + x, yy), want);
        }
    }
}

#[test]
fn cursor_at_cr0e_cr0f_with_scan_lines_and_blink() {
    let mut vga = Vga::new();
    let mut s = settled(&mut vga);
    put(&mut vga, 5, 3, b' ', 0x1E); // yellow on blue, empty glyph
    let [hi, lo] = (3u16 * 80 + 5).to_be_bytes();
    crtc(&mut vga, 0x0E, hi);
    crtc(&mut vga, 0x0F, lo);
    crtc(&mut vga, 0x0A, 10);
    crtc(&mut vga, 0x0B, 12);
    vga.render(&mut s, 0);
    let yellow = 0xFFFF55;
    let c = cell(&s, 5, 3);
    for (y, row) in c.iter().enumerate() {
        let want = if (10..=12).contains(&y) { yellow } else { BLUE };
        assert!(row.iter().all(|&p| p == want), "line {y}: {row:x?}");
    }
    // The old cursor cell (0,0) no longer shows it.
    assert_eq!(s.get(0, 14), BLACK);

    // 300 ms later (18 frames): cursor phase off, only that cell is dirty.
    let r = vga.render(&mut s, 300);
    assert_eq!(r.dirty, vec![Rect::new(45, 48, 9, 16)]);
    assert!(cell(&s, 5, 3).iter().flatten().all(|&p| p == BLUE));
    // 550 ms (33 frames): back on.
    vga.render(&mut s, 550);
    assert_eq!(s.get(45, 48 + 11), yellow);
    // Nothing changes inside a phase.
    assert!(vga.render(&mut s, 560).dirty.is_empty());

    // CR0A bit 5 disables the cursor.
    crtc(&mut vga, 0x0A, 0x20 | 10);
    vga.render(&mut s, 560);
    assert_eq!(s.get(45, 48 + 11), BLUE);
    // End before start: no cursor either.
    crtc(&mut vga, 0x0A, 12);
    crtc(&mut vga, 0x0B, 10);
    vga.render(&mut s, 560);
    assert_eq!(s.get(45, 48 + 11), BLUE);
}

#[test]
fn dirty_rects_cover_only_changed_cells() {
    let mut vga = Vga::new();
    let mut s = settled(&mut vga);
    // Cursor off so that blinking does not add cells.
    crtc(&mut vga, 0x0A, 0x20);
    vga.render(&mut s, 0);
    assert!(vga.render(&mut s, 100).dirty.is_empty());

    put(&mut vga, 10, 4, b'x', 0x07);
    put(&mut vga, 11, 4, b'y', 0x07);
    put(&mut vga, 70, 4, b'z', 0x07);
    put(&mut vga, 0, 24, b'!', 0x4F);
    // Rewriting a cell with the same content is not a change.
    put(&mut vga, 40, 10, b' ', 0x07);
    let r = vga.render(&mut s, 100);
    assert_eq!(
        r.dirty,
        vec![
            Rect::new(90, 64, 18, 16),
            Rect::new(630, 64, 9, 16),
            Rect::new(0, 384, 9, 16),
        ]
    );
    assert!(vga.render(&mut s, 200).dirty.is_empty());
}

#[test]
fn start_address_change_scrolls() {
    let mut vga = Vga::new();
    crtc(&mut vga, 0x0A, 0x20);
    for row in 0..26 {
        put(
            &mut vga,
            0,
            row,
            b'0' + u8::try_from(row % 10).unwrap(),
            0x07,
        );
    }
    let mut s = settled(&mut vga);
    assert_eq!(
        cell(&s, 0, 0),
        expected_cell(b'0', LIGHT_GREY, BLACK, false)
    );
    // Scroll by one line: start address = 80 cells.
    crtc(&mut vga, 0x0C, 0);
    crtc(&mut vga, 0x0D, 80);
    let r = vga.render(&mut s, 0);
    assert!(!r.resized);
    for row in 0..25u32 {
        let ch = b'0' + u8::try_from((row + 1) % 10).unwrap();
        assert_eq!(
            cell(&s, 0, row),
            expected_cell(ch, LIGHT_GREY, BLACK, false)
        );
    }
    // Only column 0 changed.
    assert!(
        r.dirty.iter().all(|d| d.x == 0 && d.w == 9),
        "{:?}",
        r.dirty
    );
    assert_eq!(r.dirty.len(), 25);
}

#[test]
fn line_compare_splits_the_screen() {
    let mut vga = Vga::new();
    crtc(&mut vga, 0x0A, 0x20);
    put(&mut vga, 0, 0, b'T', 0x07);
    put(&mut vga, 0, 10, b'S', 0x07);
    crtc(&mut vga, 0x0C, 0x00);
    crtc(&mut vga, 0x0D, 0xA0); // start at memory row 2 (160 cells)
    // Line compare at scan line 15: from text row 1 on, memory restarts at 0.
    let cr7 = crtc_read(&mut vga, 0x07);
    crtc(&mut vga, 0x07, cr7 & !0x10);
    let cr9 = crtc_read(&mut vga, 0x09);
    crtc(&mut vga, 0x09, cr9 & !0x40);
    crtc(&mut vga, 0x18, 15);
    let s = settled(&mut vga);
    // Row 0 shows memory row 2 (blank); row 1 shows memory row 0 ('T').
    assert_eq!(
        cell(&s, 0, 0),
        expected_cell(b' ', LIGHT_GREY, BLACK, false)
    );
    assert_eq!(
        cell(&s, 0, 1),
        expected_cell(b'T', LIGHT_GREY, BLACK, false)
    );
    assert_eq!(
        cell(&s, 0, 11),
        expected_cell(b'S', LIGHT_GREY, BLACK, false)
    );
}

#[test]
fn screen_off_gives_black() {
    let mut vga = Vga::new();
    put(&mut vga, 0, 0, 0xDB, 0x0F);
    let mut s = settled(&mut vga);
    assert_eq!(s.get(0, 0), WHITE);
    seq(&mut vga, 1, 0x20); // screen off
    let r = vga.render(&mut s, 0);
    assert_eq!(r.dirty, vec![Rect::new(0, 0, 720, 400)]);
    assert!(s.pixels().iter().all(|&p| p == BLACK));
    assert!(vga.render(&mut s, 1000).dirty.is_empty());
    seq(&mut vga, 1, 0x00);
    let r = vga.render(&mut s, 1000);
    assert!(!r.dirty.is_empty());
    assert_eq!(s.get(0, 0), WHITE);
}

#[test]
fn palette_address_source_clear_blanks() {
    let mut vga = Vga::new();
    put(&mut vga, 0, 0, 0xDB, 0x0F);
    let mut s = settled(&mut vga);
    vga.port_read(0x3DA);
    vga.port_write(0x3C0, 0x00); // index 0 without PAS: the palette is being programmed
    vga.render(&mut s, 0);
    assert!(s.pixels().iter().all(|&p| p == BLACK));
    vga.port_write(0x3C0, 0x3F);
    vga.port_write(0x3C0, 0x20); // PAS back on
    vga.render(&mut s, 0);
    assert_eq!(s.get(0, 0), WHITE);
}

#[test]
fn blink_attribute_and_bright_background() {
    let mut vga = Vga::new();
    crtc(&mut vga, 0x0A, 0x20);
    put(&mut vga, 0, 0, 0xDB, 0x9F); // blink, white on blue
    let mut s = settled(&mut vga);
    assert_eq!(s.get(0, 0), WHITE);
    // 32 frames in: hidden, drawn as background.
    let r = vga.render(&mut s, 600);
    assert_eq!(r.dirty, vec![Rect::new(0, 0, 9, 16)]);
    assert_eq!(s.get(0, 0), BLUE);
    vga.render(&mut s, 1100);
    assert_eq!(s.get(0, 0), WHITE);
    // Blink disabled: bit 7 selects a bright background (light blue), nothing blinks.
    attr_write(&mut vga, 0x30, 0x04);
    put(&mut vga, 1, 0, b' ', 0x90);
    vga.render(&mut s, 600);
    assert_eq!(s.get(0, 0), WHITE);
    assert_eq!(s.get(9, 0), 0x5555FF);
}

#[test]
fn palette_change_redraws_everything() {
    let mut vga = Vga::new();
    crtc(&mut vga, 0x0A, 0x20);
    put(&mut vga, 79, 24, 0xDB, 0x04); // red block in the last cell
    let mut s = settled(&mut vga);
    assert_eq!(s.get(719, 399), RED);
    // DAC entry 4 (used by AR4 = 4) becomes pure green.
    vga.port_write(0x3C8, 4);
    for v in [0, 0x3F, 0] {
        vga.port_write(0x3C9, v);
    }
    let r = vga.render(&mut s, 0);
    assert_eq!(r.dirty.len(), 25); // every row redrawn
    assert_eq!(s.get(719, 399), 0x00FF00);
    // The pel mask applies too: masking index 4 to 0 gives black.
    vga.port_write(0x3C6, 0x03);
    vga.render(&mut s, 0);
    assert_eq!(s.get(719, 399), BLACK);
}

#[test]
fn font_write_redraws_and_font_select_uses_attribute_bit_3() {
    let mut vga = Vga::new();
    crtc(&mut vga, 0x0A, 0x20);
    put(&mut vga, 0, 0, b'A', 0x07);
    put(&mut vga, 1, 0, b'A', 0x0F);
    let mut s = settled(&mut vga);
    // Load a solid glyph for 'A' into slot 1 (plane 2 offset 0x4000) the way a guest does.
    seq(&mut vga, 2, 0x04);
    seq(&mut vga, 4, 0x06);
    gfx(&mut vga, 5, 0x00);
    gfx(&mut vga, 6, 0x04);
    for line in 0..16 {
        vga.mem_write(0xA4000 + u32::from(b'A') * 32 + line, 0xFF);
    }
    seq(&mut vga, 2, 0x03);
    seq(&mut vga, 4, 0x02);
    gfx(&mut vga, 5, 0x10);
    gfx(&mut vga, 6, 0x0E);
    // Map A = slot 1 (bits 3-2 = 01), map B = slot 0.
    seq(&mut vga, 3, 0x04);
    let r = vga.render(&mut s, 0);
    assert_eq!(r.dirty.len(), 25);
    // Attribute 0x07 (bit 3 clear) uses map B: the font's A. 0x0F uses map A: solid.
    assert_eq!(
        cell(&s, 0, 0),
        expected_cell(b'A', LIGHT_GREY, BLACK, false)
    );
    assert!(
        cell(&s, 1, 0)
            .iter()
            .all(|row| row[..8].iter().all(|&p| p == WHITE))
    );
}

#[test]
fn memory_map_select_decodes_the_window() {
    let mut vga = Vga::new();
    // Mode 3: B8000-BFFFF only.
    assert_eq!(vga.mem_read(0xA0000), 0xFF);
    assert_eq!(vga.mem_read(0xB0000), 0xFF);
    assert_eq!(vga.mem_read(0xB8000), b' ');
    assert_eq!(vga.mem_read(0xB8001), 0x07);
    assert_eq!(vga.mem_read(0x9FFFF), 0xFF);
    assert_eq!(vga.mem_read(0xC0000), 0xFF);
    vga.mem_write(0xA0000, 0x55); // ignored
    gfx(&mut vga, 6, 0x02 | (2 << 2)); // B0000-B7FFF
    assert_eq!(vga.mem_read(0xB0000), b' ');
    assert_eq!(vga.mem_read(0xB8000), 0xFF);
    gfx(&mut vga, 6, 0x02); // 128K at A0000: the text page is now at A0000
    assert_eq!(vga.mem_read(0xA0000), b' ');
    assert_eq!(vga.mem_read(0xA0001), 0x07);
    assert_eq!(vga.mem_read(0xBFFFF), 0x00);
}

/// Puts the card in planar mode at A0000 with all planes writable.
fn planar(vga: &mut Vga) {
    seq(vga, 2, 0x0F);
    seq(vga, 4, 0x06);
    gfx(vga, 5, 0x00);
    gfx(vga, 6, 0x05);
}

fn planes_at(vga: &Vga, off: usize) -> [u8; 4] {
    std::array::from_fn(|p| vga.vram[p * PLANE_SIZE + off])
}

#[test]
fn planar_write_mode_0_set_reset_rotate_bitmask_latches() {
    let mut vga = Vga::new();
    planar(&mut vga);
    vga.mem_write(0xA8010, 0xA5);
    assert_eq!(planes_at(&vga, 0x8010), [0xA5; 4]);
    // Map mask: only planes 1 and 3.
    seq(&mut vga, 2, 0x0A);
    vga.mem_write(0xA8011, 0x3C);
    assert_eq!(planes_at(&vga, 0x8011), [0, 0x3C, 0, 0x3C]);
    seq(&mut vga, 2, 0x0F);
    // Set/reset enable on planes 0,1 with value 0b0001: plane 0 = FF, plane 1 = 00.
    gfx(&mut vga, 1, 0x03);
    gfx(&mut vga, 0, 0x01);
    vga.mem_write(0xA8012, 0x0F);
    assert_eq!(planes_at(&vga, 0x8012), [0xFF, 0x00, 0x0F, 0x0F]);
    gfx(&mut vga, 1, 0x00);
    // Rotate right by 4.
    gfx(&mut vga, 3, 0x04);
    vga.mem_write(0xA8013, 0x12);
    assert_eq!(planes_at(&vga, 0x8013), [0x21; 4]);
    gfx(&mut vga, 3, 0x00);
    // Bit mask keeps the latched bits: load latches from 0x10 (A5), write 0x00 with mask F0.
    assert_eq!(vga.mem_read(0xA8010), 0xA5);
    gfx(&mut vga, 8, 0xF0);
    vga.mem_write(0xA8014, 0x00);
    assert_eq!(planes_at(&vga, 0x8014), [0x05; 4]);
    gfx(&mut vga, 8, 0xFF);
    // Logical ops against the latch (A5): XOR with FF.
    gfx(&mut vga, 3, 0x18);
    vga.mem_write(0xA8015, 0xFF);
    assert_eq!(planes_at(&vga, 0x8015), [0x5A; 4]);
    gfx(&mut vga, 3, 0x08); // AND
    vga.mem_write(0xA8016, 0x0F);
    assert_eq!(planes_at(&vga, 0x8016), [0x05; 4]);
    gfx(&mut vga, 3, 0x10); // OR
    vga.mem_write(0xA8017, 0x0F);
    assert_eq!(planes_at(&vga, 0x8017), [0xAF; 4]);
}

#[test]
fn planar_write_modes_1_2_3_and_read_modes() {
    let mut vga = Vga::new();
    planar(&mut vga);
    // Different bytes per plane at 0x20.
    for (p, v) in [0x11u8, 0x22, 0x44, 0x88].into_iter().enumerate() {
        seq(&mut vga, 2, 1 << p);
        vga.mem_write(0xA8020, v);
    }
    seq(&mut vga, 2, 0x0F);
    // Read mode 0 follows GR4.
    for p in 0..4u8 {
        gfx(&mut vga, 4, p);
        assert_eq!(
            vga.mem_read(0xA8020),
            [0x11, 0x22, 0x44, 0x88][usize::from(p)]
        );
    }
    // Write mode 1 copies the latches.
    gfx(&mut vga, 5, 0x01);
    vga.mem_read(0xA8020);
    vga.mem_write(0xA8021, 0x00);
    assert_eq!(planes_at(&vga, 0x8021), [0x11, 0x22, 0x44, 0x88]);
    // Write mode 2: colour 0b0101 expanded, through the bit mask.
    gfx(&mut vga, 5, 0x02);
    gfx(&mut vga, 8, 0x0F);
    vga.mem_read(0xA8020);
    vga.mem_write(0xA8022, 0x05);
    assert_eq!(planes_at(&vga, 0x8022), [0x1F, 0x20, 0x4F, 0x80]);
    // Write mode 3: set/reset colour, bit mask = GR8 & rotated data.
    gfx(&mut vga, 5, 0x03);
    gfx(&mut vga, 8, 0xFF);
    gfx(&mut vga, 0, 0x0A);
    vga.mem_read(0xA8020);
    vga.mem_write(0xA8023, 0xF0);
    assert_eq!(planes_at(&vga, 0x8023), [0x01, 0xF2, 0x04, 0xF8]);
    // Read mode 1 (colour compare): which bits of offset 0x23 have colour 0b1010?
    gfx(&mut vga, 5, 0x08);
    gfx(&mut vga, 2, 0x0A);
    gfx(&mut vga, 7, 0x0F);
    assert_eq!(vga.mem_read(0xA8023), 0xF0);
    // Don't-care all planes: everything matches.
    gfx(&mut vga, 7, 0x00);
    assert_eq!(vga.mem_read(0xA8023), 0xFF);
}

/// Programs mode 13h register by register, as a BIOS mode set does.
fn mode_13h(vga: &mut Vga) {
    vga.port_write(0x3C2, 0x63);
    for (i, v) in [0x03, 0x01, 0x0F, 0x00, 0x0E].into_iter().enumerate() {
        seq(vga, u8::try_from(i).unwrap(), v);
    }
    crtc(vga, 0x11, 0x0E); // unprotect
    let cr = [
        0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF,
    ];
    for (i, v) in cr.into_iter().enumerate() {
        crtc(vga, u8::try_from(i).unwrap(), v);
    }
    for (i, v) in [0, 0, 0, 0, 0, 0x40, 0x05, 0x0F, 0xFF]
        .into_iter()
        .enumerate()
    {
        gfx(vga, u8::try_from(i).unwrap(), v);
    }
    vga.port_read(0x3DA);
    for i in 0..16u8 {
        vga.port_write(0x3C0, i);
        vga.port_write(0x3C0, i);
    }
    for (i, v) in [0x41u8, 0x00, 0x0F, 0x00, 0x00].into_iter().enumerate() {
        vga.port_write(0x3C0, 0x10 + u8::try_from(i).unwrap());
        vga.port_write(0x3C0, v);
    }
    vga.port_write(0x3C0, 0x20);
    // The BIOS clears the screen.
    for a in 0..64000 {
        vga.mem_write(0xA0000 + a, 0);
    }
}

#[test]
fn mode_13h_chain4_renders_256_colours() {
    let mut vga = Vga::new();
    mode_13h(&mut vga);
    // As QEMU shows it: 320 pixels doubled to 640, 200 lines doubled to 400.
    assert_eq!(vga.mode_size(), (640, 400));
    let mut s = Surface::new(1, 1).unwrap();
    vga.render(&mut s, 0);
    assert_eq!((s.width(), s.height()), (640, 400));
    // DAC 200 = orange.
    vga.port_write(0x3C8, 200);
    for v in [0x3F, 0x20, 0x00] {
        vga.port_write(0x3C9, v);
    }
    vga.render(&mut s, 0);
    // Pixel (x=5, y=3) and (319, 199).
    vga.mem_write(0xA0000 + 3 * 320 + 5, 200);
    vga.mem_write(0xA0000 + 199 * 320 + 319, 4);
    assert_eq!(vga.mem_read(0xA0000 + 3 * 320 + 5), 200);
    let r = vga.render(&mut s, 0);
    let orange = 0xFF8200;
    for (x, y) in [(10, 6), (11, 6), (10, 7), (11, 7)] {
        assert_eq!(s.get(x, y), orange);
    }
    assert_eq!(s.get(9, 6), BLACK);
    assert_eq!(s.get(12, 6), BLACK);
    assert_eq!(s.get(639, 399), RED);
    // Only the written scan lines are dirty.
    assert_eq!(
        r.dirty,
        vec![Rect::new(0, 6, 640, 2), Rect::new(0, 398, 640, 2)]
    );
    assert!(vga.render(&mut s, 0).dirty.is_empty());
}

#[test]
fn planar_16_colour_graphics_mode_12h() {
    let mut vga = Vga::new();
    // Mode 12h essentials: 640x480, planar, 16 colours.
    vga.port_write(0x3C2, 0xE3);
    seq(&mut vga, 1, 0x01);
    seq(&mut vga, 2, 0x0F);
    seq(&mut vga, 4, 0x06);
    crtc(&mut vga, 0x11, 0x0C);
    for (i, v) in [
        (0x01, 0x4F),
        (0x07, 0x3E),
        (0x09, 0x40),
        (0x12, 0xDF),
        (0x13, 0x28),
        (0x14, 0x00),
        (0x17, 0xE3),
    ] {
        crtc(&mut vga, i, v);
    }
    gfx(&mut vga, 5, 0x00);
    gfx(&mut vga, 6, 0x05);
    attr_write(&mut vga, 0x30, 0x01);
    vga.port_write(0x3C0, 0x20);
    assert_eq!(vga.mode_size(), (640, 480));
    for a in 0..38400 {
        vga.mem_write(0xA0000 + a, 0);
    }
    let mut s = settled(&mut vga);
    // Write mode 2, colour 4 (red) to the leftmost 4 pixels of line 10.
    gfx(&mut vga, 5, 0x02);
    gfx(&mut vga, 8, 0xF0);
    vga.mem_read(0xA0000 + 10 * 80);
    vga.mem_write(0xA0000 + 10 * 80, 4);
    let r = vga.render(&mut s, 0);
    assert_eq!(r.dirty, vec![Rect::new(0, 10, 640, 1)]);
    assert_eq!(
        (0..6).map(|x| s.get(x, 10)).collect::<Vec<_>>(),
        vec![RED, RED, RED, RED, BLACK, BLACK]
    );
    // Colour plane enable masks plane 2 away: red (plane 2) turns black.
    attr_write(&mut vga, 0x32, 0x0B);
    vga.port_write(0x3C0, 0x20);
    vga.render(&mut s, 0);
    assert_eq!(s.get(0, 10), BLACK);
}

#[test]
fn mode_change_resizes_and_back() {
    let mut vga = Vga::new();
    let mut s = settled(&mut vga);
    mode_13h(&mut vga);
    let r = vga.render(&mut s, 0);
    assert!(r.resized);
    assert_eq!(r.dirty, vec![Rect::new(0, 0, 640, 400)]);
    vga.reset();
    let r = vga.render(&mut s, 0);
    assert!(r.resized);
    assert_eq!((s.width(), s.height()), (720, 400));
}

#[test]
fn guest_register_values_never_break_rendering() {
    // Extreme CRTC/sequencer values: sizes stay inside the surface limits and render
    // produces rectangles inside the surface.
    let mut vga = Vga::new();
    crtc(&mut vga, 0x11, 0x00);
    for (cr1, cr9, cr12, cr7, sr1, gr6) in [
        (0xFF, 0x00, 0xFF, 0x42, 0x08, 0x0E),
        (0x00, 0x1F, 0x00, 0x00, 0x00, 0x0E),
        (0xFF, 0x80, 0xFF, 0x42, 0x08, 0x05),
        (0x00, 0x1F, 0x00, 0x00, 0x01, 0x05),
    ] {
        crtc(&mut vga, 0x01, cr1);
        crtc(&mut vga, 0x09, cr9);
        crtc(&mut vga, 0x12, cr12);
        crtc(&mut vga, 0x07, cr7);
        seq(&mut vga, 1, sr1);
        gfx(&mut vga, 6, gr6);
        let (w, h) = vga.mode_size();
        assert!(w >= 1 && h >= 1 && w <= display::MAX_WIDTH && h <= display::MAX_HEIGHT);
        let mut s = Surface::new(1, 1).unwrap();
        let r = vga.render(&mut s, 0);
        assert_eq!((s.width(), s.height()), (w, h));
        for d in &r.dirty {
            assert!(s.rect().contains_rect(d), "{d:?} outside {w}x{h}");
        }
    }
}
