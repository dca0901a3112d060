use super::*;

fn drain(k: &mut Ps2Kbd) -> Vec<u8> {
    let mut out = Vec::new();
    // Bounded: the queues hold at most QUEUE_LEN + REPLY_LEN bytes.
    for _ in 0..(QUEUE_LEN + REPLY_LEN + 1) {
        if k.port_read(PORT_STATUS) & STATUS_OBF == 0 {
            return out;
        }
        out.push(k.port_read(PORT_DATA));
    }
    panic!("output buffer never emptied");
}

fn press(k: &mut Ps2Kbd, q: QKeyCode) -> Vec<u8> {
    k.key_event(q, true);
    k.key_event(q, false);
    drain(k)
}

#[test]
fn initial_status_is_post_bios() {
    let mut k = Ps2Kbd::new();
    let s = k.port_read(PORT_STATUS);
    assert_eq!(s & STATUS_OBF, 0);
    assert_eq!(s & STATUS_IBF, 0);
    assert_ne!(s & STATUS_SYS, 0);
    assert_eq!(k.pending(), 0);
    k.port_write(PORT_STATUS, 0x20);
    assert_ne!(k.port_read(PORT_STATUS) & STATUS_CMD, 0);
    assert_eq!(drain(&mut k), vec![DEFAULT_MODE]);
}

#[test]
fn letters_make_and_break_in_set1() {
    let mut k = Ps2Kbd::new();
    assert_eq!(press(&mut k, QKeyCode::A), vec![0x1e, 0x9e]);
    assert_eq!(press(&mut k, QKeyCode::Ret), vec![0x1c, 0x9c]);
    assert_eq!(press(&mut k, QKeyCode::Esc), vec![0x01, 0x81]);
}

#[test]
fn extended_keys_carry_e0_prefix() {
    let mut k = Ps2Kbd::new();
    assert_eq!(press(&mut k, QKeyCode::Left), vec![0xe0, 0x4b, 0xe0, 0xcb]);
    assert_eq!(press(&mut k, QKeyCode::CtrlR), vec![0xe0, 0x1d, 0xe0, 0x9d]);
    assert_eq!(
        press(&mut k, QKeyCode::KpEnter),
        vec![0xe0, 0x1c, 0xe0, 0x9c]
    );
    assert_eq!(qcode_to_set1(QKeyCode::Delete), &[0xe0, 0x53]);
    assert_eq!(qcode_to_set1(QKeyCode::A), &[0x1e]);
    assert_eq!(qcode_to_set1(QKeyCode::Unmapped), &[] as &[u8]);
}

#[test]
fn set1_codes_agree_with_qemu_numbers() {
    // qnum is set 1 with E0 folded into bit 7; check the two tables agree.
    for &q in QKeyCode::all() {
        let set1 = qcode_to_set1(q);
        let n = input::qcode_to_number(q);
        match q {
            QKeyCode::Unmapped => assert!(set1.is_empty()),
            QKeyCode::Pause => assert_eq!(n, 0xc6),
            QKeyCode::Print | QKeyCode::Sysrq => assert_eq!(n, 0x54),
            QKeyCode::Lang1 | QKeyCode::Lang2 => assert_eq!(u32::from(set1[0] & 0x7f), n),
            _ => {
                let expect = match set1 {
                    [0xe0, c] => 0x80 | u32::from(*c),
                    [c] => u32::from(*c),
                    other => panic!("{q:?}: unexpected {other:x?}"),
                };
                assert_eq!(expect, n, "{q:?}");
            }
        }
    }
}

#[test]
fn key_without_set2_code_is_sent_translated_but_dropped_raw() {
    let mut k = Ps2Kbd::new();
    assert!(qcode_to_set2(QKeyCode::F16).is_empty());
    assert_eq!(press(&mut k, QKeyCode::F16), vec![0x55, 0xd5]);
    k.port_write(PORT_STATUS, 0x60);
    k.port_write(PORT_DATA, DEFAULT_MODE & !MODE_XLATE);
    assert_eq!(
        k.try_key_event(QKeyCode::F16, true),
        Err(Error::NoScancode(QKeyCode::F16))
    );
    assert_eq!(k.pending(), 0);
}

#[test]
fn pause_sends_its_sequence_on_press_only() {
    let mut k = Ps2Kbd::new();
    assert_eq!(
        press(&mut k, QKeyCode::Pause),
        vec![0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]
    );
    k.key_event(QKeyCode::Ctrl, true);
    k.key_event(QKeyCode::Pause, true);
    k.key_event(QKeyCode::Pause, false);
    k.key_event(QKeyCode::Ctrl, false);
    assert_eq!(drain(&mut k), vec![0x1d, 0xe0, 0x46, 0xe0, 0xc6, 0x9d]);
}

#[test]
fn print_depends_on_modifiers_and_sysrq_is_print() {
    let mut k = Ps2Kbd::new();
    assert_eq!(
        press(&mut k, QKeyCode::Print),
        vec![0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa]
    );
    assert_eq!(
        press(&mut k, QKeyCode::Sysrq),
        vec![0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa]
    );
    k.key_event(QKeyCode::Alt, true);
    k.key_event(QKeyCode::Print, true);
    k.key_event(QKeyCode::Print, false);
    k.key_event(QKeyCode::Alt, false);
    assert_eq!(
        drain(&mut k),
        vec![0x38, 0xb8, 0x38, 0x54, 0xd4, 0xb8, 0x38, 0xb8]
    );
}

#[test]
fn hangeul_has_no_break_code() {
    let mut k = Ps2Kbd::new();
    assert_eq!(press(&mut k, QKeyCode::Lang1), vec![0xf2]);
    assert_eq!(k.try_key_event(QKeyCode::Lang2, false), Ok(()));
}

#[test]
fn unmapped_key_is_reported() {
    let mut k = Ps2Kbd::new();
    assert_eq!(
        k.try_key_event(QKeyCode::Unmapped, true),
        Err(Error::NoScancode(QKeyCode::Unmapped))
    );
    assert_eq!(k.pending(), 0);
}

#[test]
fn translation_off_gives_set2() {
    let mut k = Ps2Kbd::new();
    k.port_write(PORT_STATUS, 0x60);
    k.port_write(PORT_DATA, DEFAULT_MODE & !MODE_XLATE);
    assert_eq!(press(&mut k, QKeyCode::A), vec![0x1c, 0xf0, 0x1c]);
    assert_eq!(
        press(&mut k, QKeyCode::Left),
        vec![0xe0, 0x6b, 0xe0, 0xf0, 0x6b]
    );
    // Identify answers with the untranslated id.
    k.port_write(PORT_DATA, 0xf2);
    assert_eq!(drain(&mut k), vec![0xfa, 0xab, 0x83]);
    // Selecting set 1 without translation gives set-1 codes.
    k.port_write(PORT_DATA, 0xf0);
    assert_eq!(drain(&mut k), vec![0xfa]);
    k.port_write(PORT_DATA, 0x01);
    assert_eq!(drain(&mut k), vec![0xfa]);
    assert_eq!(press(&mut k, QKeyCode::A), vec![0x1e, 0x9e]);
    k.port_write(PORT_DATA, 0xf0);
    assert_eq!(drain(&mut k), vec![0xfa]);
    k.port_write(PORT_DATA, 0x00);
    assert_eq!(drain(&mut k), vec![0xfa, 0x01]);
}

#[test]
fn controller_commands() {
    let mut k = Ps2Kbd::new();
    k.port_write(PORT_STATUS, 0xaa);
    assert_eq!(drain(&mut k), vec![0x55]);
    k.port_write(PORT_STATUS, 0xab);
    assert_eq!(drain(&mut k), vec![0x00]);
    k.port_write(PORT_STATUS, 0x60);
    k.port_write(PORT_DATA, 0x45);
    assert_eq!(k.command_byte(), 0x45);
    k.port_write(PORT_STATUS, 0x20);
    assert_eq!(drain(&mut k), vec![0x45]);
    // D2 puts a byte in the output buffer as if the keyboard sent it.
    k.port_write(PORT_STATUS, 0xd2);
    k.port_write(PORT_DATA, 0x42);
    assert_eq!(drain(&mut k), vec![0x42]);
    assert!(!k.take_reset_request());
    k.port_write(PORT_STATUS, 0xfe);
    assert!(k.take_reset_request());
    assert!(!k.take_reset_request());
}

#[test]
fn system_flag_follows_command_byte() {
    let mut k = Ps2Kbd::new();
    k.port_write(PORT_STATUS, 0x60);
    k.port_write(PORT_DATA, MODE_KBD_INT | MODE_XLATE);
    assert_eq!(k.port_read(PORT_STATUS) & STATUS_SYS, 0);
    k.port_write(PORT_STATUS, 0xaa);
    assert_ne!(k.port_read(PORT_STATUS) & STATUS_SYS, 0);
}

#[test]
fn keyboard_commands_reply() {
    let mut k = Ps2Kbd::new();
    k.port_write(PORT_DATA, 0xff);
    assert_eq!(drain(&mut k), vec![0xfa, 0xaa]);
    k.port_write(PORT_DATA, 0xf4);
    assert_eq!(drain(&mut k), vec![0xfa]);
    k.port_write(PORT_DATA, 0xee);
    assert_eq!(drain(&mut k), vec![0xee]);
    k.port_write(PORT_DATA, 0xf2);
    assert_eq!(drain(&mut k), vec![0xfa, 0xab, 0x41]);
    k.port_write(PORT_DATA, 0xed);
    assert_eq!(drain(&mut k), vec![0xfa]);
    k.port_write(PORT_DATA, 0x04);
    assert_eq!(drain(&mut k), vec![0xfa]);
    assert_eq!(k.leds(), 0x04);
    k.port_write(PORT_DATA, 0xf0);
    assert_eq!(drain(&mut k), vec![0xfa]);
    k.port_write(PORT_DATA, 0x00);
    assert_eq!(drain(&mut k), vec![0xfa, 0x41]);
    k.port_write(PORT_DATA, 0xf0);
    assert_eq!(drain(&mut k), vec![0xfa]);
    k.port_write(PORT_DATA, 0x03);
    assert_eq!(drain(&mut k), vec![0xfe]);
    k.port_write(PORT_DATA, 0x77);
    assert_eq!(drain(&mut k), vec![0xfe]);
}

#[test]
fn replies_are_read_before_queued_keys() {
    let mut k = Ps2Kbd::new();
    k.key_event(QKeyCode::B, true);
    k.port_write(PORT_DATA, 0xee);
    assert_eq!(drain(&mut k), vec![0xee, 0x30]);
}

#[test]
fn unread_reply_is_discarded_by_the_next_command() {
    let mut k = Ps2Kbd::new();
    k.port_write(PORT_DATA, 0xf2);
    k.port_write(PORT_DATA, 0xee);
    assert_eq!(drain(&mut k), vec![0xee]);
}

#[test]
fn reset_command_clears_queued_keys() {
    let mut k = Ps2Kbd::new();
    k.key_event(QKeyCode::B, true);
    k.port_write(PORT_DATA, 0xff);
    assert_eq!(drain(&mut k), vec![0xfa, 0xaa]);
}

#[test]
fn keys_dropped_while_interface_disabled() {
    let mut k = Ps2Kbd::new();
    k.port_write(PORT_STATUS, 0xad);
    assert_eq!(k.try_key_event(QKeyCode::A, true), Err(Error::Disabled));
    assert_eq!(k.port_read(PORT_STATUS) & STATUS_OBF, 0);
    k.port_write(PORT_STATUS, 0xae);
    assert_eq!(press(&mut k, QKeyCode::A), vec![0x1e, 0x9e]);
}

#[test]
fn keys_dropped_while_scanning_disabled() {
    let mut k = Ps2Kbd::new();
    k.port_write(PORT_DATA, 0xf5);
    assert_eq!(drain(&mut k), vec![0xfa]);
    k.key_event(QKeyCode::A, true);
    assert_eq!(k.pending(), 0);
    k.port_write(PORT_DATA, 0xf4);
    assert_eq!(drain(&mut k), vec![0xfa]);
    assert_eq!(press(&mut k, QKeyCode::A), vec![0x1e, 0x9e]);
}

#[test]
fn empty_buffer_reads_back_last_byte() {
    let mut k = Ps2Kbd::new();
    k.key_event(QKeyCode::C, true);
    assert_eq!(k.port_read(PORT_DATA), 0x2e);
    assert_eq!(k.port_read(PORT_DATA), 0x2e);
    assert_eq!(k.port_read(PORT_STATUS) & STATUS_OBF, 0);
}

#[test]
fn queue_bound_holds_under_a_flood_of_keys() {
    let mut k = Ps2Kbd::new();
    let mut full = 0;
    for i in 0..1000 {
        let q = if i % 2 == 0 {
            QKeyCode::A
        } else {
            QKeyCode::Left
        };
        for down in [true, false] {
            if k.try_key_event(q, down) == Err(Error::QueueFull) {
                full += 1;
            }
        }
        assert!(k.pending() <= QUEUE_LEN);
    }
    assert!(full > 0);
    let bytes = drain(&mut k);
    assert!(bytes.len() <= QUEUE_LEN);
    assert!(bytes.len() >= QUEUE_LEN - MAX_SEQ);
    // Never half a sequence: every E0 is followed by a code.
    let mut it = bytes.iter();
    while let Some(&b) = it.next() {
        if b == 0xe0 {
            assert!(matches!(it.next(), Some(0x4b | 0xcb)));
        } else {
            assert!(matches!(b, 0x1e | 0x9e), "{b:#x}");
        }
    }
}

#[test]
fn unknown_ports_are_inert() {
    let mut k = Ps2Kbd::new();
    assert_eq!(k.port_read(0x61), 0xff);
    k.port_write(0x61, 0x00);
    assert_eq!(k.pending(), 0);
}

#[test]
fn reset_restores_power_on_state() {
    let mut k = Ps2Kbd::new();
    k.port_write(PORT_STATUS, 0xad);
    k.port_write(PORT_DATA, 0xed);
    k.key_event(QKeyCode::A, true);
    k.reset();
    assert_eq!(k.pending(), 0);
    assert_eq!(k.command_byte(), DEFAULT_MODE);
    assert_eq!(press(&mut k, QKeyCode::A), vec![0x1e, 0x9e]);
}
