//! TLS credentials: loading, QEMU's sanity checks and real in-process handshakes
//! against certificates made by scripts/mkcerts.sh (plus a few odd ones built
//! here with the openssl crate).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crypto::Error;
use crypto::tls::{
    AnonOptions, CredsKind, Endpoint, ServerCreds, X509Options, handshake_failure_reason,
    verify_peer_after_handshake,
};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    SslConnector, SslContext, SslFiletype, SslMethod, SslStream, SslVerifyMode, SslVersion,
};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// Fixtures

/// The PKI made once per test process by scripts/mkcerts.sh.
fn pki() -> &'static Path {
    static PKI: OnceLock<TempDir> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mkcerts.sh");
        let out = Command::new("sh")
            .arg(&script)
            .arg(dir.path())
            .output()
            .expect("run mkcerts.sh");
        assert!(
            out.status.success(),
            "mkcerts.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
}

/// A private copy of DIR/server to modify.
fn server_dir() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(pki().join("server")).unwrap() {
        let entry = entry.unwrap();
        let dst = dir.path().join(entry.file_name());
        fs::copy(entry.path(), &dst).unwrap();
    }
    dir
}

fn opts(dir: &Path) -> X509Options {
    X509Options::server(dir)
}

fn load_err(o: &X509Options) -> String {
    match ServerCreds::load_x509(o) {
        Ok(_) => panic!("loading {} succeeded", o.dir.display()),
        Err(e) => e.to_string(),
    }
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn read_cert(path: &Path) -> X509 {
    X509::from_pem(&fs::read(path).unwrap()).unwrap()
}

fn read_key(path: &Path) -> PKey<Private> {
    PKey::private_key_from_pem(&fs::read(path).unwrap()).unwrap()
}

fn new_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// How to build a test certificate.
struct Spec<'a> {
    subject: &'a [(Nid, &'a str)],
    /// Issuer certificate and key; `None` = self-signed.
    issuer: Option<(&'a X509, &'a PKey<Private>)>,
    /// basicConstraints: None = absent, Some(ca).
    ca: Option<bool>,
    /// keyUsage: (critical, digitalSignature, keyCertSign).
    key_usage: Option<(bool, bool, bool)>,
    /// extKeyUsage: (critical, serverAuth, clientAuth).
    eku: Option<(bool, bool, bool)>,
    /// Validity relative to now, in days.
    days: (i64, i64),
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Self {
            subject: &[(Nid::COMMONNAME, "test")],
            issuer: None,
            ca: None,
            key_usage: None,
            eku: None,
            days: (-1, 30),
        }
    }
}

fn unix_days(days: i64) -> Asn1Time {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    Asn1Time::from_unix(now + days * 86_400).unwrap()
}

fn make_cert(spec: &Spec<'_>, key: &PKey<Private>) -> X509 {
    static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1000);
    let mut name = X509NameBuilder::new().unwrap();
    for (nid, v) in spec.subject {
        name.append_entry_by_nid(*nid, v).unwrap();
    }
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let serial = Asn1Integer::from_bn(&BigNum::from_u32(serial).unwrap()).unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    match spec.issuer {
        Some((cert, _)) => b.set_issuer_name(cert.subject_name()).unwrap(),
        None => b.set_issuer_name(&name).unwrap(),
    }
    b.set_pubkey(key).unwrap();
    b.set_not_before(&unix_days(spec.days.0)).unwrap();
    b.set_not_after(&unix_days(spec.days.1)).unwrap();
    if let Some(ca) = spec.ca {
        let mut bc = BasicConstraints::new();
        bc.critical();
        if ca {
            bc.ca();
        }
        b.append_extension(bc.build().unwrap()).unwrap();
    }
    if let Some((critical, ds, cs)) = spec.key_usage {
        let mut ku = KeyUsage::new();
        if critical {
            ku.critical();
        }
        if ds {
            ku.digital_signature();
        }
        if cs {
            ku.key_cert_sign().crl_sign();
        }
        if !ds && !cs {
            ku.key_agreement();
        }
        b.append_extension(ku.build().unwrap()).unwrap();
    }
    if let Some((critical, server, client)) = spec.eku {
        let mut eku = ExtendedKeyUsage::new();
        if critical {
            eku.critical();
        }
        if server {
            eku.server_auth();
        }
        if client {
            eku.client_auth();
        }
        if !server && !client {
            eku.email_protection();
        }
        b.append_extension(eku.build().unwrap()).unwrap();
    }
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(spec.issuer.map(|(c, _)| &**c), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    if let Some((issuer, _)) = spec.issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(issuer), None))
            .unwrap();
        b.append_extension(aki).unwrap();
    }
    let signer = spec.issuer.map_or(key, |(_, k)| k);
    b.sign(signer, MessageDigest::sha256()).unwrap();
    b.build()
}

fn write_cert(path: &Path, certs: &[&X509]) {
    let mut pem = Vec::new();
    for c in certs {
        pem.extend(c.to_pem().unwrap());
    }
    fs::write(path, pem).unwrap();
}

fn write_key(path: &Path, key: &PKey<Private>) {
    fs::write(path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

/// The mkcerts CA.
fn ca() -> (X509, PKey<Private>) {
    (
        read_cert(&pki().join("ca-cert.pem")),
        read_key(&pki().join("ca-key.pem")),
    )
}

/// A server dir whose server certificate is built from `spec` (issued by the
/// mkcerts CA unless the spec says otherwise).
fn server_dir_with(spec: Spec<'_>) -> TempDir {
    let dir = server_dir();
    let key = new_key();
    let cert = make_cert(&spec, &key);
    write_cert(&dir.path().join("server-cert.pem"), &[&cert]);
    write_key(&dir.path().join("server-key.pem"), &key);
    dir
}

fn good_server_spec<'a>(ca: &'a (X509, PKey<Private>)) -> Spec<'a> {
    Spec {
        subject: &[(Nid::COMMONNAME, "localhost")],
        issuer: Some((&ca.0, &ca.1)),
        ca: Some(false),
        key_usage: Some((false, true, false)),
        eku: Some((false, true, false)),
        ..Spec::default()
    }
}

// ---------------------------------------------------------------------------
// Loading

#[test]
fn mkcerts_server_dir_loads_cleanly() {
    let (creds, warnings) = ServerCreds::load_x509(&opts(&pki().join("server"))).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(creds.kind(), CredsKind::X509);
    assert!(creds.verify_peer());
    assert!(creds.request_client_cert());
    let mut o = opts(&pki().join("server"));
    o.verify_peer = false;
    let (creds, _) = ServerCreds::load_x509(&o).unwrap();
    assert!(!creds.verify_peer());
    assert!(!creds.request_client_cert());
}

#[test]
fn mkcerts_refuses_to_overwrite_without_force() {
    let out = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mkcerts.sh"))
        .arg(pki())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use --force"));
    for key in [
        "ca-key.pem",
        "server/server-key.pem",
        "client/client-key.pem",
        "client/revoked-key.pem",
        "foreign/ca-key.pem",
        "foreign/client-key.pem",
    ] {
        let mode = fs::metadata(pki().join(key)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
}

#[test]
fn missing_ca_cert_is_an_access_error() {
    let dir = server_dir();
    fs::remove_file(dir.path().join("ca-cert.pem")).unwrap();
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "Unable to access credentials {}",
            p(dir.path(), "ca-cert.pem")
        )
    );
}

#[test]
fn missing_identity_uses_qemu_text() {
    let dir = server_dir();
    fs::remove_file(dir.path().join("server-cert.pem")).unwrap();
    fs::remove_file(dir.path().join("server-key.pem")).unwrap();
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "Missing server cert '{}' & key '{}'",
            p(dir.path(), "server-cert.pem"),
            p(dir.path(), "server-key.pem")
        )
    );
}

#[test]
fn key_without_cert_and_cert_without_key() {
    let dir = server_dir();
    fs::remove_file(dir.path().join("server-cert.pem")).unwrap();
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "Key '{}' without corresponding cert '{}'",
            p(dir.path(), "server-key.pem"),
            p(dir.path(), "server-cert.pem")
        )
    );
    let dir = server_dir();
    fs::remove_file(dir.path().join("server-key.pem")).unwrap();
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "Cert '{}' without corresponding key '{}'",
            p(dir.path(), "server-cert.pem"),
            p(dir.path(), "server-key.pem")
        )
    );
}

#[test]
fn crl_and_dh_params_are_optional() {
    let dir = server_dir();
    fs::remove_file(dir.path().join("ca-crl.pem")).unwrap();
    fs::remove_file(dir.path().join("dh-params.pem")).unwrap();
    ServerCreds::load_x509(&opts(dir.path())).unwrap();
}

#[test]
fn malformed_files_are_named() {
    for (file, want) in [
        (
            "ca-cert.pem",
            "Unable to import certificate {}: no certificate found",
        ),
        (
            "server-cert.pem",
            "Unable to import certificate {}: no certificate found",
        ),
        ("server-key.pem", "Unable to import private key {}"),
        ("ca-crl.pem", "Cannot load CRL '{}': no CRL found"),
        ("dh-params.pem", "Unable to load DH parameters from {}"),
    ] {
        let dir = server_dir();
        fs::write(dir.path().join(file), "not PEM at all\n").unwrap();
        assert_eq!(
            load_err(&opts(dir.path())),
            want.replace("{}", &p(dir.path(), file)),
            "{file}"
        );
    }
}

#[test]
fn key_that_does_not_match_the_cert_is_refused() {
    let dir = server_dir();
    fs::copy(
        pki().join("client/client-key.pem"),
        dir.path().join("server-key.pem"),
    )
    .unwrap();
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "Cannot set certificate '{}' & key '{}'",
            p(dir.path(), "server-cert.pem"),
            p(dir.path(), "server-key.pem")
        )
    );
}

#[test]
fn group_readable_key_gives_a_warning_naming_the_mode() {
    let dir = server_dir();
    let key = dir.path().join("server-key.pem");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let (_, warnings) = ServerCreds::load_x509(&opts(dir.path())).unwrap();
    assert_eq!(
        warnings,
        vec![format!(
            "{} has mode 0644; it should be 0600",
            key.display()
        )]
    );
}

#[test]
fn encrypted_key_needs_the_passwordid_secret() {
    let dir = server_dir();
    let key = read_key(&dir.path().join("server-key.pem"));
    let pem = key
        .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"s3cret")
        .unwrap();
    fs::write(dir.path().join("server-key.pem"), pem).unwrap();
    let mut o = opts(dir.path());
    let want = format!(
        "Unable to import private key {}",
        p(dir.path(), "server-key.pem")
    );
    assert_eq!(load_err(&o), want);
    o.key_password = Some(b"wrong".to_vec());
    assert_eq!(load_err(&o), want);
    o.key_password = Some(b"s3cret".to_vec());
    ServerCreds::load_x509(&o).unwrap();
}

#[test]
fn expired_and_not_yet_valid_server_certs() {
    let ca = ca();
    let dir = server_dir_with(Spec {
        days: (-30, -1),
        ..good_server_spec(&ca)
    });
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "The server certificate {} has expired",
            p(dir.path(), "server-cert.pem")
        )
    );
    // sanity-check=off skips the checks, as in QEMU.
    let mut o = opts(dir.path());
    o.sanity_check = false;
    ServerCreds::load_x509(&o).unwrap();

    let dir = server_dir_with(Spec {
        days: (2, 30),
        ..good_server_spec(&ca)
    });
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "The server certificate {} is not yet active",
            p(dir.path(), "server-cert.pem")
        )
    );
}

/// A server dir with a CA built from `ca_spec` and a good server cert it signed.
fn dir_with_ca(ca_spec: Spec<'_>) -> TempDir {
    let dir = server_dir();
    let ca_key = new_key();
    let ca_cert = make_cert(&ca_spec, &ca_key);
    let ca = (ca_cert, ca_key);
    let key = new_key();
    let cert = make_cert(&good_server_spec(&ca), &key);
    write_cert(&dir.path().join("ca-cert.pem"), &[&ca.0]);
    write_cert(&dir.path().join("server-cert.pem"), &[&cert]);
    write_key(&dir.path().join("server-key.pem"), &key);
    fs::remove_file(dir.path().join("ca-crl.pem")).unwrap();
    dir
}

fn ca_spec() -> Spec<'static> {
    Spec {
        subject: &[(Nid::ORGANIZATIONNAME, "Odd"), (Nid::COMMONNAME, "Odd CA")],
        ca: Some(true),
        key_usage: Some((true, false, true)),
        days: (-1, 365),
        ..Spec::default()
    }
}

#[test]
fn ca_without_basic_constraints_ca_is_refused() {
    let dir = dir_with_ca(ca_spec());
    ServerCreds::load_x509(&opts(dir.path())).unwrap();

    let dir = dir_with_ca(Spec {
        ca: None,
        ..ca_spec()
    });
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "The certificate {} is missing basic constraints for a CA",
            p(dir.path(), "ca-cert.pem")
        )
    );
    let dir = dir_with_ca(Spec {
        ca: Some(false),
        ..ca_spec()
    });
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "The certificate {} basic constraints do not show a CA",
            p(dir.path(), "ca-cert.pem")
        )
    );
}

#[test]
fn expired_ca_and_ca_without_cert_signing() {
    let dir = dir_with_ca(Spec {
        days: (-30, -1),
        ..ca_spec()
    });
    let err = load_err(&opts(dir.path()));
    assert_eq!(
        err,
        format!(
            "The CA certificate {} has expired",
            p(dir.path(), "ca-cert.pem")
        )
    );
    let dir = dir_with_ca(Spec {
        key_usage: Some((true, true, false)),
        ..ca_spec()
    });
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "Certificate {} usage does not permit certificate signing",
            p(dir.path(), "ca-cert.pem")
        )
    );
}

#[test]
fn leaf_marked_ca_is_refused() {
    let ca = ca();
    let dir = server_dir_with(Spec {
        ca: Some(true),
        ..good_server_spec(&ca)
    });
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "The certificate {} basic constraints show a CA, but we need one for a server",
            p(dir.path(), "server-cert.pem")
        )
    );
}

#[test]
fn wrong_extended_key_usage_is_fatal_only_when_critical() {
    let ca = ca();
    let dir = server_dir_with(Spec {
        eku: Some((true, false, true)),
        ..good_server_spec(&ca)
    });
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "Certificate {} purpose does not allow use with a TLS server",
            p(dir.path(), "server-cert.pem")
        )
    );
    let dir = server_dir_with(Spec {
        eku: Some((false, false, true)),
        ..good_server_spec(&ca)
    });
    ServerCreds::load_x509(&opts(dir.path())).unwrap();
    let dir = server_dir_with(Spec {
        eku: Some((true, true, true)),
        ..good_server_spec(&ca)
    });
    ServerCreds::load_x509(&opts(dir.path())).unwrap();
}

#[test]
fn wrong_key_usage_is_fatal_only_when_critical() {
    let ca = ca();
    let dir = server_dir_with(Spec {
        key_usage: Some((true, false, false)),
        ..good_server_spec(&ca)
    });
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "Certificate {} usage does not permit digital signature",
            p(dir.path(), "server-cert.pem")
        )
    );
    let dir = server_dir_with(Spec {
        key_usage: Some((false, false, false)),
        ..good_server_spec(&ca)
    });
    ServerCreds::load_x509(&opts(dir.path())).unwrap();
    // QEMU also wants keyEncipherment in a critical keyUsage, even for EC keys.
    let dir = server_dir_with(Spec {
        key_usage: Some((true, true, false)),
        ..good_server_spec(&ca)
    });
    assert_eq!(
        load_err(&opts(dir.path())),
        format!(
            "Certificate {} usage does not permit key encipherment",
            p(dir.path(), "server-cert.pem")
        )
    );
}

#[test]
fn server_cert_from_another_ca_has_no_issuer_in_chain() {
    let foreign = (
        read_cert(&pki().join("foreign/ca-cert.pem")),
        read_key(&pki().join("foreign/ca-key.pem")),
    );
    let dir = server_dir_with(Spec {
        subject: &[
            (Nid::ORGANIZATIONNAME, "Porthole Test"),
            (Nid::COMMONNAME, "localhost"),
        ],
        ..good_server_spec(&foreign)
    });
    assert_eq!(
        load_err(&opts(dir.path())),
        "Cert 'O=Porthole Test,CN=localhost' has no issuer in CA chain"
    );
}

#[test]
fn intermediate_chain_in_the_server_cert_file() {
    let root = ca();
    let inter_key = new_key();
    let inter = make_cert(
        &Spec {
            subject: &[(Nid::COMMONNAME, "Intermediate")],
            issuer: Some((&root.0, &root.1)),
            ..ca_spec()
        },
        &inter_key,
    );
    let inter_pair = (inter, inter_key);
    let key = new_key();
    let leaf = make_cert(&good_server_spec(&inter_pair), &key);
    let dir = server_dir();
    write_cert(&dir.path().join("server-cert.pem"), &[&leaf, &inter_pair.0]);
    write_key(&dir.path().join("server-key.pem"), &key);
    // The client trusts only the root: the server must send the intermediate.
    let creds = creds_for(dir.path(), false);
    let out = handshake(&creds, &x509_client(None, None));
    assert_eq!(out.server, Ok(None));
    assert!(out.client_ok);

    // Certificates out of order: QEMU's "does not match issuer" text.
    write_cert(&dir.path().join("server-cert.pem"), &[&leaf, &root.0]);
    assert_eq!(
        load_err(&opts(dir.path())),
        "Cert 'O=Porthole Test,CN=Porthole Test CA' does not match issuer of cert 'CN=localhost'"
    );
}

#[test]
fn client_endpoint_cannot_serve() {
    let mut o = opts(&pki().join("server"));
    o.endpoint = Endpoint::Client;
    let e = ServerCreds::load_x509(&o).unwrap_err();
    assert!(matches!(e, Error::ClientEndpoint));
    assert!(e.to_string().contains("add endpoint=server"), "{e}");
    let e = ServerCreds::load_anon(&AnonOptions::default()).unwrap_err();
    assert!(e.to_string().contains("add endpoint=server"), "{e}");
}

#[test]
fn non_default_priority_is_refused() {
    let mut o = opts(&pki().join("server"));
    o.priority = Some("NORMAL".into());
    ServerCreds::load_x509(&o).unwrap();
    o.priority = Some("SECURE256:-VERS-TLS1.2".into());
    let e = ServerCreds::load_x509(&o).unwrap_err();
    assert!(matches!(e, Error::Priority(_)), "{e}");
}

// ---------------------------------------------------------------------------
// Handshakes

struct Outcome {
    /// Ok(DN) after the server-side checks, or the failure text.
    server: Result<Option<String>, String>,
    /// Whether the client received the server's go-ahead byte.
    client_ok: bool,
    /// Whether the server saw a client certificate at all.
    peer_cert_seen: bool,
    version: Option<String>,
    cipher: Option<String>,
}

fn handshake(creds: &ServerCreds, client: &ClientSide) -> Outcome {
    handshake_checked(creds, creds, client)
}

/// Runs a handshake with `creds`, then the post-handshake check with `check`.
fn handshake_checked(creds: &ServerCreds, check: &ServerCreds, client: &ClientSide) -> Outcome {
    let (s, c) = UnixStream::pair().unwrap();
    for sock in [&s, &c] {
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        sock.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }
    let client_ctx = client.ctx.clone();
    let hostname = client.hostname;
    let t = std::thread::spawn(move || {
        let mut ssl = openssl::ssl::Ssl::new(&client_ctx).unwrap();
        if let Some(h) = hostname {
            ssl.set_hostname(h).unwrap();
            ssl.param_mut().set_host(h).unwrap();
        }
        let Ok(mut stream) = ssl.connect(c) else {
            return false;
        };
        let mut b = [0u8; 1];
        matches!(stream.read(&mut b), Ok(1) if b[0] == b'k')
    });
    let ssl = creds.new_session().unwrap();
    let mut stream = SslStream::new(ssl, s).unwrap();
    let (server, peer_cert_seen, version, cipher) = match stream.accept() {
        Ok(()) => {
            let seen = stream.ssl().peer_certificate().is_some();
            let version = Some(stream.ssl().version_str().to_owned());
            let cipher = stream.ssl().current_cipher().map(|c| c.name().to_owned());
            let r = verify_peer_after_handshake(stream.ssl(), check).map_err(|e| e.to_string());
            if r.is_ok() {
                stream.write_all(b"k").unwrap();
                stream.flush().unwrap();
            }
            (r, seen, version, cipher)
        }
        Err(e) => {
            let reason = handshake_failure_reason(stream.ssl(), &e)
                .map_or_else(|| format!("handshake failed: {e}"), str::to_owned);
            (Err(reason), false, None, None)
        }
    };
    drop(stream);
    let client_ok = t.join().unwrap();
    Outcome {
        server,
        client_ok,
        peer_cert_seen,
        version,
        cipher,
    }
}

struct ClientSide {
    ctx: SslContext,
    hostname: Option<&'static str>,
}

fn x509_client(identity: Option<(&Path, &Path)>, max: Option<SslVersion>) -> ClientSide {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(pki().join("ca-cert.pem")).unwrap();
    b.set_verify(SslVerifyMode::PEER);
    if let Some((cert, key)) = identity {
        b.set_certificate_chain_file(cert).unwrap();
        b.set_private_key_file(key, SslFiletype::PEM).unwrap();
    }
    b.set_max_proto_version(max).unwrap();
    ClientSide {
        ctx: b.build().into_context(),
        hostname: Some("localhost"),
    }
}

fn client_files(name: &str) -> (PathBuf, PathBuf) {
    (
        pki().join(format!("{name}-cert.pem")),
        pki().join(format!("{name}-key.pem")),
    )
}

fn creds_for(dir: &Path, verify_peer: bool) -> ServerCreds {
    let mut o = opts(dir);
    o.verify_peer = verify_peer;
    ServerCreds::load_x509(&o).unwrap().0
}

const GOOD_DN: &str = "O=Porthole Test,CN=client.porthole.test";

#[test]
fn verify_peer_off_accepts_without_a_client_cert_and_never_asks_for_one() {
    let creds = creds_for(&pki().join("server"), false);
    let out = handshake(&creds, &x509_client(None, None));
    assert_eq!(out.server, Ok(None));
    assert!(out.client_ok);
    // A client that has a certificate only sends it when asked.
    let (cert, key) = client_files("client/client");
    let out = handshake(&creds, &x509_client(Some((&cert, &key)), None));
    assert_eq!(out.server, Ok(None));
    assert!(out.client_ok);
    assert!(!out.peer_cert_seen, "the server sent a CertificateRequest");
    assert_eq!(out.version.as_deref(), Some("TLSv1.3"));
}

#[test]
fn verify_peer_on_accepts_a_good_client_and_reports_its_dn() {
    let creds = creds_for(&pki().join("server"), true);
    let (cert, key) = client_files("client/client");
    for max in [None, Some(SslVersion::TLS1_2)] {
        let out = handshake(&creds, &x509_client(Some((&cert, &key)), max));
        assert_eq!(out.server, Ok(Some(GOOD_DN.to_owned())), "{max:?}");
        assert!(out.client_ok);
    }
}

#[test]
fn verify_peer_on_rejects_a_missing_client_cert() {
    let creds = creds_for(&pki().join("server"), true);
    for max in [None, Some(SslVersion::TLS1_2)] {
        let out = handshake(&creds, &x509_client(None, max));
        assert_eq!(
            out.server,
            Err("No certificate peers".to_owned()),
            "{max:?}"
        );
        assert!(!out.client_ok);
    }
}

#[test]
fn verify_peer_on_rejects_a_foreign_ca_client() {
    let creds = creds_for(&pki().join("server"), true);
    let (cert, key) = client_files("foreign/client");
    let out = handshake(&creds, &x509_client(Some((&cert, &key)), None));
    assert_eq!(
        out.server,
        Err("The certificate hasn't got a known issuer".to_owned())
    );
    assert!(!out.client_ok);
}

#[test]
fn verify_peer_on_rejects_a_revoked_client_via_the_crl() {
    let creds = creds_for(&pki().join("server"), true);
    let (cert, key) = client_files("client/revoked");
    let out = handshake(&creds, &x509_client(Some((&cert, &key)), None));
    assert_eq!(
        out.server,
        Err("The certificate has been revoked".to_owned())
    );
    assert!(!out.client_ok);

    // The CRL is what rejects it: without ca-crl.pem the same client passes.
    let dir = server_dir();
    fs::remove_file(dir.path().join("ca-crl.pem")).unwrap();
    let creds = creds_for(dir.path(), true);
    let out = handshake(&creds, &x509_client(Some((&cert, &key)), None));
    assert_eq!(
        out.server,
        Ok(Some("O=Porthole Test,CN=revoked.porthole.test".to_owned()))
    );
}

#[test]
fn verify_peer_on_rejects_an_expired_client_cert() {
    let ca = ca();
    let key = new_key();
    let cert = make_cert(
        &Spec {
            subject: &[(Nid::COMMONNAME, "old")],
            issuer: Some((&ca.0, &ca.1)),
            ca: Some(false),
            eku: Some((false, false, true)),
            days: (-30, -1),
            ..Spec::default()
        },
        &key,
    );
    let dir = tempfile::tempdir().unwrap();
    let (cp, kp) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    write_cert(&cp, &[&cert]);
    write_key(&kp, &key);
    let creds = creds_for(&pki().join("server"), true);
    let out = handshake(&creds, &x509_client(Some((&cp, &kp)), None));
    assert_eq!(out.server, Err("The certificate has expired".to_owned()));
}

#[test]
fn client_behind_an_intermediate_ca_passes_with_a_root_only_crl() {
    // The CRL file has the root's CRL only; the intermediate has none, which is
    // not an error (a CRL is used where there is one).
    let root = ca();
    let inter_key = new_key();
    let inter = make_cert(
        &Spec {
            subject: &[
                (Nid::ORGANIZATIONNAME, "Porthole Test"),
                (Nid::COMMONNAME, "Sub CA"),
            ],
            issuer: Some((&root.0, &root.1)),
            ..ca_spec()
        },
        &inter_key,
    );
    let inter = (inter, inter_key);
    let key = new_key();
    let cert = make_cert(
        &Spec {
            subject: &[
                (Nid::COUNTRYNAME, "GB"),
                (Nid::ORGANIZATIONNAME, "Example, Ltd."),
                (Nid::COMMONNAME, "deep.client"),
            ],
            issuer: Some((&inter.0, &inter.1)),
            ca: Some(false),
            eku: Some((false, false, true)),
            ..Spec::default()
        },
        &key,
    );
    let dir = tempfile::tempdir().unwrap();
    let (cp, kp) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    write_cert(&cp, &[&cert, &inter.0]);
    write_key(&kp, &key);
    let creds = creds_for(&pki().join("server"), true);
    let out = handshake(&creds, &x509_client(Some((&cp, &kp)), None));
    assert_eq!(
        out.server,
        Ok(Some(r"C=GB,O=Example\, Ltd.,CN=deep.client".to_owned()))
    );
    assert!(out.client_ok);
}

#[test]
fn post_handshake_check_requires_a_certificate_itself() {
    // A session from verify-peer=off credentials, checked against verify-peer=on
    // ones: the check does not rely on the handshake having enforced anything.
    let off = creds_for(&pki().join("server"), false);
    let on = creds_for(&pki().join("server"), true);
    let out = handshake_checked(&off, &on, &x509_client(None, None));
    assert_eq!(out.server, Err("No certificate peers".to_owned()));
    assert!(!out.client_ok);
}

#[test]
fn anonymous_dh_handshake_with_an_anull_client() {
    for dir in [None, Some(pki().join("server"))] {
        let (creds, warnings) = ServerCreds::load_anon(&AnonOptions {
            dir: dir.clone(),
            endpoint: Endpoint::Server,
            priority: None,
        })
        .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(creds.kind(), CredsKind::Anon);
        assert!(!creds.verify_peer() && !creds.request_client_cert());
        for ciphers in ["aNULL:@SECLEVEL=0", "ADH:@SECLEVEL=0"] {
            let mut b = SslContext::builder(SslMethod::tls_client()).unwrap();
            b.set_cipher_list(ciphers).unwrap();
            b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
            b.set_verify(SslVerifyMode::NONE);
            let out = handshake(
                &creds,
                &ClientSide {
                    ctx: b.build(),
                    hostname: None,
                },
            );
            assert_eq!(out.server, Ok(None), "{dir:?} {ciphers}");
            assert!(out.client_ok);
            assert_eq!(out.version.as_deref(), Some("TLSv1.2"));
            let cipher = out.cipher.unwrap();
            assert!(
                cipher.starts_with("ADH-") || cipher.starts_with("AECDH-"),
                "{cipher}"
            );
            if ciphers.starts_with("ADH") {
                assert!(cipher.starts_with("ADH-"), "{cipher}");
            }
        }
    }
    // A client insisting on certificates cannot talk to an anonymous server.
    let (creds, _) = ServerCreds::load_anon(&AnonOptions {
        dir: None,
        endpoint: Endpoint::Server,
        priority: None,
    })
    .unwrap();
    let out = handshake(&creds, &x509_client(None, None));
    assert!(out.server.is_err());
    assert!(!out.client_ok);
}

#[test]
fn reload_is_load_and_swap() {
    // Sessions made from old credentials keep working after new ones are loaded
    // from rotated files.
    let dir = server_dir();
    let old = creds_for(dir.path(), false);
    let ca = ca();
    let key = new_key();
    let cert = make_cert(&good_server_spec(&ca), &key);
    write_cert(&dir.path().join("server-cert.pem"), &[&cert]);
    write_key(&dir.path().join("server-key.pem"), &key);
    let new = creds_for(dir.path(), false);
    assert!(handshake(&old, &x509_client(None, None)).client_ok);
    assert!(handshake(&new, &x509_client(None, None)).client_ok);
}

/// The expected string was read from QEMU 7.2's `query-vnc` (`x509_dname`) for a
/// client presenting a certificate with this subject, made by the same command.
#[test]
fn dname_matches_qemu_7_2_for_a_tricky_subject() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new("openssl")
        .args(["req", "-new", "-x509", "-days", "1", "-key"])
        .arg(&key)
        .args([
            "-multivalue-rdn",
            "-utf8",
            "-subj",
            "/C=GB/O=Example, Ltd./OU=#hash+OU= sp /CN=Zoë \"q\" <x>;y/emailAddress=a@b.test/DC=test",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = X509::from_pem(&out.stdout).unwrap();
    assert_eq!(
        crypto::tls::dname_string(cert.subject_name()),
        r#"C=GB,O=Example\, Ltd.,OU=\ sp\ +OU=\#hash,CN=Zoë \"q\" \<x\>\;y,EMAIL=a@b.test,DC=test"#
    );
}
