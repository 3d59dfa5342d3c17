#!/bin/sh
# Lays out EmoStream's image under ROOT, around the binary already built
# into ROOT/usr/local/bin/emostream: the users (65532 "emostream", home
# /data), the CA roots, /tmp, and /data for the user (its owner is set
# when run as root; scripts/build-image.sh sets owners in its tar).
# Both scripts/build-image.sh and Containerfile run it, so the two images
# hold the same files with the same modes.
#   sh deploy/image/rootfs.sh ROOT
set -eu
root=${1:?usage: rootfs.sh ROOT}
here=$(dirname "$0")
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$root/usr/local/bin/emostream" ] || { echo "rootfs.sh: $root/usr/local/bin/emostream missing" >&2; exit 1; }
[ -s $ca ] || { echo "rootfs.sh: $ca missing: apt-get install -y ca-certificates" >&2; exit 1; }
install -d -m 0755 "$root/etc/ssl/certs"
install -m 0644 "$here/passwd" "$here/group" "$here/nsswitch.conf" "$root/etc/"
install -m 0644 $ca "$root/etc/ssl/certs/ca-certificates.crt"
install -d -m 1777 "$root/tmp"
install -d -m 0750 "$root/data"
chmod 0755 "$root/etc" "$root/etc/ssl" "$root/usr" "$root/usr/local" "$root/usr/local/bin" "$root/usr/local/bin/emostream"
if [ "$(id -u)" = 0 ]; then chown 65532:65532 "$root/data"; fi
