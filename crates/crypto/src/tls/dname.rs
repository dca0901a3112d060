//! Distinguished-name strings in the exact form QEMU reports and matches.
//!
//! QEMU takes a client's DN from GnuTLS `gnutls_x509_crt_get_dn`, which is the
//! "compat" form of `get_dn3`: RDNs in the order they are encoded in the
//! certificate (not reversed as RFC 4514 asks), joined with `,`, the attributes of
//! a multi-valued RDN joined with `+`. Attribute names come from GnuTLS's table
//! (`C`, `O`, `CN`, `EMAIL`, `DC`, …); unknown types are printed as a dotted OID.
//! Values of known types are decoded and escaped with `\` before `,` `+` `"` `\`
//! `<` `>` `;`, a leading `#` or space and a trailing space. A value that cannot be
//! decoded as its type demands (or an unknown type) is printed as `#` followed by
//! the lowercase hex of its whole DER encoding, unescaped.
//!
//! Deviations: GnuTLS copies UTF8String bytes without validating them; we treat
//! invalid UTF-8 as undecodable (hex form). The three PKCS#9 attributes GnuTLS
//! decodes without a name (challengePassword, friendlyName, localKeyID) are
//! printed in hex form here.

use openssl::x509::X509NameRef;

use super::der::{self, Attribute, tag};

/// How GnuTLS decodes the value of a known attribute type.
#[derive(Clone, Copy)]
enum Kind {
    /// PKIX DirectoryString: a CHOICE of Teletex, Printable, Universal, UTF8, BMP.
    Directory,
    /// Exactly this universal string tag.
    Simple(u8),
}

/// GnuTLS's `_oid2str` table: dotted OID, printed name, value kind.
const KNOWN: &[(&str, &str, Kind)] = &[
    ("1.3.6.1.5.5.7.9.2", "placeOfBirth", Kind::Directory),
    (
        "1.3.6.1.5.5.7.9.3",
        "gender",
        Kind::Simple(tag::PRINTABLE_STRING),
    ),
    (
        "1.3.6.1.5.5.7.9.4",
        "countryOfCitizenship",
        Kind::Simple(tag::PRINTABLE_STRING),
    ),
    (
        "1.3.6.1.5.5.7.9.5",
        "countryOfResidence",
        Kind::Simple(tag::PRINTABLE_STRING),
    ),
    ("2.5.4.6", "C", Kind::Simple(tag::PRINTABLE_STRING)),
    ("2.5.4.9", "street", Kind::Directory),
    ("2.5.4.12", "title", Kind::Directory),
    ("2.5.4.10", "O", Kind::Directory),
    ("2.5.4.11", "OU", Kind::Directory),
    ("2.5.4.3", "CN", Kind::Directory),
    ("2.5.4.7", "L", Kind::Directory),
    ("2.5.4.8", "ST", Kind::Directory),
    ("2.5.4.13", "description", Kind::Directory),
    (
        "2.5.4.5",
        "serialNumber",
        Kind::Simple(tag::PRINTABLE_STRING),
    ),
    (
        "2.5.4.20",
        "telephoneNumber",
        Kind::Simple(tag::PRINTABLE_STRING),
    ),
    ("2.5.4.4", "surName", Kind::Directory),
    ("2.5.4.43", "initials", Kind::Directory),
    ("2.5.4.44", "generationQualifier", Kind::Directory),
    ("2.5.4.42", "givenName", Kind::Directory),
    ("2.5.4.65", "pseudonym", Kind::Directory),
    (
        "2.5.4.46",
        "dnQualifier",
        Kind::Simple(tag::PRINTABLE_STRING),
    ),
    ("2.5.4.17", "postalCode", Kind::Directory),
    ("2.5.4.41", "name", Kind::Directory),
    ("2.5.4.15", "businessCategory", Kind::Directory),
    (
        "0.9.2342.19200300.100.1.25",
        "DC",
        Kind::Simple(tag::IA5_STRING),
    ),
    ("0.9.2342.19200300.100.1.1", "UID", Kind::Directory),
    (
        "1.2.840.113556.1.4.656",
        "userPrincipalName",
        Kind::Directory,
    ),
    (
        "1.3.6.1.4.1.311.60.2.1.1",
        "jurisdictionOfIncorporationLocalityName",
        Kind::Directory,
    ),
    (
        "1.3.6.1.4.1.311.60.2.1.2",
        "jurisdictionOfIncorporationStateOrProvinceName",
        Kind::Directory,
    ),
    (
        "1.3.6.1.4.1.311.60.2.1.3",
        "jurisdictionOfIncorporationCountryName",
        Kind::Simple(tag::PRINTABLE_STRING),
    ),
    (
        "1.2.840.113549.1.9.1",
        "EMAIL",
        Kind::Simple(tag::IA5_STRING),
    ),
    (
        "1.3.6.1.5.5.7.8.5",
        "XmppAddr",
        Kind::Simple(tag::UTF8_STRING),
    ),
    ("1.2.643.100.1", "OGRN", Kind::Simple(tag::NUMERIC_STRING)),
    ("1.2.643.100.3", "SNILS", Kind::Simple(tag::NUMERIC_STRING)),
    ("1.2.643.100.5", "OGRNIP", Kind::Simple(tag::NUMERIC_STRING)),
    (
        "1.2.643.3.131.1.1",
        "INN",
        Kind::Simple(tag::NUMERIC_STRING),
    ),
];

/// Why a name has no GnuTLS-style string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DnError {
    /// The name's DER could not be parsed.
    Malformed,
    /// A DirectoryString attribute is empty (GnuTLS refuses the whole name).
    EmptyDirectoryString,
}

/// The DN string of `name` (see the module docs), or why GnuTLS would fail.
pub(crate) fn try_dname(name: &X509NameRef) -> Result<String, DnError> {
    let der = name.to_der().map_err(|_| DnError::Malformed)?;
    format_name_der(&der)
}

/// Formats an encoded `Name`.
pub(crate) fn format_name_der(der: &[u8]) -> Result<String, DnError> {
    let rdns = der::parse_name(der).ok_or(DnError::Malformed)?;
    let mut out = String::new();
    for (i, rdn) in rdns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            format_attribute(attr, &mut out)?;
        }
    }
    Ok(out)
}

/// The QEMU/GnuTLS DN string of `name`, e.g. `C=GB,O=Example,CN=client.example.com`.
///
/// A name GnuTLS would refuse (an empty DirectoryString value) still gets a
/// best-effort string here, with the empty value printed as nothing; the peer check
/// in [`super::verify_peer_after_handshake`] rejects such names instead.
#[must_use]
pub fn dname_string(name: &X509NameRef) -> String {
    match try_dname(name) {
        Ok(s) => s,
        Err(_) => lenient(name),
    }
}

/// Fallback rendering from OpenSSL's parsed entries.
fn lenient(name: &X509NameRef) -> String {
    let mut out = String::new();
    for (i, entry) in name.entries().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let nid = entry.object().nid();
        let label = match nid.short_name() {
            Ok("emailAddress") => "EMAIL".to_owned(),
            Ok(name) => name.to_owned(),
            Err(_) => entry.object().to_string(),
        };
        out.push_str(&label);
        out.push('=');
        match entry.data().to_string() {
            Ok(s) => escape_into(s.as_bytes(), &mut out),
            Err(_) => hex_into(entry.data().as_slice(), &mut out),
        }
    }
    out
}

fn format_attribute(attr: &Attribute<'_>, out: &mut String) -> Result<(), DnError> {
    let oid = der::oid_to_string(attr.oid).ok_or(DnError::Malformed)?;
    let known = KNOWN.iter().find(|(o, _, _)| *o == oid);
    match known {
        None => {
            out.push_str(&oid);
            out.push('=');
            hex_into(attr.value.raw, out);
        }
        Some((_, label, kind)) => {
            out.push_str(label);
            out.push('=');
            if matches!(kind, Kind::Directory) && attr.value.contents.is_empty() {
                return Err(DnError::EmptyDirectoryString);
            }
            match decode(*kind, attr) {
                Some(text) => escape_into(text.as_bytes(), out),
                None => hex_into(attr.value.raw, out),
            }
        }
    }
    Ok(())
}

/// Decodes a value as GnuTLS does; `None` means "print the DER in hex".
fn decode(kind: Kind, attr: &Attribute<'_>) -> Option<String> {
    let value = attr.value;
    let text = match kind {
        Kind::Simple(want) => {
            if value.contents.is_empty() {
                // GnuTLS returns an empty string before looking at the tag.
                return Some(String::new());
            }
            if value.tag != want {
                return None;
            }
            String::from_utf8(value.contents.to_vec()).ok()?
        }
        Kind::Directory => match value.tag {
            tag::PRINTABLE_STRING | tag::UTF8_STRING => {
                String::from_utf8(value.contents.to_vec()).ok()?
            }
            tag::TELETEX_STRING => {
                if value.contents.iter().all(|b| (0x20..0x7f).contains(b)) {
                    String::from_utf8(value.contents.to_vec()).ok()?
                } else {
                    hex_string(value.contents)
                }
            }
            tag::BMP_STRING => {
                ucs2_to_utf8(value.contents).unwrap_or_else(|| hex_string(value.contents))
            }
            tag::UNIVERSAL_STRING => hex_string(value.contents),
            _ => return None,
        },
    };
    // GnuTLS refuses strings with embedded NULs.
    (!text.contains('\0')).then_some(text)
}

fn ucs2_to_utf8(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

fn hex_string(bytes: &[u8]) -> String {
    let mut s = String::new();
    hex_into(bytes, &mut s);
    s
}

/// `#` followed by lowercase hex.
fn hex_into(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('#');
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

/// GnuTLS `str_escape`.
fn escape_into(value: &[u8], out: &mut String) {
    // Work on chars so that multi-byte UTF-8 stays intact; the specials are ASCII.
    let text = String::from_utf8_lossy(value);
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::nid::Nid;
    use openssl::x509::X509Name;

    fn name(entries: &[(Nid, &str)]) -> X509Name {
        let mut b = X509Name::builder().unwrap();
        for (nid, v) in entries {
            b.append_entry_by_nid(*nid, v).unwrap();
        }
        b.build()
    }

    #[test]
    fn attributes_keep_certificate_order() {
        let n = name(&[
            (Nid::COUNTRYNAME, "GB"),
            (Nid::ORGANIZATIONNAME, "Example"),
            (Nid::COMMONNAME, "client.example.com"),
        ]);
        assert_eq!(dname_string(&n), "C=GB,O=Example,CN=client.example.com");
        let n = name(&[(Nid::COMMONNAME, "laptop"), (Nid::COUNTRYNAME, "GB")]);
        assert_eq!(dname_string(&n), "CN=laptop,C=GB");
    }

    #[test]
    fn specials_are_escaped() {
        let n = name(&[(Nid::ORGANIZATIONNAME, "Acme, Inc. +\"x\"\\<y>;z")]);
        assert_eq!(dname_string(&n), r#"O=Acme\, Inc. \+\"x\"\\\<y\>\;z"#);
        let n = name(&[
            (Nid::COMMONNAME, "#lead"),
            (Nid::ORGANIZATIONALUNITNAME, " sp "),
        ]);
        assert_eq!(dname_string(&n), r"CN=\#lead,OU=\ sp\ ");
        // '#' and ' ' only at the edges.
        let n = name(&[(Nid::COMMONNAME, "a#b c")]);
        assert_eq!(dname_string(&n), "CN=a#b c");
    }

    #[test]
    fn utf8_values_pass_through() {
        let n = name(&[(Nid::COMMONNAME, "Zoë Ü")]);
        assert_eq!(dname_string(&n), "CN=Zoë Ü");
    }

    #[test]
    fn email_and_dc_use_gnutls_names() {
        let n = name(&[
            (Nid::DOMAINCOMPONENT, "test"),
            (Nid::PKCS9_EMAILADDRESS, "a@b.test"),
        ]);
        assert_eq!(dname_string(&n), "DC=test,EMAIL=a@b.test");
    }

    #[test]
    fn unknown_types_print_the_oid_and_hex_der() {
        // 1.2.3.4 = "hi" as UTF8String.
        let der = [
            0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x0c, 0x02, b'h',
            b'i',
        ];
        assert_eq!(format_name_der(&der).unwrap(), "1.2.3.4=#0c026869");
    }

    #[test]
    fn wrong_string_type_for_country_prints_hex() {
        // C as UTF8String "GB": GnuTLS wants PrintableString.
        let der = [
            0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x0c, 0x02, b'G',
            b'B',
        ];
        assert_eq!(format_name_der(&der).unwrap(), "C=#0c024742");
    }

    #[test]
    fn multi_valued_rdn_joins_with_plus() {
        // SET { CN=a, OU=b }, then O=c
        let der = [
            0x30, 0x24, 0x31, 0x16, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'a',
            b'1', 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x0b, 0x0c, 0x02, b'b', b'2', 0x31, 0x0a,
            0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x01, b'c',
        ];
        assert_eq!(format_name_der(&der).unwrap(), "CN=a1+OU=b2,O=c");
    }

    #[test]
    fn bmp_and_teletex_values() {
        // CN as BMPString "hé", O as TeletexString with a non-printable byte.
        let der = [
            0x30, 0x1b, 0x31, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x1e, 0x04, 0x00,
            b'h', 0x00, 0xe9, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x14, 0x01,
            0x01,
        ];
        assert_eq!(format_name_der(&der).unwrap(), r"CN=hé,O=\#01");
    }

    #[test]
    fn empty_directory_string_is_refused() {
        let der = [
            0x30, 0x0b, 0x31, 0x09, 0x30, 0x07, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x00,
        ];
        assert_eq!(format_name_der(&der), Err(DnError::EmptyDirectoryString));
    }

    #[test]
    fn embedded_nul_prints_hex() {
        let der = [
            0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'a',
            0x00,
        ];
        assert_eq!(format_name_der(&der).unwrap(), "CN=#0c026100");
    }
}
