//! TlsStream over real non-blocking TCP sockets, against an OpenSSL client thread.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use chan::tls::{Handshake, TLS_WRITE_CHUNK, TlsStream};
use chan::{Channel, Error};
use mio::{Events, Interest, Poll, Token};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::ssl::{
    Ssl, SslConnector, SslContext, SslContextBuilder, SslMethod, SslStream, SslVerifyMode,
    SslVersion,
};
use openssl::x509::{X509, X509NameBuilder};

const DEADLINE: Duration = Duration::from_secs(20);

/// A server context with a fresh self-signed P-256 certificate and OpenSSL's
/// default modes (no moving write buffer, no partial writes: the strict case).
fn server_ctx() -> SslContext {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "porthole-test").unwrap();
    let name = name.build();
    let mut cert = X509::builder().unwrap();
    cert.set_version(2).unwrap();
    cert.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = cert.build();
    let mut ctx = SslContextBuilder::new(SslMethod::tls_server()).unwrap();
    ctx.set_private_key(&key).unwrap();
    ctx.set_certificate(&cert).unwrap();
    ctx.build()
}

fn connector(max: Option<SslVersion>) -> SslConnector {
    let mut c = SslConnector::builder(SslMethod::tls_client()).unwrap();
    c.set_verify(SslVerifyMode::NONE);
    c.set_max_proto_version(max).unwrap();
    c.build()
}

/// A connected pair: (non-blocking server side, blocking client side).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    (server, client)
}

fn tls_server<S: Read + Write>(stream: S) -> TlsStream<S> {
    TlsStream::accept(Ssl::new(&server_ctx()).unwrap(), stream).unwrap()
}

fn client_connect(tcp: TcpStream, max: Option<SslVersion>) -> SslStream<TcpStream> {
    connector(max).connect("porthole-test", tcp).unwrap()
}

/// Steps the handshake, sleeping briefly on WantRead/WantWrite, until it ends.
fn drive_handshake<S: Read + Write>(tls: &mut TlsStream<S>) -> Result<(), Error> {
    let start = Instant::now();
    loop {
        match tls.handshake()? {
            Handshake::Done => return Ok(()),
            Handshake::WantRead | Handshake::WantWrite => {
                assert!(start.elapsed() < DEADLINE, "handshake stalled");
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 7 + seed) % 251).to_le_bytes()[0])
        .collect()
}

/// Reads exactly `len` bytes from a non-blocking reader, retrying on WouldBlock.
fn read_exact_nb(r: &mut impl Read, len: usize) -> Vec<u8> {
    let start = Instant::now();
    let mut got = vec![0; len];
    let mut at = 0;
    while at < len {
        match r.read(&mut got[at..]) {
            Ok(0) => panic!("EOF after {at} of {len} bytes"),
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(start.elapsed() < DEADLINE, "read stalled at {at}");
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }
    got
}

#[test]
fn handshake_waits_for_the_client_without_blocking() {
    let (server, _client) = tcp_pair();
    let mut tls = tls_server(server);
    assert_eq!(tls.handshake().unwrap(), Handshake::WantRead);
    assert!(!tls.is_handshake_done());
    assert!(!tls.pending_plaintext());
}

#[test]
fn data_both_ways_with_large_writes_and_close_notify() {
    const UP: usize = 1 << 20;
    const DOWN: usize = 16 << 20;
    let (server, client) = tcp_pair();
    // The server says when its socket first filled up; only then does the peer read, so the
    // retry path is exercised however fast or slow the machine is.
    let (full_tx, full_rx) = std::sync::mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        let mut c = client_connect(client, None);
        c.write_all(&pattern(UP, 1)).unwrap();
        full_rx.recv().unwrap();
        let mut down = vec![0; DOWN];
        c.read_exact(&mut down).unwrap();
        assert!(down == pattern(DOWN, 2), "server data corrupted");
        c.shutdown().unwrap();
        // Wait for the server's close_notify, then hang up.
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    });

    let mut chan = Channel::Tls(Box::new(tls_server(server)));
    let Channel::Tls(tls) = &mut chan else {
        unreachable!()
    };
    drive_handshake(tls).unwrap();
    assert!(tls.ssl().current_cipher().is_some());
    assert_eq!(tls.ssl().version_str(), "TLSv1.3");

    assert!(
        read_exact_nb(&mut chan, UP) == pattern(UP, 1),
        "client data corrupted"
    );

    let data = pattern(DOWN, 2);
    let (mut at, mut would_block) = (0, 0);
    let start = Instant::now();
    while at < DOWN || chan.has_pending_write() {
        let res = if at < DOWN {
            chan.write(&data[at..])
        } else {
            chan.flush().map(|()| 0)
        };
        match res {
            Ok(n) => {
                assert!(n <= TLS_WRITE_CHUNK);
                at += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if would_block == 0 {
                    full_tx.send(()).unwrap();
                }
                would_block += 1;
                assert!(start.elapsed() < DEADLINE, "write stalled at {at}");
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
    assert!(
        would_block > 0,
        "the socket never filled up; the retry path was not exercised"
    );

    // The client's close_notify reads as a clean EOF.
    let start = Instant::now();
    let mut buf = [0; 64];
    loop {
        match chan.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => panic!("unexpected {n} bytes"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(start.elapsed() < DEADLINE);
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }
    let Channel::Tls(tls) = &mut chan else {
        unreachable!()
    };
    while let Err(e) = tls.shutdown() {
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        thread::sleep(Duration::from_millis(1));
    }
    peer.join().unwrap();
}

/// One 16 KiB record read through a 100-byte buffer: after the first read the
/// socket is empty and no new edge comes, but OpenSSL still holds the plaintext.
fn pending_plaintext_is_drained_without_a_new_edge(max: Option<SslVersion>) {
    const LEN: usize = 16 * 1024;
    let (server, client) = tcp_pair();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        let mut c = client_connect(client, max);
        c.write_all(&pattern(LEN, 3)).unwrap();
        done_rx.recv().unwrap();
    });

    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(8);
    let mut tls = tls_server(mio::net::TcpStream::from_std(server));
    poll.registry()
        .register(&mut tls, Token(1), Interest::READABLE | Interest::WRITABLE)
        .unwrap();
    drive_handshake(&mut tls).unwrap();

    let mut buf = [0; 100];
    let mut got = Vec::new();
    let start = Instant::now();
    while got.is_empty() {
        match tls.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(start.elapsed() < DEADLINE);
                poll.poll(&mut events, Some(Duration::from_millis(10)))
                    .unwrap();
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }
    assert!(
        tls.pending_plaintext(),
        "the rest of the record waits inside OpenSSL"
    );
    // Drain the edges already queued; after that no readable edge comes, although
    // more than 16000 bytes wait to be read.
    for _ in 0..20 {
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
        if events.is_empty() {
            break;
        }
    }
    poll.poll(&mut events, Some(Duration::from_millis(50)))
        .unwrap();
    assert!(
        events.iter().all(|e| !e.is_readable()),
        "unexpected readable edge"
    );
    while tls.pending_plaintext() {
        let n = tls.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == pattern(LEN, 3));
    let err = tls.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    done_tx.send(()).unwrap();
    peer.join().unwrap();
}

#[test]
fn pending_plaintext_tls13() {
    pending_plaintext_is_drained_without_a_new_edge(None);
}

#[test]
fn pending_plaintext_tls12() {
    pending_plaintext_is_drained_without_a_new_edge(Some(SslVersion::TLS1_2));
}

#[test]
fn cve_2016_10207_client_aborts_after_client_hello() {
    let (server, client) = tcp_pair();
    let peer = thread::spawn(move || {
        client.set_nonblocking(true).unwrap();
        // The ClientHello goes out, then the handshake would block: hang up there.
        match connector(None).connect("porthole-test", client) {
            Err(openssl::ssl::HandshakeError::WouldBlock(mid)) => drop(mid),
            other => panic!(
                "unexpected client handshake result: {:?}",
                other.map(|_| ())
            ),
        }
    });
    let mut tls = tls_server(server);
    peer.join().unwrap();
    let err = drive_handshake(&mut tls).unwrap_err();
    assert!(matches!(err, Error::TlsHandshake(_)), "{err}");
    // Further calls keep failing instead of panicking.
    assert!(tls.handshake().is_err());
}

#[test]
fn cve_2016_10207_client_closes_before_hello() {
    let (server, client) = tcp_pair();
    drop(client);
    let mut tls = tls_server(server);
    assert!(matches!(
        drive_handshake(&mut tls),
        Err(Error::TlsHandshake(_))
    ));
}

#[test]
fn plaintext_http_instead_of_client_hello_fails() {
    let (server, mut client) = tcp_pair();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut tls = tls_server(server);
    assert!(matches!(
        drive_handshake(&mut tls),
        Err(Error::TlsHandshake(_))
    ));
}

#[test]
fn tcp_close_without_close_notify_is_unexpected_eof() {
    // TLS 1.2, so that no post-handshake ticket sits unread in the client's socket:
    // closing with unread data would send an RST instead of a FIN.
    let (server, client) = tcp_pair();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        let mut c = client_connect(client, Some(SslVersion::TLS1_2));
        c.write_all(b"bye").unwrap();
        go_rx.recv().unwrap();
        // Drop without shutdown(): a plain FIN, no close_notify.
    });
    let mut tls = tls_server(server);
    drive_handshake(&mut tls).unwrap();
    assert_eq!(read_exact_nb(&mut tls, 3), b"bye");
    go_tx.send(()).unwrap();
    peer.join().unwrap();
    let start = Instant::now();
    let mut buf = [0; 16];
    let err = loop {
        match tls.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(start.elapsed() < DEADLINE);
                thread::sleep(Duration::from_millis(1));
            }
            Ok(n) => panic!("read returned Ok({n})"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
}

#[test]
fn plain_channel_passes_bytes_through() {
    let (server, mut client) = tcp_pair();
    let mut chan = Channel::Plain(mio::net::TcpStream::from_std(server));
    assert!(chan.tls().is_none() && !chan.pending_plaintext() && !chan.has_pending_write());
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(8);
    poll.registry()
        .register(&mut chan, Token(7), Interest::READABLE)
        .unwrap();
    client.write_all(b"RFB 003.008\n").unwrap();
    poll.poll(&mut events, Some(DEADLINE)).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.token() == Token(7) && e.is_readable())
    );
    assert_eq!(read_exact_nb(&mut chan, 12), b"RFB 003.008\n");
    chan.write_all(b"ok").unwrap();
    let mut two = [0; 2];
    client.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"ok");
    assert!(chan.get_ref().peer_addr().is_ok());
    poll.registry().deregister(&mut chan).unwrap();
}
