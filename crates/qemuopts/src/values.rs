//! Scalar value syntax: booleans, numbers, sizes, identifiers.

/// QEMU's `qapi_bool_parse`: the accepted spellings of true and false.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "on" | "yes" | "true" | "y" => Some(true),
        "off" | "no" | "false" | "n" => Some(false),
        _ => None,
    }
}

/// Why a number or size did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueError {
    /// Not the right syntax.
    Invalid,
    /// Right syntax, but negative or at least 2^64.
    OutOfRange,
}

fn all_digits(s: &str, radix: u32) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_digit(radix))
}

/// Parses validated digits in `radix`; they can only fail by overflowing.
fn digits_to_u64(s: &str, radix: u32) -> Result<u64, ValueError> {
    u64::from_str_radix(s, radix).map_err(|_| ValueError::OutOfRange)
}

/// A `Kind::Number` value, like `strtoull(s, .., 0)` consuming the whole
/// string: decimal, `0x`/`0X` hexadecimal, or octal with a leading `0`.
///
/// Unlike strtoull (and so QEMU) this rejects leading white space, a `+`
/// sign, and negative numbers (which QEMU silently wraps modulo 2^64).
pub(crate) fn parse_number(s: &str) -> Result<u64, ValueError> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if all_digits(hex, 16) {
            return digits_to_u64(hex, 16);
        }
        return Err(ValueError::Invalid);
    }
    if let Some(oct) = s.strip_prefix('0')
        && !oct.is_empty()
    {
        if all_digits(oct, 8) {
            return digits_to_u64(oct, 8);
        }
        return Err(ValueError::Invalid);
    }
    if all_digits(s, 10) {
        return digits_to_u64(s, 10);
    }
    Err(ValueError::Invalid)
}

/// Multiplier of a size suffix (`qemu_strtosz`, unit 1024).
fn suffix_multiplier(c: char) -> Option<u64> {
    let shift = match c.to_ascii_uppercase() {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        'P' => 50,
        'E' => 60,
        _ => return None,
    };
    Some(1u64 << shift)
}

/// Fraction digits beyond this many are ignored; they change the result by
/// less than 10^-19 of the multiplier (at most 2^60), so by under one byte
/// except in the rarest rounding cases. QEMU itself goes through a double.
const MAX_FRACTION_DIGITS: usize = 19;

/// A `Kind::Size` value, following current QEMU's `qemu_strtosz`:
///
/// * decimal integer with an optional suffix `B K M G T P E` (any case,
///   powers of 1024): `4096`, `64k`, `2G`;
/// * a decimal fraction needs a suffix larger than bytes and is truncated
///   to whole bytes: `1.5k` is 1536, `1.5` is an error;
/// * `0x` hexadecimal without fraction or suffix;
/// * no octal (`010` is ten), no exponent, no white space;
/// * negative values and values of 2^64 or more are out of range.
pub(crate) fn parse_size(s: &str) -> Result<u64, ValueError> {
    if let Some(rest) = s.strip_prefix('-') {
        // QEMU parses the number and then refuses it for its sign.
        return match parse_size(rest) {
            Ok(_) | Err(ValueError::OutOfRange) => Err(ValueError::OutOfRange),
            Err(ValueError::Invalid) => Err(ValueError::Invalid),
        };
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if all_digits(hex, 16) {
            return digits_to_u64(hex, 16);
        }
        return Err(ValueError::Invalid);
    }

    let int_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (int_digits, rest) = s.split_at(int_end);
    if int_digits.is_empty() {
        return Err(ValueError::Invalid);
    }
    let (frac_digits, rest) = match rest.strip_prefix('.') {
        Some(after_dot) => {
            let end = after_dot
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_dot.len());
            after_dot.split_at(end)
        }
        None => ("", rest),
    };
    let mut chars = rest.chars();
    let multiplier = match (chars.next(), chars.next()) {
        (None, _) => 1,
        (Some(c), None) => suffix_multiplier(c).ok_or(ValueError::Invalid)?,
        (Some(_), Some(_)) => return Err(ValueError::Invalid),
    };

    let frac_digits = &frac_digits[..frac_digits.len().min(MAX_FRACTION_DIGITS)];
    let frac_nonzero = frac_digits.bytes().any(|b| b != b'0');
    if frac_nonzero && multiplier == 1 {
        return Err(ValueError::Invalid);
    }

    let integral = digits_to_u64(int_digits, 10)?;
    let mut total = u128::from(integral) * u128::from(multiplier);
    if frac_nonzero {
        // Both fit: the digits are below 10^19 < 2^64 and the multiplier is
        // at most 2^60, so the product is below 2^124.
        let numerator = u128::from(digits_to_u64(frac_digits, 10)?);
        let exponent = u32::try_from(frac_digits.len()).map_err(|_| ValueError::OutOfRange)?;
        let denominator = 10u128.pow(exponent);
        total += numerator * u128::from(multiplier) / denominator;
    }
    u64::try_from(total).map_err(|_| ValueError::OutOfRange)
}

/// QEMU's `id_wellformed`: an ASCII letter, then ASCII letters, digits,
/// `-`, `.` or `_`.
#[must_use]
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bool_spellings() {
        for s in ["on", "yes", "true", "y"] {
            assert_eq!(parse_bool(s), Some(true), "{s}");
        }
        for s in ["off", "no", "false", "n"] {
            assert_eq!(parse_bool(s), Some(false), "{s}");
        }
        for s in ["", "ON", "1", "0", "enable", " on"] {
            assert_eq!(parse_bool(s), None, "{s}");
        }
    }

    #[test]
    fn number_bases() {
        assert_eq!(parse_number("0"), Ok(0));
        assert_eq!(parse_number("5"), Ok(5));
        assert_eq!(parse_number("0x1f"), Ok(31));
        assert_eq!(parse_number("0XFF"), Ok(255));
        assert_eq!(parse_number("010"), Ok(8));
        assert_eq!(parse_number("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_number("0xffffffffffffffff"), Ok(u64::MAX));
    }

    #[test]
    fn number_rejects() {
        for s in [
            "", "x", "0x", "08", "1k", "+1", "-1", " 1", "1 ", "1.0", "0x1g",
        ] {
            assert_eq!(parse_number(s), Err(ValueError::Invalid), "{s:?}");
        }
        for s in [
            "18446744073709551616",
            "0x10000000000000000",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_number(s), Err(ValueError::OutOfRange), "{s}");
        }
    }

    #[test]
    fn size_suffixes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("12b"), Ok(12));
        assert_eq!(parse_size("12B"), Ok(12));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("1P"), Ok(1 << 50));
        assert_eq!(parse_size("15E"), Ok(15 << 60));
        assert_eq!(parse_size("010"), Ok(10));
        assert_eq!(parse_size("0x10"), Ok(16));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn size_fractions() {
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("0.5M"), Ok(512 << 10));
        assert_eq!(parse_size("1.k"), Ok(1024));
        assert_eq!(parse_size("1.0"), Ok(1));
        assert_eq!(parse_size("1.5"), Err(ValueError::Invalid));
        assert_eq!(parse_size("1.5b"), Err(ValueError::Invalid));
        // Truncated to whole bytes.
        assert_eq!(parse_size("0.001k"), Ok(1));
        assert_eq!(parse_size("0.0001k"), Ok(0));
    }

    #[test]
    fn size_rejects() {
        for s in [
            "", "k", ".5k", "1kk", "1x", "1e3", "0x1k", "0x1.8", "0x", " 1", "1 ", "-", "-x",
        ] {
            assert_eq!(parse_size(s), Err(ValueError::Invalid), "{s:?}");
        }
        for s in [
            "-1",
            "-0",
            "-1k",
            "16E",
            "18446744073709551616",
            "0x10000000000000000",
            "17179869184G",
        ] {
            assert_eq!(parse_size(s), Err(ValueError::OutOfRange), "{s}");
        }
    }

    #[test]
    fn identifiers() {
        for s in ["a", "sec0", "tls-creds.x_1", "Z"] {
            assert!(is_identifier(s), "{s}");
        }
        for s in ["", "0a", "-a", "a b", "a,b", "é", "a/b", "_a"] {
            assert!(!is_identifier(s), "{s}");
        }
    }
}
