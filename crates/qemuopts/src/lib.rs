//! QEMU-compatible command-line parsing, with no I/O.
//!
//! Two layers:
//!
//! * [`split_args`] turns argv into `(option, argument)` pairs with QEMU's
//!   single-dash long options (`-vnc :1`, `--vnc :1`), and [`help_text`]
//!   prints them.
//! * [`parse`] reads one option's suboption string (`:1,password=on,to=5`)
//!   the way QEMU's QemuOpts does (implied first key, `,,` for a literal
//!   comma, bare `flag`/`noflag` for booleans) and validates it against a
//!   declarative [`OptsSpec`] in the same pass, so the binary gets typed
//!   values or the first error, leftmost first. [`parse_any`] plus
//!   [`Opts::check_keys`] covers options whose keys depend on a value
//!   (`-object TYPE,...`).
//!
//! Error texts are QEMU's (`Invalid parameter 'foo'`, `Parameter 'password'
//! expects 'on' or 'off'`, `-foo: invalid option`); [`Error::with_option`]
//! adds QEMU's `-vnc :1,foo=bar: ` location, and the binary adds its own
//! name. Inputs longer than [`MAX_INPUT_LEN`] are refused before any
//! allocation proportional to them.
//!
//! ```
//! use qemuopts::{Key, Kind, OptionDef, OptsSpec, parse, split_args};
//!
//! const DEFS: &[OptionDef] = &[
//!     OptionDef { name: "vnc", arg: Some("display"), help: "start a VNC server" },
//! ];
//! const VNC: OptsSpec = OptsSpec {
//!     option: "vnc",
//!     implied: Some("vnc"),
//!     keys: &[
//!         Key { name: "password", kind: Kind::Bool, help: "require a password" },
//!         Key { name: "to", kind: Kind::Number, help: "highest display to try" },
//!     ],
//!     repeatable: &[],
//! };
//!
//! let argv = ["-vnc", ":1,password=on,to=5"].map(String::from);
//! for (def, arg) in split_args(DEFS, argv).unwrap() {
//!     let arg = arg.unwrap();
//!     let opts = parse(&VNC, &arg).map_err(|e| e.with_option(def.name, &arg)).unwrap();
//!     assert_eq!(opts.get("vnc"), Some(":1"));
//!     assert_eq!(opts.get_bool("password"), Some(true));
//!     assert_eq!(opts.get_number("to"), Some(5));
//! }
//!
//! let err = parse(&VNC, ":1,foo=bar").unwrap_err().with_option("vnc", ":1,foo=bar");
//! assert_eq!(err.to_string(), "-vnc :1,foo=bar: Invalid parameter 'foo'");
//! ```
#![forbid(unsafe_code)]

mod argv;
mod error;
mod opts;
mod spec;
mod values;

pub use argv::{OptionDef, help_text, split_args};
pub use error::{Error, ErrorKind, ID_HINT, SIZE_HINT};
pub use opts::{MAX_INPUT_LEN, Opts, escape, parse, parse_any};
pub use spec::{Key, Kind, OptsSpec};
pub use values::is_identifier;
