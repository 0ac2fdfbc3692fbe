#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Make a CA and the certificates of `kmig migrate/incoming --tls-creds DIR`
# in DIR (QEMU's tls-creds-x509 layout), for tests and as an example:
#
#   scripts/tls-certs.sh DIR [HOST...]
#
# The server's certificate names 127.0.0.1, localhost and each HOST (an IP
# address or a DNS name): the source checks it names the host it connects
# to. Keep ca-key.pem away from both hosts in real use.
set -eu

dir=$1
shift
mkdir -p "$dir"
cd "$dir"
umask 077

key() {
	certtool --generate-privkey --key-type=ecdsa --outfile "$1" 2>/dev/null
}

cat > ca.info <<END
cn = "kmig CA"
ca
cert_signing_key
expiration_days = 3650
END
cat > server.info <<END
cn = "kmig destination"
ip_address = "127.0.0.1"
dns_name = "localhost"
tls_www_server
signing_key
expiration_days = 365
END
for h in "$@"; do
	case $h in
	*[!0-9.:a-fA-F]*) echo "dns_name = \"$h\"" ;;
	*) echo "ip_address = \"$h\"" ;;
	esac >> server.info
done
cat > client.info <<END
cn = "kmig source"
tls_www_client
signing_key
expiration_days = 365
END

key ca-key.pem
certtool --generate-self-signed --load-privkey ca-key.pem \
	--template ca.info --outfile ca-cert.pem 2>/dev/null
for side in server client; do
	key $side-key.pem
	certtool --generate-certificate --load-privkey $side-key.pem \
		--load-ca-certificate ca-cert.pem --load-ca-privkey ca-key.pem \
		--template $side.info --outfile $side-cert.pem 2>/dev/null
done
rm -f ca.info server.info client.info
