//! A minimal DER reader for the few certificate fields rust-openssl does not expose:
//! the raw attribute values of a distinguished name (tag and bytes, needed to
//! reproduce GnuTLS's DN strings) and the basicConstraints, keyUsage and
//! extKeyUsage extensions with their critical flags (needed by the QEMU-style
//! sanity checks).
//!
//! The reader never allocates from a length it reads: every length is checked
//! against the bytes actually present, so malformed input only yields `None`.

/// Universal tag numbers (class universal, as the first identifier byte).
pub(crate) mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const NUMERIC_STRING: u8 = 0x12;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const TELETEX_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const UNIVERSAL_STRING: u8 = 0x1c;
    pub const BMP_STRING: u8 = 0x1e;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    /// `[3]` constructed, context-specific (the certificate extensions).
    pub const CTX3: u8 = 0xa3;
}

/// Bytes of a length field we accept in long form (4 GiB is far beyond any certificate).
const MAX_LENGTH_BYTES: usize = 4;

/// One DER element: its identifier byte, its contents and the whole encoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub contents: &'a [u8],
    pub raw: &'a [u8],
}

/// Splits the first element off `input`. High tag numbers and indefinite lengths
/// (neither appears in the structures we read) are rejected.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > MAX_LENGTH_BYTES || rest.len() < n {
            return None;
        }
        let (bytes, after) = rest.split_at(n);
        rest = after;
        bytes.iter().try_fold(0usize, |acc, &b| {
            acc.checked_mul(256)?.checked_add(usize::from(b))
        })?
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    let header = input.len() - rest.len();
    let raw = input.get(..header + len)?;
    Some((Tlv { tag, contents, raw }, after))
}

/// Iterates over the elements of a constructed value's contents.
pub(crate) struct Elements<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Elements<'a> {
    pub(crate) fn new(contents: &'a [u8]) -> Self {
        Self {
            rest: contents,
            failed: false,
        }
    }

    /// Whether the iteration stopped on malformed input rather than at the end.
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Tlv<'a>;

    fn next(&mut self) -> Option<Tlv<'a>> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match read_tlv(self.rest) {
            Some((tlv, rest)) => {
                self.rest = rest;
                Some(tlv)
            }
            None => {
                self.failed = true;
                None
            }
        }
    }
}

/// Reads a whole element that must have tag `want` and fill `input` exactly.
fn expect_whole(input: &[u8], want: u8) -> Option<Tlv<'_>> {
    let (tlv, rest) = read_tlv(input)?;
    (tlv.tag == want && rest.is_empty()).then_some(tlv)
}

/// Formats the contents of an OBJECT IDENTIFIER in dotted form ("2.5.4.3").
pub(crate) fn oid_to_string(contents: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    let mut in_arc = false;
    for &b in contents {
        if !in_arc && b == 0x80 {
            // Non-minimal encoding.
            return None;
        }
        value = value.checked_mul(128)?.checked_add(u64::from(b & 0x7f))?;
        in_arc = true;
        if b & 0x80 == 0 {
            arcs.push(value);
            value = 0;
            in_arc = false;
        }
    }
    if in_arc || arcs.is_empty() {
        return None;
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut out = format!("{a}.{b}");
    for arc in &arcs[1..] {
        out.push('.');
        out.push_str(&arc.to_string());
    }
    Some(out)
}

/// One attribute of a distinguished name, as encoded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Attribute<'a> {
    /// Contents of the attribute type OID.
    pub oid: &'a [u8],
    /// The whole encoded value (tag, length, contents).
    pub value: Tlv<'a>,
}

/// Splits an encoded `Name` into its RDNs, in encoding order, each a list of
/// attributes in encoding order.
pub(crate) fn parse_name(der: &[u8]) -> Option<Vec<Vec<Attribute<'_>>>> {
    let name = expect_whole(der, tag::SEQUENCE)?;
    let mut rdns = Vec::new();
    let mut it = Elements::new(name.contents);
    for rdn in it.by_ref() {
        if rdn.tag != tag::SET {
            return None;
        }
        let mut attrs = Vec::new();
        let mut inner = Elements::new(rdn.contents);
        for atv in inner.by_ref() {
            if atv.tag != tag::SEQUENCE {
                return None;
            }
            let mut parts = Elements::new(atv.contents);
            let oid = parts.next()?;
            let value = parts.next()?;
            if oid.tag != tag::OID || parts.next().is_some() || parts.failed() {
                return None;
            }
            attrs.push(Attribute {
                oid: oid.contents,
                value,
            });
        }
        if inner.failed() {
            return None;
        }
        rdns.push(attrs);
    }
    if it.failed() {
        return None;
    }
    Some(rdns)
}

/// The extensions of a certificate that the sanity checks look at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CertExtensions {
    /// basicConstraints: `Some(ca flag)` when present.
    pub basic_constraints_ca: Option<bool>,
    /// keyUsage: the bits (bit 0 = digitalSignature as the MSB of the first byte,
    /// stored here as `1 << 0`) and the critical flag.
    pub key_usage: Option<(u16, bool)>,
    /// extKeyUsage: the purpose OIDs (contents bytes) and the critical flag.
    pub ext_key_usage: Option<(Vec<Vec<u8>>, bool)>,
}

/// keyUsage bit numbers (RFC 5280 §4.2.1.3).
pub(crate) mod key_usage {
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
}

/// OID contents of the extensions and purposes we look at.
pub(crate) mod oid {
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    pub const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
    pub const KP_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
    pub const KP_ANY: &[u8] = &[0x55, 0x1d, 0x25, 0x00];
}

/// Extracts basicConstraints, keyUsage and extKeyUsage from a DER certificate.
/// When an extension occurs twice the first one counts. Returns `None` when the
/// certificate or one of these three extensions is malformed.
pub(crate) fn parse_cert_extensions(cert_der: &[u8]) -> Option<CertExtensions> {
    let cert = expect_whole(cert_der, tag::SEQUENCE)?;
    let (tbs, _) = read_tlv(cert.contents)?;
    if tbs.tag != tag::SEQUENCE {
        return None;
    }
    let mut out = CertExtensions::default();
    let mut fields = Elements::new(tbs.contents);
    let Some(exts) = fields.by_ref().find(|f| f.tag == tag::CTX3) else {
        return (!fields.failed()).then_some(out);
    };
    let list = expect_whole(exts.contents, tag::SEQUENCE)?;
    let mut it = Elements::new(list.contents);
    for ext in it.by_ref() {
        if ext.tag != tag::SEQUENCE {
            return None;
        }
        let mut parts = Elements::new(ext.contents);
        let id = parts.next()?;
        if id.tag != tag::OID {
            return None;
        }
        let mut next = parts.next()?;
        let mut critical = false;
        if next.tag == tag::BOOLEAN {
            critical = next.contents.first().is_some_and(|&b| b != 0);
            next = parts.next()?;
        }
        if next.tag != tag::OCTET_STRING || parts.next().is_some() || parts.failed() {
            return None;
        }
        let value = next.contents;
        match id.contents {
            oid::BASIC_CONSTRAINTS if out.basic_constraints_ca.is_none() => {
                let seq = expect_whole(value, tag::SEQUENCE)?;
                let ca = match Elements::new(seq.contents).next() {
                    Some(b) if b.tag == tag::BOOLEAN => b.contents.first().is_some_and(|&v| v != 0),
                    _ => false,
                };
                out.basic_constraints_ca = Some(ca);
            }
            oid::KEY_USAGE if out.key_usage.is_none() => {
                let bits = expect_whole(value, tag::BIT_STRING)?;
                let data = bits.contents.get(1..)?;
                let mut usage = 0u16;
                for (byte_index, &byte) in data.iter().take(2).enumerate() {
                    for bit in 0..8 {
                        if byte & (0x80 >> bit) != 0 {
                            usage |= 1 << (byte_index * 8 + bit);
                        }
                    }
                }
                out.key_usage = Some((usage, critical));
            }
            oid::EXT_KEY_USAGE if out.ext_key_usage.is_none() => {
                let seq = expect_whole(value, tag::SEQUENCE)?;
                let mut purposes = Vec::new();
                let mut p = Elements::new(seq.contents);
                for purpose in p.by_ref() {
                    if purpose.tag != tag::OID {
                        return None;
                    }
                    purposes.push(purpose.contents.to_vec());
                }
                if p.failed() {
                    return None;
                }
                out.ext_key_usage = Some((purposes, critical));
            }
            _ => {}
        }
    }
    if it.failed() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        let (t, rest) = read_tlv(&[0x04, 0x02, 0xaa, 0xbb, 0xff]).unwrap();
        assert_eq!(
            (t.tag, t.contents, t.raw.len(), rest),
            (4, &[0xaa, 0xbb][..], 4, &[0xff][..])
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        let (t, rest) = read_tlv(&long).unwrap();
        assert_eq!(t.contents.len(), 0x80);
        assert!(rest.is_empty());
    }

    #[test]
    fn lengths_beyond_the_input_are_rejected() {
        assert!(read_tlv(&[0x04, 0x05, 1, 2]).is_none());
        assert!(read_tlv(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(read_tlv(&[0x04, 0x85, 0, 0, 0, 0, 1]).is_none());
        assert!(read_tlv(&[0x04, 0x80]).is_none());
        assert!(read_tlv(&[0x1f, 0x01, 0x00]).is_none());
        assert!(read_tlv(&[0x04]).is_none());
        assert!(read_tlv(&[]).is_none());
    }

    #[test]
    fn oids_format_dotted() {
        assert_eq!(oid_to_string(&[0x55, 0x04, 0x03]).unwrap(), "2.5.4.3");
        assert_eq!(
            oid_to_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]).unwrap(),
            "1.2.840.113549.1.9.1"
        );
        assert_eq!(oid_to_string(&[0x09]).unwrap(), "0.9");
        assert!(oid_to_string(&[0x55, 0x84]).is_none());
        assert!(oid_to_string(&[]).is_none());
        assert!(oid_to_string(&[0x55, 0x80, 0x01]).is_none());
    }

    #[test]
    fn garbage_names_do_not_parse() {
        assert!(parse_name(&[0x30, 0x03, 0x31, 0x01, 0x30]).is_none());
        assert!(parse_name(&[0x31, 0x00]).is_none());
        assert_eq!(parse_name(&[0x30, 0x00]).unwrap().len(), 0);
    }
}
