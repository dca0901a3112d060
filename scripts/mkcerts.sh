#!/bin/sh
# Creates a test PKI for Porthole's (and QEMU's) VeNCrypt TLS with the openssl CLI.
#
#   scripts/mkcerts.sh [--force] DIR
#
# Layout (keys are mode 0600, every certificate has its own random serial,
# keys are EC P-256, certificates are valid for 10 years from now):
#
#   DIR/ca-cert.pem ca-key.pem ca-crl.pem   the test CA and its CRL
#   DIR/client-cert.pem client-key.pem      copies of the good client identity
#   DIR/server/   ca-cert.pem server-cert.pem server-key.pem ca-crl.pem dh-params.pem
#                 a ready tls-creds-x509 dir (endpoint=server); server cert
#                 CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1, serverAuth
#   DIR/client/   ca-cert.pem ca-crl.pem client-cert.pem client-key.pem
#                 revoked-cert.pem revoked-key.pem
#                 client: O=Porthole Test, CN=client.porthole.test, clientAuth;
#                 revoked: CN=revoked.porthole.test, listed in ca-crl.pem
#   DIR/foreign/  ca-cert.pem ca-key.pem client-cert.pem client-key.pem
#                 an unrelated CA and a client certificate it signed
#
# dh-params.pem is the fixed RFC 7919 group ffdhe2048. Prints one summary line on
# success. Refuses to overwrite an existing PKI unless --force is given.

set -eu

prog=mkcerts.sh
usage() {
    echo "usage: $prog [--force] DIR" >&2
    exit 2
}

force=0
dir=
for arg in "$@"; do
    case "$arg" in
    --force) force=1 ;;
    -h | --help) usage ;;
    -*) echo "$prog: unknown option '$arg'" >&2; usage ;;
    *)
        [ -z "$dir" ] || usage
        dir=$arg
        ;;
    esac
done
[ -n "$dir" ] || usage
command -v openssl >/dev/null 2>&1 || { echo "$prog: the openssl command is required" >&2; exit 1; }

outputs="ca-cert.pem ca-key.pem ca-crl.pem client-cert.pem client-key.pem
server/ca-cert.pem server/server-cert.pem server/server-key.pem server/ca-crl.pem server/dh-params.pem
client/ca-cert.pem client/ca-crl.pem client/client-cert.pem client/client-key.pem
client/revoked-cert.pem client/revoked-key.pem
foreign/ca-cert.pem foreign/ca-key.pem foreign/client-cert.pem foreign/client-key.pem"

if [ "$force" = 0 ]; then
    for f in $outputs; do
        if [ -e "$dir/$f" ]; then
            echo "$prog: $dir/$f already exists; use --force to overwrite" >&2
            exit 1
        fi
    done
fi

umask 022
mkdir -p "$dir/server" "$dir/client" "$dir/foreign"
work=$(mktemp -d "${TMPDIR:-/tmp}/mkcerts.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
log=$work/log
: >"$log"

run() {
    if ! "$@" >>"$log" 2>&1; then
        echo "$prog: failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}

# A fresh positive 128-bit serial.
serial() {
    echo "0x1$(openssl rand -hex 16 | cut -c2-)"
}

newkey() {
    rm -f "$1"
    (umask 077 && run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1")
}

cnf=$work/openssl.cnf
cat >"$cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused

[ca]
default_ca = ca_default
[ca_default]
database = $work/index.txt
crlnumber = $work/crlnumber
default_md = sha256
default_crl_days = 3650

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
: >"$work/index.txt"
echo 01 >"$work/crlnumber"

# mkca KEY CERT SUBJECT
mkca() {
    newkey "$1"
    run openssl req -x509 -new -key "$1" -subj "$3" -days 3650 -sha256 \
        -set_serial "$(serial)" -config "$cnf" -extensions ca_ext -out "$2"
}

# mkleaf CAKEY CACERT KEY CERT SUBJECT EXTENSIONS
mkleaf() {
    newkey "$3"
    run openssl req -new -key "$3" -subj "$5" -config "$cnf" -out "$work/req.pem"
    run openssl x509 -req -in "$work/req.pem" -CA "$2" -CAkey "$1" \
        -set_serial "$(serial)" -days 3650 -sha256 \
        -extfile "$cnf" -extensions "$6" -out "$4"
}

mkca "$dir/ca-key.pem" "$dir/ca-cert.pem" "/O=Porthole Test/CN=Porthole Test CA"
mkleaf "$dir/ca-key.pem" "$dir/ca-cert.pem" "$dir/server/server-key.pem" \
    "$dir/server/server-cert.pem" "/O=Porthole Test/CN=localhost" server_ext
mkleaf "$dir/ca-key.pem" "$dir/ca-cert.pem" "$dir/client/client-key.pem" \
    "$dir/client/client-cert.pem" "/O=Porthole Test/CN=client.porthole.test" client_ext
mkleaf "$dir/ca-key.pem" "$dir/ca-cert.pem" "$dir/client/revoked-key.pem" \
    "$dir/client/revoked-cert.pem" "/O=Porthole Test/CN=revoked.porthole.test" client_ext

run openssl ca -config "$cnf" -keyfile "$dir/ca-key.pem" -cert "$dir/ca-cert.pem" \
    -revoke "$dir/client/revoked-cert.pem" -crl_reason keyCompromise
run openssl ca -config "$cnf" -keyfile "$dir/ca-key.pem" -cert "$dir/ca-cert.pem" \
    -gencrl -out "$dir/ca-crl.pem"

mkca "$dir/foreign/ca-key.pem" "$dir/foreign/ca-cert.pem" "/O=Foreign Test/CN=Foreign Test CA"
mkleaf "$dir/foreign/ca-key.pem" "$dir/foreign/ca-cert.pem" "$dir/foreign/client-key.pem" \
    "$dir/foreign/client-cert.pem" "/O=Porthole Test/CN=client.porthole.test" client_ext

run openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$dir/server/dh-params.pem"

for sub in server client; do
    cp "$dir/ca-cert.pem" "$dir/ca-crl.pem" "$dir/$sub/"
done
rm -f "$dir/client-cert.pem" "$dir/client-key.pem"
cp "$dir/client/client-cert.pem" "$dir/client/client-key.pem" "$dir/"

echo "$prog: wrote CA, CRL, server (CN=localhost), client, revoked client and foreign CA certificates to $dir"
