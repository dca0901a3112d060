//! TLS credentials (QEMU's `tls-creds-x509` and `tls-creds-anon`) turned into
//! OpenSSL server contexts. No sockets here: [`ServerCreds::new_session`] hands out
//! an accept-side [`Ssl`] that the channel layer wraps around its non-blocking socket.
//!
//! - [`ServerCreds::load_x509`] reads `ca-cert.pem`, `server-cert.pem`,
//!   `server-key.pem` and the optional `ca-crl.pem` and `dh-params.pem` from a
//!   directory, runs QEMU's sanity checks (validity dates, basicConstraints,
//!   keyUsage, extKeyUsage, chain up to a CA of `ca-cert.pem`, our own certificate
//!   verifying against the CA) and builds a TLS ≥ 1.2 context. Error texts follow
//!   QEMU's and name the file. A key readable by group or others is a warning.
//! - [`ServerCreds::load_anon`] builds an anonymous-DH context (TLS 1.2 only,
//!   `aNULL:!eNULL:@SECLEVEL=0`; TLS 1.3 has no anonymous suites).
//! - With `verify-peer=on` the server requests a client certificate, and the
//!   handshake itself fails when none is sent or it does not chain to the CA (CRL
//!   honoured, expiry checked). [`verify_peer_after_handshake`] re-checks and yields
//!   the DN for authz and events; [`handshake_failure_reason`] turns a failed
//!   handshake into QEMU's reason text for logs. With `verify-peer=off` no
//!   certificate is requested at all (QEMU always requests one, which makes
//!   headless Chromium abort wss connections).
//! - [`dname_string`] formats a name exactly as QEMU's `x509_dname`.
//!
//! Credentials are immutable once loaded; a reload loads new ones and swaps the
//! handle, so sessions already running keep the context they started with.
//!
//! `priority=`: QEMU's values are GnuTLS priority strings, which have no faithful
//! OpenSSL equivalent. The defaults `NORMAL`, `@SYSTEM` and `@QEMU,SYSTEM` (and no
//! value) select OpenSSL's defaults; anything else is refused with
//! [`Error::Priority`](crate::Error::Priority).

mod der;
mod dname;
mod files;
mod x509;

use std::path::PathBuf;
use std::sync::Arc;

use openssl::dh::Dh;
use openssl::pkey::Params;
use openssl::ssl::{
    SslContext, SslContextBuilder, SslMethod, SslOptions, SslRef, SslSessionCacheMode,
    SslVerifyMode, SslVersion,
};
use openssl::x509::X509VerifyResult;

use crate::Error;

pub use dname::dname_string;

/// Which side of a connection credentials are for (QEMU's `endpoint=`; QEMU's
/// default is `client`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Endpoint {
    /// `endpoint=client` (QEMU's default): cannot serve VNC.
    #[default]
    Client,
    /// `endpoint=server`.
    Server,
}

/// Options of a `tls-creds-x509` object.
#[derive(Clone, Debug)]
pub struct X509Options {
    /// `dir=`: the directory holding the PEM files.
    pub dir: PathBuf,
    /// `endpoint=`.
    pub endpoint: Endpoint,
    /// `verify-peer=` (QEMU's default: on).
    pub verify_peer: bool,
    /// `sanity-check=` (default on).
    pub sanity_check: bool,
    /// `priority=` (see the module docs).
    pub priority: Option<String>,
    /// The decrypted `passwordid=` secret for an encrypted `server-key.pem`.
    pub key_password: Option<Vec<u8>>,
}

impl X509Options {
    /// Options for `dir` with QEMU's defaults except `endpoint=server`.
    #[must_use]
    pub fn server(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            endpoint: Endpoint::Server,
            verify_peer: true,
            sanity_check: true,
            priority: None,
            key_password: None,
        }
    }
}

/// Options of a `tls-creds-anon` object.
#[derive(Clone, Debug, Default)]
pub struct AnonOptions {
    /// `dir=`: optional; only `dh-params.pem` is read from it.
    pub dir: Option<PathBuf>,
    /// `endpoint=`.
    pub endpoint: Endpoint,
    /// `priority=` (see the module docs).
    pub priority: Option<String>,
}

/// The kind of loaded credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredsKind {
    /// `tls-creds-x509`.
    X509,
    /// `tls-creds-anon`.
    Anon,
}

/// Loaded server credentials: cheap to clone, immutable.
#[derive(Clone)]
pub struct ServerCreds {
    inner: Arc<Inner>,
}

struct Inner {
    kind: CredsKind,
    verify_peer: bool,
    ctx: SslContext,
}

impl std::fmt::Debug for ServerCreds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCreds")
            .field("kind", &self.inner.kind)
            .field("verify_peer", &self.inner.verify_peer)
            .finish_non_exhaustive()
    }
}

/// The RFC 7919 ffdhe2048 group, used for anonymous DH when the directory has no
/// `dh-params.pem` (the output of
/// `openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048`).
const FFDHE2048_PEM: &str = "-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
";

/// Cipher list of the anonymous context.
const ANON_CIPHERS: &str = "aNULL:!eNULL:@SECLEVEL=0";

/// GnuTLS priority strings that mean "the library defaults".
const DEFAULT_PRIORITIES: &[&str] = &["NORMAL", "@SYSTEM", "@QEMU,SYSTEM"];

fn check_priority(priority: Option<&str>) -> Result<(), Error> {
    match priority {
        None => Ok(()),
        Some(p) if DEFAULT_PRIORITIES.contains(&p) => Ok(()),
        Some(p) => Err(Error::Priority(p.to_owned())),
    }
}

fn ossl(message: impl Into<String>) -> impl FnOnce(openssl::error::ErrorStack) -> Error {
    let message = message.into();
    move |source| Error::CredentialsOpenssl { message, source }
}

/// Settings shared by every server context.
fn base_context() -> Result<SslContextBuilder, Error> {
    let mut b = SslContextBuilder::new(SslMethod::tls_server())
        .map_err(ossl("Cannot allocate TLS credentials"))?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(ossl("Cannot set the minimum TLS version"))?;
    // One connection per client and no resumption: no cache, no tickets. No
    // renegotiation either (CVE-2009-3555 class; TLS 1.3 has none anyway).
    b.set_session_cache_mode(SslSessionCacheMode::OFF);
    b.set_num_tickets(0)
        .map_err(ossl("Cannot disable TLS session tickets"))?;
    b.set_options(
        SslOptions::NO_TICKET | SslOptions::NO_RENEGOTIATION | SslOptions::CIPHER_SERVER_PREFERENCE,
    );
    Ok(b)
}

fn builtin_dh() -> Result<Dh<Params>, Error> {
    Dh::params_from_pem(FFDHE2048_PEM.as_bytes()).map_err(ossl("Cannot load the built-in DH group"))
}

impl ServerCreds {
    /// Loads `tls-creds-x509` files for a server. Returns the credentials and
    /// warnings (e.g. a private key readable by others) for the caller to print.
    ///
    /// # Errors
    /// [`Error::ClientEndpoint`] for `endpoint=client`, [`Error::Priority`] for an
    /// unsupported priority, and `Credentials*` errors naming the file for missing,
    /// unreadable, malformed or insane files.
    pub fn load_x509(o: &X509Options) -> Result<(ServerCreds, Vec<String>), Error> {
        if o.endpoint != Endpoint::Server {
            return Err(Error::ClientEndpoint);
        }
        check_priority(o.priority.as_deref())?;
        let (ctx, warnings) = x509::build_context(o)?;
        Ok((
            ServerCreds {
                inner: Arc::new(Inner {
                    kind: CredsKind::X509,
                    verify_peer: o.verify_peer,
                    ctx,
                }),
            },
            warnings,
        ))
    }

    /// Builds `tls-creds-anon` server credentials (anonymous DH, TLS 1.2).
    ///
    /// # Errors
    /// [`Error::ClientEndpoint`], [`Error::Priority`], or a `Credentials*` error for
    /// an unreadable or invalid `dh-params.pem`.
    pub fn load_anon(o: &AnonOptions) -> Result<(ServerCreds, Vec<String>), Error> {
        if o.endpoint != Endpoint::Server {
            return Err(Error::ClientEndpoint);
        }
        check_priority(o.priority.as_deref())?;
        let dh = match &o.dir {
            Some(dir) => files::load_dh_params(dir)?,
            None => None,
        };
        let dh = match dh {
            Some(dh) => dh,
            None => builtin_dh()?,
        };
        let mut b = base_context()?;
        b.set_max_proto_version(Some(SslVersion::TLS1_2))
            .map_err(ossl("Cannot set the maximum TLS version"))?;
        b.set_cipher_list(ANON_CIPHERS)
            .map_err(ossl("Cannot select anonymous TLS cipher suites"))?;
        b.set_tmp_dh(&dh)
            .map_err(ossl("Cannot set DH parameters"))?;
        b.set_verify(SslVerifyMode::NONE);
        Ok((
            ServerCreds {
                inner: Arc::new(Inner {
                    kind: CredsKind::Anon,
                    verify_peer: false,
                    ctx: b.build(),
                }),
            },
            Vec::new(),
        ))
    }

    /// X509 or anonymous.
    #[must_use]
    pub fn kind(&self) -> CredsKind {
        self.inner.kind
    }

    /// Whether client certificates are required and verified (`verify-peer=on`
    /// on x509 credentials; always false for anonymous ones).
    #[must_use]
    pub fn verify_peer(&self) -> bool {
        self.inner.kind == CredsKind::X509 && self.inner.verify_peer
    }

    /// Whether the server sends a CertificateRequest: only with `verify-peer=on`.
    #[must_use]
    pub fn request_client_cert(&self) -> bool {
        self.verify_peer()
    }

    /// A new server-side session in accept state, ready to be wrapped around a
    /// (non-blocking) socket with `SslStream::new` and driven with `accept`/`do_handshake`.
    ///
    /// # Errors
    /// [`Error::Session`] when OpenSSL cannot allocate the session.
    pub fn new_session(&self) -> Result<openssl::ssl::Ssl, Error> {
        let mut ssl = openssl::ssl::Ssl::new(&self.inner.ctx).map_err(Error::Session)?;
        ssl.set_accept_state();
        Ok(ssl)
    }
}

/// OpenSSL `X509_V_ERR_*` codes we translate.
mod verr {
    pub const UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
    pub const UNABLE_TO_GET_CRL: i32 = 3;
    pub const CERT_NOT_YET_VALID: i32 = 9;
    pub const CERT_HAS_EXPIRED: i32 = 10;
    pub const DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
    pub const SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
    pub const UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
    pub const UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
    pub const CERT_REVOKED: i32 = 23;
    pub const EE_KEY_TOO_SMALL: i32 = 66;
    pub const CA_KEY_TOO_SMALL: i32 = 67;
    pub const CA_MD_TOO_WEAK: i32 = 68;
}

/// QEMU's reason text for a verification failure (crypto/tlssession.c).
fn verify_reason(result: X509VerifyResult) -> &'static str {
    verify_reason_code(result.as_raw())
}

fn verify_reason_code(code: i32) -> &'static str {
    match code {
        verr::UNABLE_TO_GET_ISSUER_CERT
        | verr::UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | verr::UNABLE_TO_VERIFY_LEAF_SIGNATURE
        | verr::DEPTH_ZERO_SELF_SIGNED_CERT
        | verr::SELF_SIGNED_CERT_IN_CHAIN => "The certificate hasn't got a known issuer",
        verr::CERT_REVOKED => "The certificate has been revoked",
        verr::CERT_HAS_EXPIRED => "The certificate has expired",
        verr::CERT_NOT_YET_VALID => "The certificate is not yet activated",
        verr::EE_KEY_TOO_SMALL | verr::CA_KEY_TOO_SMALL | verr::CA_MD_TOO_WEAK => {
            "The certificate uses an insecure algorithm"
        }
        _ => "The certificate is not trusted",
    }
}

/// QEMU's text when verify-peer is on and the client sent no certificate.
pub const NO_PEER_CERT: &str = "No certificate peers";

/// OpenSSL's `ERR_LIB_SSL` and `SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE`.
const ERR_LIB_SSL: i32 = 20;
const SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: i32 = 199;

/// Explains a failed server handshake in QEMU's words when the cause was the
/// client certificate: "No certificate peers", "The certificate hasn't got a known
/// issuer", "The certificate has been revoked", "The certificate has expired", ….
/// `None` when the failure had another cause (protocol, ciphers, I/O).
#[must_use]
pub fn handshake_failure_reason(ssl: &SslRef, err: &openssl::ssl::Error) -> Option<&'static str> {
    let result = ssl.verify_result();
    if result != X509VerifyResult::OK {
        return Some(verify_reason(result));
    }
    let no_cert = err.ssl_error().is_some_and(|stack| {
        stack.errors().iter().any(|e| {
            e.library_code() == ERR_LIB_SSL
                && e.reason_code() == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE
        })
    });
    no_cert.then_some(NO_PEER_CERT)
}

/// After a successful handshake: with `verify-peer=on` on x509 credentials,
/// require a verified client certificate that is currently valid and return its DN
/// (QEMU's `x509_dname`, see [`dname_string`]). Returns `Ok(None)` for anonymous
/// credentials and with `verify-peer=off` (QEMU then reports no DN and skips authz).
///
/// # Errors
/// [`Error::PeerCertificate`] with QEMU's text: "No certificate peers", a
/// verification reason, "The certificate has expired", "The certificate is not yet
/// activated", or "Cannot get client distinguished name".
pub fn verify_peer_after_handshake(
    ssl: &SslRef,
    creds: &ServerCreds,
) -> Result<Option<String>, Error> {
    if !creds.verify_peer() {
        return Ok(None);
    }
    let reject = |reason: &str| Error::PeerCertificate {
        reason: reason.to_owned(),
    };
    let result = ssl.verify_result();
    if result != X509VerifyResult::OK {
        return Err(reject(verify_reason(result)));
    }
    let Some(cert) = ssl.peer_certificate() else {
        return Err(reject(NO_PEER_CERT));
    };
    let now = openssl::asn1::Asn1Time::days_from_now(0).map_err(Error::Session)?;
    if cert.not_after() < now {
        return Err(reject("The certificate has expired"));
    }
    if cert.not_before() > now {
        return Err(reject("The certificate is not yet activated"));
    }
    match dname::try_dname(cert.subject_name()) {
        Ok(dn) => Ok(Some(dn)),
        Err(_) => Err(reject("Cannot get client distinguished name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_priorities_are_accepted_others_refused() {
        assert!(check_priority(None).is_ok());
        assert!(check_priority(Some("NORMAL")).is_ok());
        assert!(check_priority(Some("@SYSTEM")).is_ok());
        let e = check_priority(Some("SECURE128:-VERS-TLS1.0")).unwrap_err();
        assert!(e.to_string().contains("SECURE128:-VERS-TLS1.0"), "{e}");
    }

    #[test]
    fn builtin_group_is_2048_bits() {
        let dh = builtin_dh().unwrap();
        assert_eq!(dh.prime_p().num_bits(), 2048);
        assert_eq!(dh.generator().to_dec_str().unwrap().to_string(), "2");
    }

    #[test]
    fn verify_reasons_match_qemu_texts() {
        let r = verify_reason_code;
        assert_eq!(r(verr::CERT_REVOKED), "The certificate has been revoked");
        assert_eq!(
            r(verr::UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
            "The certificate hasn't got a known issuer"
        );
        assert_eq!(r(verr::CERT_HAS_EXPIRED), "The certificate has expired");
        assert_eq!(r(7), "The certificate is not trusted");
    }
}
