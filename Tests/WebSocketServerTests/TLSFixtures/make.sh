#!/usr/bin/env bash
# Makes the certificates the TLS tests use. FOR TESTS ONLY: the private keys are public, in
# this repository. Valid for 100 years, so they are made once and committed; run this again
# only to change them.
#   ca.pem            a test certificate authority
#   server.pem        localhost, 127.0.0.1 and ::1, from the test CA (server-key.pem)
#   other.pem         *.other.test, from the test CA, for SNI (other-key.pem)
#   client.pem        CN=alice,O=Example Clients, from the test CA, for mutual TLS (client-key.pem)
#   rogue-client.pem  a self-signed client certificate no test trusts (rogue-client-key.pem)
set -euo pipefail
cd "$(dirname "$0")"
days=36500
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca-key.pem
openssl req -x509 -new -key ca-key.pem -out ca.pem -days $days -subj "/CN=WebSocket Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

issue() {  # name subject extensions
    key "$1-key.pem"
    openssl req -new -key "$1-key.pem" -subj "$2" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days $days -out "$1.pem" \
        -extfile <(printf '%s\n' "$3") 2>/dev/null
    rm "$1.csr"
}
issue server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth"
issue other "/CN=other.test" "subjectAltName=DNS:*.other.test
extendedKeyUsage=serverAuth"
issue client "/O=Example Clients/CN=alice" "extendedKeyUsage=clientAuth"

key rogue-client-key.pem
openssl req -x509 -new -key rogue-client-key.pem -out rogue-client.pem -days $days -subj "/CN=mallory"
rm -f ca.srl ca-key.pem
