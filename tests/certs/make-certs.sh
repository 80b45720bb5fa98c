#!/bin/sh
# Regenerates the committed test certificates with GnuTLS's certtool (apt: gnutls-bin).
# CI does not run this: the outputs are committed. Everything is Ed25519 (fixed-size
# signatures keep handshake sizes the same from run to run) and never expires
# (expiration_days = -1 gives 99991231235959Z: GnuTLS checks certificates against the wall
# clock, so a dated test certificate would break the suite one day).
#
#   ca.pem / ca-key.pem                 the test CA clients trust
#   server.pem / server-key.pem         leaf signed by ca: localhost, roamquic.test,
#                                       127.0.0.1, ::1
#   other-ca.pem / other-ca-key.pem     an unrelated CA nobody trusts
#   other-server.pem / other-server-key.pem  the same names, signed by other-ca
#   garbage.pem                         not PEM at all (loading must fail cleanly)
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ca_template() {
    cat <<T
cn = "$1"
organization = "roamquic tests"
serial = $2
expiration_days = -1
ca
cert_signing_key
crl_signing_key
T
}

leaf_template() {
    cat <<T
cn = "localhost"
organization = "roamquic tests"
serial = $1
expiration_days = -1
dns_name = "localhost"
dns_name = "roamquic.test"
ip_address = "127.0.0.1"
ip_address = "::1"
tls_www_server
signing_key
T
}

make_ca() { # name cn serial
    certtool --generate-privkey --key-type=ed25519 --outfile "$1-key.pem" 2>/dev/null
    ca_template "$2" "$3" >"$tmp/$1.tmpl"
    certtool --generate-self-signed --load-privkey "$1-key.pem" \
        --template "$tmp/$1.tmpl" --outfile "$1.pem" 2>/dev/null
}

make_leaf() { # name ca serial
    certtool --generate-privkey --key-type=ed25519 --outfile "$1-key.pem" 2>/dev/null
    leaf_template "$3" >"$tmp/$1.tmpl"
    certtool --generate-certificate --load-privkey "$1-key.pem" \
        --load-ca-certificate "$2.pem" --load-ca-privkey "$2-key.pem" \
        --template "$tmp/$1.tmpl" --outfile "$1.pem" 2>/dev/null
}

make_ca ca "roamquic test CA" 1
make_leaf server ca 2
make_ca other-ca "roamquic untrusted CA" 3
make_leaf other-server other-ca 4
printf 'this is not a certificate\n' >garbage.pem
echo "test certificates written to $(pwd)"
