//! The console guest driven through a real PS/2 controller and a stand-in VGA.

mod common;

use common::Machine;
use guest::console::{MAX_LINE, PROMPT};
use guest::{BootInfo, Guest, new_guest};
use input::QKeyCode;

fn info() -> BootInfo {
    BootInfo {
        product: "Porthole".into(),
        version: "0.1.0".into(),
        name: Some("testvm".into()),
        lines: vec![
            "VNC display 127.0.0.1:1 (port 5901), password required".into(),
            "Monitor on stdio".into(),
        ],
    }
}

fn boot() -> (Machine, Box<dyn Guest>) {
    let mut m = Machine::new();
    let mut g = new_guest("console", info()).unwrap();
    g.reset(&mut m);
    (m, g)
}

/// Row of the current prompt (the last row that starts with the prompt).
fn prompt_row(m: &mut Machine) -> usize {
    (0..25)
        .rev()
        .find(|&r| m.row_text(r).starts_with(PROMPT.trim_end()))
        .expect("a prompt row")
}

#[test]
fn boot_screen_shows_product_name_and_lines() {
    let (mut m, _g) = boot();
    let screen = m.screen();
    assert!(
        screen[0].contains("Porthole 0.1.0"),
        "title: {:?}",
        screen[0]
    );
    assert!(screen[0].contains("testvm"));
    let body = screen[1..].join("\n");
    assert!(!body.contains(guest::console::NO_KEYBOARD));
    assert!(body.contains("Machine: testvm"));
    assert!(body.contains("VNC display 127.0.0.1:1 (port 5901), password required"));
    assert!(body.contains("Monitor on stdio"));
    assert!(body.contains("Type here; keys come from the VNC viewer"));
    let r = prompt_row(&mut m);
    assert_eq!(m.row_text(r), PROMPT.trim_end());
    // Title bar is white on blue across the whole row; text is grey on black.
    for c in 0..80 {
        assert_eq!(m.attr_at(0, c), 0x1F);
    }
    assert_eq!(m.attr_at(r + 1, 0), 0x07);
}

#[test]
fn mode_set_programs_text_mode_registers() {
    let (m, _g) = boot();
    assert_eq!(m.vga.misc, 0x67);
    assert_eq!(m.vga.seq[4], 0x02, "odd/even text addressing");
    assert_eq!(m.vga.gc[6], 0x0E, "memory map B8000, alphanumeric");
    assert_eq!(m.vga.crtc[0x0A], 0x0E, "cursor start");
    assert_eq!(m.vga.crtc[0x0B], 0x0F, "cursor end");
    assert_eq!(
        (m.vga.crtc[0x0C], m.vga.crtc[0x0D]),
        (0, 0),
        "start address"
    );
    assert_eq!(m.vga.crtc[0x01], 0x4F, "80 columns");
    assert_eq!(m.vga.ac[0x10], 0x0C, "text mode, blink");
    assert_eq!(m.vga.dac_writes, 64 * 3);
}

#[test]
fn boot_sets_up_keyboard_controller() {
    let (m, _g) = boot();
    assert_eq!(m.kbd.command_byte() & 0x40, 0x40, "translation on");
    assert_eq!(m.kbd.command_byte() & 0x10, 0, "keyboard interface enabled");
    assert_eq!(m.kbd.pending(), 0, "every reply consumed");
}

#[test]
fn typing_hi_then_enter_echoes_and_responds() {
    let (mut m, mut g) = boot();
    let r = prompt_row(&mut m);
    m.key(QKeyCode::H);
    m.key(QKeyCode::I);
    m.run(g.as_mut());
    assert_eq!(m.row_text(r), "guest> hi");
    m.key(QKeyCode::Ret);
    m.run(g.as_mut());
    assert_eq!(m.row_text(r), "guest> hi");
    assert_eq!(m.row_text(r + 1), "you typed: hi");
    assert_eq!(m.row_text(r + 2), "guest>");
    assert_eq!(m.kbd.pending(), 0);
}

#[test]
fn shifted_letters_are_capitals() {
    let (mut m, mut g) = boot();
    let r = prompt_row(&mut m);
    m.type_str("Hello, World! A_b");
    m.run(g.as_mut());
    assert_eq!(m.row_text(r), "guest> Hello, World! A_b");
}

#[test]
fn caps_lock_gives_capitals_and_sets_the_led() {
    let (mut m, mut g) = boot();
    let r = prompt_row(&mut m);
    m.key(QKeyCode::CapsLock);
    m.type_str("abc1");
    m.run(g.as_mut());
    assert_eq!(m.row_text(r), "guest> ABC1");
    assert_eq!(m.kbd.leds(), 0x04);
    m.key(QKeyCode::CapsLock);
    m.type_str("d");
    m.run(g.as_mut());
    assert_eq!(m.row_text(r), "guest> ABC1d");
    assert_eq!(m.kbd.leds(), 0);
}

#[test]
fn backspace_erases() {
    let (mut m, mut g) = boot();
    let r = prompt_row(&mut m);
    m.type_str("abc");
    m.key(QKeyCode::Backspace);
    m.run(g.as_mut());
    assert_eq!(m.row_text(r), "guest> ab");
    assert_eq!(m.cursor(), r * 80 + PROMPT.len() + 2);
    for _ in 0..5 {
        m.key(QKeyCode::Backspace);
    }
    m.run(g.as_mut());
    assert_eq!(m.row_text(r), "guest>");
    m.type_str("x");
    m.key(QKeyCode::Ret);
    m.run(g.as_mut());
    assert_eq!(m.row_text(r + 1), "you typed: x");
}

#[test]
fn cursor_registers_track_the_edit_position() {
    let (mut m, mut g) = boot();
    let r = prompt_row(&mut m);
    assert_eq!(m.cursor(), r * 80 + PROMPT.len());
    m.type_str("hello");
    m.run(g.as_mut());
    assert_eq!(m.cursor(), r * 80 + PROMPT.len() + 5);
    m.key(QKeyCode::Left);
    m.key(QKeyCode::Left);
    m.run(g.as_mut());
    assert_eq!(m.cursor(), r * 80 + PROMPT.len() + 3);
    m.type_str("X");
    m.run(g.as_mut());
    assert_eq!(m.row_text(r), "guest> helXlo");
    assert_eq!(m.cursor(), r * 80 + PROMPT.len() + 4);
    m.key(QKeyCode::Home);
    m.run(g.as_mut());
    assert_eq!(m.cursor(), r * 80 + PROMPT.len());
    m.key(QKeyCode::Delete);
    m.key(QKeyCode::End);
    m.run(g.as_mut());
    assert_eq!(m.row_text(r), "guest> elXlo");
    assert_eq!(m.cursor(), r * 80 + PROMPT.len() + 5);
    m.key(QKeyCode::Ret);
    m.run(g.as_mut());
    assert_eq!(m.cursor(), (r + 2) * 80 + PROMPT.len());
}

#[test]
fn scrolling_keeps_the_title_bar() {
    let (mut m, mut g) = boot();
    let title = m.row_text(0);
    for i in 0..40 {
        m.type_str(&format!("line {i}"));
        m.key(QKeyCode::Ret);
        m.run(g.as_mut());
    }
    assert_eq!(m.row_text(0), title);
    for c in 0..80 {
        assert_eq!(m.attr_at(0, c), 0x1F);
    }
    assert_eq!(m.row_text(24), "guest>");
    assert_eq!(m.row_text(23), "you typed: line 39");
    assert_eq!(m.row_text(22), "guest> line 39");
    assert_eq!(m.row_text(21), "you typed: line 38");
    // Everything from the boot screen has scrolled away.
    assert!(!m.screen()[1..].join("\n").contains("VNC display"));
    assert_eq!(m.cursor(), 24 * 80 + PROMPT.len());
}

#[test]
fn input_line_is_bounded() {
    let (mut m, mut g) = boot();
    let r = prompt_row(&mut m);
    m.type_str(&"z".repeat(200));
    m.run(g.as_mut());
    let row = m.row_text(r);
    assert_eq!(row.len(), PROMPT.len() + MAX_LINE);
    assert!(row.len() < 80);
}

#[test]
fn queue_bound_holds_when_1000_keys_wait_for_a_stopped_guest() {
    let (mut m, mut g) = boot();
    let r = prompt_row(&mut m);
    for _ in 0..1000 {
        m.key(QKeyCode::A);
        assert!(m.kbd.pending() <= ps2::QUEUE_LEN);
    }
    assert_eq!(m.kbd.pending(), ps2::QUEUE_LEN);
    m.run(g.as_mut());
    assert_eq!(m.kbd.pending(), 0);
    // 256 bytes = 128 presses, of which the line keeps MAX_LINE.
    assert_eq!(m.row_text(r), format!("guest> {}", "a".repeat(MAX_LINE)));
}

#[test]
fn commands_help_echo_and_clear() {
    let (mut m, mut g) = boot();
    let r = prompt_row(&mut m);
    m.type_str("echo  spaced out");
    m.key(QKeyCode::Ret);
    m.run(g.as_mut());
    assert_eq!(m.row_text(r + 1), "spaced out");
    m.type_str("help");
    m.key(QKeyCode::Ret);
    m.run(g.as_mut());
    assert!(m.row_text(r + 3).starts_with("help"));
    m.type_str("clear");
    m.key(QKeyCode::Ret);
    m.run(g.as_mut());
    assert_eq!(m.row_text(1), "guest>");
    for row in 2..25 {
        assert_eq!(m.row_text(row), "");
    }
    assert!(m.row_text(0).contains("Porthole"));
}

#[test]
fn ctrl_c_abandons_the_line() {
    let (mut m, mut g) = boot();
    let r = prompt_row(&mut m);
    m.type_str("oops");
    m.kbd.key_event(QKeyCode::Ctrl, true);
    m.key(QKeyCode::C);
    m.kbd.key_event(QKeyCode::Ctrl, false);
    m.run(g.as_mut());
    assert_eq!(m.row_text(r), "guest> oops^C");
    assert_eq!(m.row_text(r + 1), "guest>");
}

#[test]
fn same_keys_give_the_same_video_memory() {
    let script = |m: &mut Machine, g: &mut dyn Guest| {
        m.type_str("Determinism 123");
        m.key(QKeyCode::Ret);
        m.run(g);
        m.type_str("second");
        m.key(QKeyCode::Left);
        m.key(QKeyCode::Backspace);
        m.run(g);
    };
    let (mut a, mut ga) = boot();
    let (mut b, mut gb) = boot();
    script(&mut a, ga.as_mut());
    script(&mut b, gb.as_mut());
    assert_eq!(a.text_mem(), b.text_mem());
    assert_eq!(a.cursor(), b.cursor());
}

#[test]
fn reset_redraws_the_boot_screen() {
    let (mut m, mut g) = boot();
    let before = m.text_mem();
    m.type_str("something");
    m.key(QKeyCode::Ret);
    m.run(g.as_mut());
    assert_ne!(m.text_mem(), before);
    m.kbd.reset();
    g.reset(&mut m);
    assert_eq!(m.text_mem(), before);
}

#[test]
fn missing_keyboard_controller_does_not_hang_the_slice() {
    // Unrouted ports read 0xFF: "output buffer full" forever.
    let mut m = Machine::new();
    m.kbd_present = false;
    let mut g = new_guest("console", info()).unwrap();
    g.reset(&mut m);
    m.run(g.as_mut());
    assert!(m.row_text(0).contains("Porthole"));
    assert!(
        m.screen()
            .contains(&guest::console::NO_KEYBOARD.to_string())
    );
    assert_eq!(m.row_text(24), "");
}

#[test]
fn long_boot_lines_are_cut_and_their_number_bounded() {
    let mut m = Machine::new();
    let mut info = info();
    info.lines = (0..100)
        .map(|i| format!("boot line {i} {}", "-".repeat(200)))
        .collect();
    let mut g = new_guest("console", info).unwrap();
    g.reset(&mut m);
    let body = m.screen().join("\n");
    assert!(
        !body.contains("boot line 12 "),
        "at most MAX_BOOT_LINES lines"
    );
    assert_eq!(m.row_text(24), "guest>");
}

#[test]
fn bars_guest_draws_sixteen_colours() {
    let mut m = Machine::new();
    let mut g = new_guest("bars", info()).unwrap();
    g.reset(&mut m);
    assert!(m.row_text(0).contains("Porthole 0.1.0"));
    for colour in 0..16u8 {
        let col = usize::from(colour) * 5 + 2;
        assert_eq!(m.attr_at(10, col) >> 4, colour);
        assert_eq!(m.char_at(10, col), b' ');
    }
    assert_eq!(m.vga.ac[0x10] & 0x08, 0, "bright backgrounds, no blink");
    assert_ne!(m.vga.crtc[0x0A] & 0x20, 0, "cursor hidden");
    let labels: String = guest::bars::COLOUR_NAMES
        .iter()
        .map(|n| format!("{n:<5}"))
        .collect();
    assert_eq!(m.row_text(24), labels.trim_end());
    // A static picture: keys change nothing.
    let before = m.text_mem();
    m.key(QKeyCode::A);
    m.run(g.as_mut());
    assert_eq!(m.text_mem(), before);
}
