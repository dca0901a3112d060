//! Splitting argv into QEMU-style single-dash long options.

use crate::error::{Error, ErrorKind};

/// One command-line option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionDef {
    /// The name without dash, e.g. `vnc`.
    pub name: &'static str,
    /// The metavariable shown in help if the option takes an argument
    /// (e.g. `"display"`), `None` for a flag.
    pub arg: Option<&'static str>,
    /// Help text; may span several lines (separated by `\n`).
    pub help: &'static str,
}

/// Splits `args` (without the program name) into options and their
/// arguments, in order, the way QEMU's `lookup_opt` does:
///
/// * `-name` and `--name` are the same option; matching is exact.
/// * An option that takes an argument consumes the next element whatever
///   it looks like (`-vnc -foo` gives `vnc` the argument `-foo`).
/// * There is no `--` terminator and no `-name=value` form.
///
/// # Errors
///
/// * [`ErrorKind::UnexpectedArgument`] for an element not starting with `-`
///   (QEMU's disk image; we have none);
/// * [`ErrorKind::InvalidOption`] for an unknown name (also `-` and `--`);
/// * [`ErrorKind::RequiresArgument`] when the argument is missing.
///
/// The messages name the option as it was typed.
pub fn split_args(
    defs: &[OptionDef],
    args: impl IntoIterator<Item = String>,
) -> Result<Vec<(&OptionDef, Option<String>)>, Error> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(name) = arg.strip_prefix('-') else {
            return Err(ErrorKind::UnexpectedArgument { arg }.into());
        };
        let name = name.strip_prefix('-').unwrap_or(name);
        let Some(def) = defs.iter().find(|d| d.name == name) else {
            return Err(ErrorKind::InvalidOption { option: arg }.into());
        };
        let value = match def.arg {
            Some(_) => match args.next() {
                Some(value) => Some(value),
                None => return Err(ErrorKind::RequiresArgument { option: arg }.into()),
            },
            None => None,
        };
        out.push((def, value));
    }
    Ok(out)
}

/// The help column never starts further right than this; longer option
/// columns put their help on the following line.
const MAX_HELP_COLUMN: usize = 28;
/// Spaces between the option column and its help.
const GUTTER: usize = 2;

/// One line per option, `-name METAVAR` padded so that the help texts line
/// up; continuation lines of multi-line help are indented to the same
/// column. Every line ends with `\n`; no line has trailing spaces.
#[must_use]
pub fn help_text(defs: &[OptionDef]) -> String {
    let lefts: Vec<String> = defs
        .iter()
        .map(|d| match d.arg {
            Some(meta) => format!("-{} {meta}", d.name),
            None => format!("-{}", d.name),
        })
        .collect();
    let width = lefts
        .iter()
        .map(|l| l.chars().count())
        .filter(|&w| w <= MAX_HELP_COLUMN)
        .max()
        .unwrap_or(0);
    let indent = " ".repeat(width + GUTTER);

    let mut out = String::new();
    for (def, left) in defs.iter().zip(&lefts) {
        let mut help = def.help.lines();
        out.push_str(left);
        let left_width = left.chars().count();
        match help.next() {
            Some(first) if left_width <= width => {
                out.push_str(&" ".repeat(width + GUTTER - left_width));
                out.push_str(first);
            }
            Some(first) => {
                out.push('\n');
                out.push_str(&indent);
                out.push_str(first);
            }
            None => {}
        }
        out.push('\n');
        for line in help {
            if !line.is_empty() {
                out.push_str(&indent);
                out.push_str(line);
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFS: &[OptionDef] = &[
        OptionDef {
            name: "vnc",
            arg: Some("display"),
            help: "start a VNC server on display",
        },
        OptionDef {
            name: "S",
            arg: None,
            help: "freeze CPU at startup",
        },
        OptionDef {
            name: "monitor",
            arg: Some("dev"),
            help: "redirect the monitor to char device 'dev'\n(may be given several times)",
        },
        OptionDef {
            name: "nodefaults",
            arg: None,
            help: "",
        },
    ];

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn names(v: &[(&OptionDef, Option<String>)]) -> Vec<(String, Option<String>)> {
        v.iter()
            .map(|(d, a)| (d.name.to_owned(), a.clone()))
            .collect()
    }

    #[test]
    fn splits_flags_and_arguments_in_order() {
        let got = split_args(
            DEFS,
            args(&["-vnc", ":1", "-S", "-monitor", "stdio", "-vnc", ":2"]),
        )
        .unwrap();
        assert_eq!(
            names(&got),
            vec![
                ("vnc".to_owned(), Some(":1".to_owned())),
                ("S".to_owned(), None),
                ("monitor".to_owned(), Some("stdio".to_owned())),
                ("vnc".to_owned(), Some(":2".to_owned())),
            ]
        );
    }

    #[test]
    fn double_dash_is_the_same_option() {
        let got = split_args(DEFS, args(&["--vnc", ":1", "--S"])).unwrap();
        assert_eq!(
            names(&got),
            vec![
                ("vnc".to_owned(), Some(":1".to_owned())),
                ("S".to_owned(), None)
            ]
        );
    }

    #[test]
    fn argument_is_taken_even_if_it_looks_like_an_option() {
        let got = split_args(DEFS, args(&["-vnc", "-S"])).unwrap();
        assert_eq!(names(&got), vec![("vnc".to_owned(), Some("-S".to_owned()))]);
    }

    #[test]
    fn empty_argv_is_fine() {
        assert!(split_args(DEFS, Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn unknown_option_text() {
        let err = split_args(DEFS, args(&["-S", "-foo"])).unwrap_err();
        assert_eq!(err.to_string(), "-foo: invalid option");
        let err = split_args(DEFS, args(&["--foo"])).unwrap_err();
        assert_eq!(err.to_string(), "--foo: invalid option");
    }

    #[test]
    fn lone_dashes_are_invalid_options() {
        assert_eq!(
            split_args(DEFS, args(&["-"])).unwrap_err().to_string(),
            "-: invalid option"
        );
        assert_eq!(
            split_args(DEFS, args(&["--"])).unwrap_err().to_string(),
            "--: invalid option"
        );
        assert_eq!(
            split_args(DEFS, args(&["---vnc"])).unwrap_err().to_string(),
            "---vnc: invalid option"
        );
    }

    #[test]
    fn matching_is_exact() {
        assert!(split_args(DEFS, args(&["-VNC", ":1"])).is_err());
        assert!(split_args(DEFS, args(&["-vn", ":1"])).is_err());
        assert!(split_args(DEFS, args(&["-vnc=:1"])).is_err());
    }

    #[test]
    fn missing_argument_text() {
        let err = split_args(DEFS, args(&["-S", "-vnc"])).unwrap_err();
        assert_eq!(err.to_string(), "-vnc: requires an argument");
        let err = split_args(DEFS, args(&["--monitor"])).unwrap_err();
        assert_eq!(err.to_string(), "--monitor: requires an argument");
    }

    #[test]
    fn positional_argument_text() {
        let err = split_args(DEFS, args(&["-S", "disk.img"])).unwrap_err();
        assert_eq!(err.to_string(), "'disk.img': unexpected argument");
        let err = split_args(DEFS, args(&[""])).unwrap_err();
        assert_eq!(err.to_string(), "'': unexpected argument");
    }

    #[test]
    fn help_is_aligned_with_continuations() {
        let expected = "\
-vnc display  start a VNC server on display
-S            freeze CPU at startup
-monitor dev  redirect the monitor to char device 'dev'
              (may be given several times)
-nodefaults
";
        assert_eq!(help_text(DEFS), expected);
    }

    #[test]
    fn help_puts_long_option_help_on_next_line() {
        const LONG: &[OptionDef] = &[
            OptionDef {
                name: "S",
                arg: None,
                help: "freeze",
            },
            OptionDef {
                name: "object",
                arg: Some("TYPE,id=ID[,PROP=VALUE...]"),
                help: "create an object",
            },
        ];
        let expected = "-S  freeze\n-object TYPE,id=ID[,PROP=VALUE...]\n    create an object\n";
        assert_eq!(help_text(LONG), expected);
    }
}
