//! `tls-creds-x509` for a server: files, QEMU's sanity checks, the OpenSSL context.

use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslContext, SslFiletype, SslVerifyMode};
use openssl::stack::Stack;
use openssl::x509::store::{X509Lookup, X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509, X509Crl, X509StoreContext, X509StoreContextRef, X509VerifyResult};

use super::der::{self, key_usage, oid};
use super::files::{self, CA_CERT, CA_CRL, SERVER_CERT, SERVER_KEY};
use super::{X509Options, base_context, dname_string, verify_reason, verr};
use crate::Error;

fn ossl_err(message: String) -> impl FnOnce(openssl::error::ErrorStack) -> Error {
    move |source| Error::CredentialsOpenssl { message, source }
}

/// Loads a PEM file holding one or more certificates.
fn load_cert_list(path: &Path) -> Result<Vec<X509>, Error> {
    let pem = files::read_bounded(path, "certificate")?;
    let certs = X509::stack_from_pem(&pem).map_err(ossl_err(format!(
        "Unable to import certificate {}",
        path.display()
    )))?;
    if certs.is_empty() {
        return Err(Error::Credentials(format!(
            "Unable to import certificate {}: no certificate found",
            path.display()
        )));
    }
    if certs.len() > files::MAX_CERTS_PER_FILE {
        return Err(Error::Credentials(format!(
            "Unable to import certificate {}: more than {} certificates",
            path.display(),
            files::MAX_CERTS_PER_FILE
        )));
    }
    Ok(certs)
}

/// Loads a PEM private key, decrypting it with `password` when given. OpenSSL is
/// never allowed to prompt on the terminal for a passphrase.
fn load_key(path: &Path, password: Option<&[u8]>) -> Result<PKey<Private>, Error> {
    let pem = files::read_bounded(path, "private key")?;
    let pw = password.unwrap_or_default();
    PKey::private_key_from_pem_callback(&pem, |buf| {
        let dst = buf
            .get_mut(..pw.len())
            .ok_or_else(openssl::error::ErrorStack::get)?;
        dst.copy_from_slice(pw);
        Ok(pw.len())
    })
    .map_err(ossl_err(format!(
        "Unable to import private key {}",
        path.display()
    )))
}

/// Checks the CRL file and returns how many CRLs it holds.
fn check_crl_file(path: &Path) -> Result<usize, Error> {
    let pem = files::read_bounded(path, "CRL")?;
    let blocks = files::pem_blocks(&pem, "X509 CRL");
    if blocks.is_empty() {
        return Err(Error::Credentials(format!(
            "Cannot load CRL '{}': no CRL found",
            path.display()
        )));
    }
    if blocks.len() > files::MAX_CRLS {
        return Err(Error::Credentials(format!(
            "Cannot load CRL '{}': more than {} CRLs",
            path.display(),
            files::MAX_CRLS
        )));
    }
    for block in &blocks {
        X509Crl::from_pem(block)
            .map_err(ossl_err(format!("Cannot load CRL '{}'", path.display())))?;
    }
    Ok(blocks.len())
}

fn now() -> Result<Asn1Time, Error> {
    Asn1Time::days_from_now(0).map_err(ossl_err("cannot get current time".to_owned()))
}

/// QEMU's `qcrypto_tls_creds_check_cert` for a server-side file.
fn check_cert(cert: &X509, path: &Path, is_ca: bool) -> Result<(), Error> {
    let p = path.display();
    let fail = |msg: String| Err(Error::Credentials(msg));
    let now = now()?;
    if cert.not_after() < now {
        return fail(if is_ca {
            format!("The CA certificate {p} has expired")
        } else {
            format!("The server certificate {p} has expired")
        });
    }
    if cert.not_before() > now {
        return fail(if is_ca {
            format!("The CA certificate {p} is not yet active")
        } else {
            format!("The server certificate {p} is not yet active")
        });
    }

    let der = cert
        .to_der()
        .map_err(ossl_err(format!("Unable to encode certificate {p}")))?;
    let Some(ext) = der::parse_cert_extensions(&der) else {
        return fail(format!(
            "Unable to query certificate {p} extensions: malformed encoding"
        ));
    };

    match (ext.basic_constraints_ca, is_ca) {
        (Some(true), false) => {
            return fail(format!(
                "The certificate {p} basic constraints show a CA, but we need one for a server"
            ));
        }
        (Some(false), true) => {
            return fail(format!(
                "The certificate {p} basic constraints do not show a CA"
            ));
        }
        (None, true) => {
            return fail(format!(
                "The certificate {p} is missing basic constraints for a CA"
            ));
        }
        _ => {}
    }

    let (usage, critical) = ext.key_usage.unwrap_or(if is_ca {
        (key_usage::KEY_CERT_SIGN, false)
    } else {
        (
            key_usage::DIGITAL_SIGNATURE | key_usage::KEY_ENCIPHERMENT,
            false,
        )
    });
    if critical {
        if is_ca && usage & key_usage::KEY_CERT_SIGN == 0 {
            return fail(format!(
                "Certificate {p} usage does not permit certificate signing"
            ));
        }
        if !is_ca && usage & key_usage::DIGITAL_SIGNATURE == 0 {
            return fail(format!(
                "Certificate {p} usage does not permit digital signature"
            ));
        }
        if !is_ca && usage & key_usage::KEY_ENCIPHERMENT == 0 {
            return fail(format!(
                "Certificate {p} usage does not permit key encipherment"
            ));
        }
    }

    if !is_ca && let Some((purposes, critical)) = &ext.ext_key_usage {
        let allow_server = purposes
            .iter()
            .any(|o| o == oid::KP_SERVER_AUTH || o == oid::KP_ANY);
        if !allow_server && *critical {
            return fail(format!(
                "Certificate {p} purpose does not allow use with a TLS server"
            ));
        }
    }
    Ok(())
}

/// GnuTLS `gnutls_x509_crt_check_issuer`: `cert`'s issuer name is `issuer`'s
/// subject name and, when both are present, the authority key identifier matches
/// the subject key identifier. (OpenSSL's `X509_check_issued` also demands
/// keyCertSign, which would hide QEMU's clearer keyUsage message.)
fn issued_by(cert: &X509, issuer: &X509) -> bool {
    let names_match = cert
        .issuer_name()
        .try_cmp(issuer.subject_name())
        .is_ok_and(|o| o == std::cmp::Ordering::Equal);
    let ids_match = match (cert.authority_key_id(), issuer.subject_key_id()) {
        (Some(akid), Some(skid)) => akid.as_slice() == skid.as_slice(),
        _ => true,
    };
    names_match && ids_match
}

fn is_self_signed(cert: &X509) -> bool {
    issued_by(cert, cert)
}

/// QEMU's `qcrypto_tls_creds_check_authority_chain`: the identity file's
/// certificates must chain one to the next, and the last must lead through
/// `ca-cert.pem` to a self-signed CA; every CA on the way is checked too.
fn check_authority_chain(ca_path: &Path, cacerts: &[X509], certs: &[X509]) -> Result<(), Error> {
    for pair in certs.windows(2) {
        if !issued_by(&pair[0], &pair[1]) {
            return Err(Error::Credentials(format!(
                "Cert '{}' does not match issuer of cert '{}'",
                dname_string(pair[1].subject_name()),
                dname_string(pair[0].subject_name())
            )));
        }
    }
    let Some(mut current) = certs.last() else {
        return Ok(());
    };
    // A chain through the CA file can be at most as long as the file; the bound
    // also stops cross-signed loops.
    for _ in 0..=cacerts.len() {
        if is_self_signed(current) {
            return check_cert(current, ca_path, true);
        }
        let Some(issuer) = cacerts.iter().find(|ca| issued_by(current, ca)) else {
            break;
        };
        check_cert(issuer, ca_path, true)?;
        current = issuer;
    }
    Err(Error::Credentials(format!(
        "Cert '{}' has no issuer in CA chain",
        dname_string(current.subject_name())
    )))
}

/// QEMU's `qcrypto_tls_creds_check_cert_pair`: our own chain verifies against
/// the CA file (no CRL).
fn check_cert_pair(
    ca_path: &Path,
    cacerts: &[X509],
    cert_path: &Path,
    certs: &[X509],
) -> Result<(), Error> {
    let context = || {
        format!(
            "Unable to verify server certificate {} against CA certificate {}",
            cert_path.display(),
            ca_path.display()
        )
    };
    let mut store = X509StoreBuilder::new().map_err(ossl_err(context()))?;
    for ca in cacerts {
        store.add_cert(ca.clone()).map_err(ossl_err(context()))?;
    }
    let store = store.build();
    let mut chain = Stack::new().map_err(ossl_err(context()))?;
    for c in certs.iter().skip(1) {
        chain.push(c.clone()).map_err(ossl_err(context()))?;
    }
    let Some(leaf) = certs.first() else {
        return Ok(());
    };
    let mut ctx = X509StoreContext::new().map_err(ossl_err(context()))?;
    let result = ctx
        .init(&store, leaf, &chain, |c| {
            c.verify_cert()
                .map(|ok| if ok { X509VerifyResult::OK } else { c.error() })
        })
        .map_err(ossl_err(context()))?;
    if result != X509VerifyResult::OK {
        return Err(Error::Credentials(format!(
            "Our own certificate {} failed validation against {}: {}",
            cert_path.display(),
            ca_path.display(),
            verify_reason(result)
        )));
    }
    Ok(())
}

/// The store that verifies client certificates: the CAs, and the CRLs when
/// present (checked at every level of the chain for which the file has a CRL).
fn client_verify_store(cacerts: &[X509], crl: Option<(&Path, usize)>) -> Result<X509Store, Error> {
    let msg = || "Cannot set up client certificate verification".to_owned();
    let mut store = X509StoreBuilder::new().map_err(ossl_err(msg()))?;
    for ca in cacerts {
        store.add_cert(ca.clone()).map_err(ossl_err(msg()))?;
    }
    if let Some((path, expected)) = crl {
        let lookup = store
            .add_lookup(X509Lookup::file())
            .map_err(ossl_err(msg()))?;
        let loaded = lookup
            .load_crl_file(path, SslFiletype::PEM)
            .map_err(ossl_err(format!("Cannot load CRL '{}'", path.display())))?;
        if usize::try_from(loaded).ok() != Some(expected) {
            return Err(Error::Credentials(format!(
                "Cannot load CRL '{}': the file changed while loading",
                path.display()
            )));
        }
        store
            .set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)
            .map_err(ossl_err(msg()))?;
    }
    Ok(store.build())
}

/// Certificate-chain verification callback: a CA for which `ca-crl.pem` holds
/// no CRL is not an error (as with GnuTLS, a CRL is used when there is one).
fn crl_optional(preverify_ok: bool, ctx: &mut X509StoreContextRef) -> bool {
    if !preverify_ok && ctx.error().as_raw() == verr::UNABLE_TO_GET_CRL {
        ctx.set_error(X509VerifyResult::OK);
        return true;
    }
    preverify_ok
}

/// Loads everything and builds the server context.
pub(super) fn build_context(o: &X509Options) -> Result<(SslContext, Vec<String>), Error> {
    let dir = o.dir.as_path();
    let mut warnings = Vec::new();

    let ca_path = files::get_path(dir, CA_CERT, true)?.unwrap_or_else(|| dir.join(CA_CERT));
    let cacerts = load_cert_list(&ca_path)?;

    let cert_path = files::get_path(dir, SERVER_CERT, false)?;
    let key_path = files::get_path(dir, SERVER_KEY, false)?;
    let (cert_path, key_path) = match (cert_path, key_path) {
        (Some(c), Some(k)) => (c, k),
        (None, None) => {
            return Err(Error::Credentials(format!(
                "Missing server cert '{}' & key '{}'",
                dir.join(SERVER_CERT).display(),
                dir.join(SERVER_KEY).display()
            )));
        }
        (Some(c), None) => {
            return Err(Error::Credentials(format!(
                "Cert '{}' without corresponding key '{}'",
                c.display(),
                dir.join(SERVER_KEY).display()
            )));
        }
        (None, Some(k)) => {
            return Err(Error::Credentials(format!(
                "Key '{}' without corresponding cert '{}'",
                k.display(),
                dir.join(SERVER_CERT).display()
            )));
        }
    };
    let certs = load_cert_list(&cert_path)?;
    let key = load_key(&key_path, o.key_password.as_deref())?;
    warnings.extend(files::mode_warning(&key_path));

    let crl_path = files::get_path(dir, CA_CRL, false)?;
    let crl = match &crl_path {
        Some(p) => Some((p.as_path(), check_crl_file(p)?)),
        None => None,
    };
    let dh = files::load_dh_params(dir)?;

    if o.sanity_check {
        for (i, cert) in certs.iter().enumerate() {
            check_cert(cert, &cert_path, i != 0)?;
        }
        check_authority_chain(&ca_path, &cacerts, &certs)?;
        check_cert_pair(&ca_path, &cacerts, &cert_path, &certs)?;
    }

    let pair_msg = || {
        format!(
            "Cannot set certificate '{}' & key '{}'",
            cert_path.display(),
            key_path.display()
        )
    };
    let mut b = base_context()?;
    let (leaf, chain) = certs.split_first().ok_or_else(|| {
        Error::Credentials(format!(
            "Unable to import certificate {}",
            cert_path.display()
        ))
    })?;
    b.set_certificate(leaf).map_err(ossl_err(pair_msg()))?;
    for c in chain {
        b.add_extra_chain_cert(c.clone())
            .map_err(ossl_err(pair_msg()))?;
    }
    b.set_private_key(&key).map_err(ossl_err(pair_msg()))?;
    b.check_private_key().map_err(ossl_err(pair_msg()))?;
    if let Some(dh) = &dh {
        b.set_tmp_dh(dh).map_err(ossl_err(format!(
            "Unable to load DH parameters from {}",
            dir.join(files::DH_PARAMS).display()
        )))?;
    }

    if o.verify_peer {
        b.set_verify_cert_store(client_verify_store(&cacerts, crl)?)
            .map_err(ossl_err(
                "Cannot set up client certificate verification".to_owned(),
            ))?;
        for ca in &cacerts {
            b.add_client_ca(ca)
                .map_err(ossl_err("Cannot set the client CA list".to_owned()))?;
        }
        b.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            crl_optional,
        );
    } else {
        b.set_verify(SslVerifyMode::NONE);
    }
    Ok((b.build(), warnings))
}
