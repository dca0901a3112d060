//! The declarative description of one option's suboptions.

use std::fmt::Write as _;

/// The type of a key's value; values are validated at parse time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any string (possibly empty).
    Str,
    /// `on`/`off` (also `yes`/`no`, `true`/`false`, `y`/`n`). May be given
    /// bare: `key` means `key=on`, `nokey` means `key=off`.
    Bool,
    /// An unsigned 64-bit integer: decimal, `0x` hex or `0`-prefixed octal.
    Number,
    /// A byte count with an optional `k M G T P E` suffix (powers of 1024).
    /// Read it with [`Opts::get_number`](crate::Opts::get_number).
    Size,
    /// An object identifier: an ASCII letter, then letters, digits, `-`,
    /// `.` or `_` (QEMU's rule for `id=`).
    Id,
}

impl Kind {
    /// QEMU's name for the type in help output.
    #[must_use]
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Str => "str",
            Kind::Bool => "bool (on/off)",
            Kind::Number => "num",
            Kind::Size => "size",
            Kind::Id => "id",
        }
    }
}

/// One accepted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key's name, e.g. `password`.
    pub name: &'static str,
    /// What its value must look like.
    pub kind: Kind,
    /// One line for `-option help`.
    pub help: &'static str,
}

/// Everything [`parse`](crate::parse) needs to validate one option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptsSpec {
    /// The option's name without dash, e.g. `vnc` (used in help output).
    pub option: &'static str,
    /// The key an unnamed first element is assigned to (`:1` means
    /// `vnc=:1`). If the key is not also listed in `keys`, it is taken to be
    /// a [`Kind::Str`] key.
    pub implied: Option<&'static str>,
    /// The accepted keys. QEMU's `id` is not special here: list it (usually
    /// as [`Kind::Id`]) if the option takes one.
    pub keys: &'static [Key],
    /// Keys whose every occurrence is kept. For any other key a later
    /// occurrence replaces the earlier ones.
    pub repeatable: &'static [&'static str],
}

impl OptsSpec {
    /// The kind of `name`, or `None` if the spec does not accept it.
    #[must_use]
    pub fn kind_of(&self, name: &str) -> Option<Kind> {
        self.keys
            .iter()
            .find(|k| k.name == name)
            .map(|k| k.kind)
            .or_else(|| (self.implied == Some(name)).then_some(Kind::Str))
    }

    /// Whether `name` may occur more than once.
    #[must_use]
    pub fn is_repeatable(&self, name: &str) -> bool {
        self.repeatable.contains(&name)
    }

    /// QEMU-style help for `-option help`: a caption, then one line per key,
    /// sorted, as `  name=<type>` padded to 24 columns, then ` - help`.
    #[must_use]
    pub fn help_text(&self) -> String {
        const HELP_COLUMN: usize = 24;
        let mut lines: Vec<String> = self
            .keys
            .iter()
            .map(|key| {
                let mut line = format!("  {}=<{}>", key.name, key.kind.type_name());
                if !key.help.is_empty() {
                    while line.len() < HELP_COLUMN {
                        line.push(' ');
                    }
                    line.push_str(" - ");
                    line.push_str(key.help);
                }
                line
            })
            .collect();
        lines.sort();
        if lines.is_empty() {
            return format!("There are no options for {}.\n", self.option);
        }
        let mut out = format!("{} options:\n", self.option);
        for line in lines {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{line}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[Key] = &[
        Key {
            name: "to",
            kind: Kind::Number,
            help: "highest port to try",
        },
        Key {
            name: "password",
            kind: Kind::Bool,
            help: "require VNC authentication",
        },
        Key {
            name: "share",
            kind: Kind::Str,
            help: "",
        },
    ];
    const SPEC: OptsSpec = OptsSpec {
        option: "vnc",
        implied: Some("vnc"),
        keys: KEYS,
        repeatable: &[],
    };

    #[test]
    fn kind_of_listed_and_implied() {
        assert_eq!(SPEC.kind_of("to"), Some(Kind::Number));
        assert_eq!(SPEC.kind_of("vnc"), Some(Kind::Str));
        assert_eq!(SPEC.kind_of("foo"), None);
    }

    #[test]
    fn help_text_is_sorted_and_aligned() {
        let expected = "vnc options:\n\
                        \x20 password=<bool (on/off)> - require VNC authentication\n\
                        \x20 share=<str>\n\
                        \x20 to=<num>               - highest port to try\n";
        assert_eq!(SPEC.help_text(), expected);
    }

    #[test]
    fn help_text_without_keys() {
        let spec = OptsSpec {
            option: "empty",
            implied: None,
            keys: &[],
            repeatable: &[],
        };
        assert_eq!(spec.help_text(), "There are no options for empty.\n");
    }
}
