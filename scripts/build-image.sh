#!/usr/bin/env bash
# Builds EmoStream's container image without a container daemon: a static
# emostream binary (CGO_ENABLED=0, -trimpath, version and commit stamped
# with -ldflags) in one layer with a non-root user (65532), the CA roots,
# a writable /data and nothing else (no shell, no package manager).
#
#   scripts/build-image.sh OUT.tar            an OCI archive (podman load, skopeo copy, crane push)
#   scripts/build-image.sh --docker OUT.tar   a docker-archive (docker load)
#
# Tools: go, GNU tar, umoci and skopeo (apt-get install -y umoci skopeo),
# and the CA bundle /etc/ssl/certs/ca-certificates.crt (ca-certificates).
# umoci writes the OCI layout and the image configuration, skopeo writes
# the archive; the layer itself is a plain tar of deploy/image/ and the
# binary with fixed owners, modes and times, so two builds of one commit
# give the same layer. No root, no daemon, no user namespace needed.
#
# Environment (defaults from git when the tree is a checkout):
#   VERSION  image and binary version   (git describe --tags --always --dirty; else "dev")
#   COMMIT   the commit built           (git rev-parse HEAD; else "unknown")
#   CREATED  RFC 3339 creation time     (the commit's time, for reproducible builds; else now)
#   SOURCE   org.opencontainers.image.source (https://github.com/emostream/emostream)
#   GOARCH   target architecture        (go env GOARCH)
# Containerfile builds the same image with Docker or Buildah; the deploy
# tests (deploy/image_test.go) keep the two equivalent.
set -euo pipefail

die() { echo "build-image: $*" >&2; exit 1; }

docker=false
if [ "${1:-}" = --docker ]; then docker=true; shift; fi
[ $# -eq 1 ] && [ -n "$1" ] || { sed -n '2,24p' "$0" >&2; exit 2; }
out=$1
case $out in /*) ;; *) out=$PWD/$out ;; esac
[ -d "$(dirname "$out")" ] || die "$(dirname "$out"): no such directory"

cd "$(dirname "$0")/.."
for tool in go tar umoci skopeo; do
  command -v $tool >/dev/null || die "$tool missing: apt-get install -y umoci skopeo (and Go 1.26)"
done
[ -s /etc/ssl/certs/ca-certificates.crt ] || die "/etc/ssl/certs/ca-certificates.crt missing: apt-get install -y ca-certificates"

# The image's fixed facts; Containerfile repeats them (deploy/image_test.go
# compares the two).
uid=65532
entrypoint=/usr/local/bin/emostream
ports=(4222 6222 7422 8080 8222 9100 9102 9103 9104 9222) # NATS client, routes, leafnodes, ingest, monitor, ops, metrics, WebSocket
maxbytes=$((60 << 20))

git_ok=false
git rev-parse --git-dir >/dev/null 2>&1 && git_ok=true
if [ -z "${VERSION:-}" ]; then
  VERSION=dev
  $git_ok && VERSION=$(git describe --tags --always --dirty)
fi
if [ -z "${COMMIT:-}" ]; then
  COMMIT=unknown
  $git_ok && COMMIT=$(git rev-parse HEAD)
fi
if [ -z "${CREATED:-}" ]; then
  if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
  elif $git_ok; then
    CREATED=$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)
  else
    CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  fi
fi
SOURCE=${SOURCE:-https://github.com/emostream/emostream}
arch=${GOARCH:-$(go env GOARCH)}
epoch=$(date -u -d "$CREATED" +%s) || die "CREATED=$CREATED: not a date"
# A docker tag allows [A-Za-z0-9_.-]; an OCI ref name also "+".
tag=$(printf %s "$VERSION" | tr -c 'A-Za-z0-9_.\n-' '-')

work=$(mktemp -d "${TMPDIR:-/tmp}/emostream-image.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
root=$work/rootfs
start=$SECONDS

# The binary: static, no local paths, the version and commit for
# `emostream version` (-X sets them where cmd/emostream declares
# main.version and main.commit; -buildvcs=auto also records the commit
# from a plain git clone).
mkdir -p "$root/usr/local/bin"
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=auto \
  -ldflags="-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
  -o "$root$entrypoint" ./cmd/emostream
built=$SECONDS

sh deploy/image/rootfs.sh "$root" # the rest of the files, as Containerfile lays them out

# One layer: everything root-owned, /data the user's; names sorted, times
# the creation time, owners numeric.
tarflags=(--format=ustar --numeric-owner --mtime="@$epoch" --sort=name -C "$root")
tar --create -f "$work/layer.tar" --owner=0 --group=0 "${tarflags[@]}" etc tmp usr
tar --append -f "$work/layer.tar" --owner=$uid --group=$uid --no-recursion "${tarflags[@]}" data

# The OCI layout, its configuration and the archive.
img=$work/oci:emostream
umoci init --layout "$work/oci"
umoci new --image "$img"
umoci raw add-layer --image "$img" --history.created="$CREATED" \
  --history.created_by="scripts/build-image.sh" --history.comment="emostream $VERSION" "$work/layer.tar"
cfg=(--no-history --created="$CREATED" --os=linux --architecture="$arch" --author="EmoStream"
  --config.user="$uid:$uid" --config.entrypoint="$entrypoint" --config.workingdir=/data --config.volume=/data
  --config.env="PATH=/usr/local/bin" --config.env="SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
for p in "${ports[@]}"; do cfg+=(--config.exposedports="$p/tcp"); done
for l in "version=$VERSION" "revision=$COMMIT" "source=$SOURCE" "title=emostream" "created=$CREATED" \
  "description=EmoStream: real-time emoji reactions, Kafka to NATS" "url=$SOURCE"; do
  cfg+=(--config.label="org.opencontainers.image.$l")
done
umoci config --image "$img" "${cfg[@]}"
umoci gc --layout "$work/oci"

rm -f "$out"
# Local to local: no signature policy applies; without a policy.json
# (containers-common) skopeo would refuse to start.
policy=()
[ -e /etc/containers/policy.json ] || [ -e "${XDG_CONFIG_HOME:-$HOME/.config}/containers/policy.json" ] || policy=(--insecure-policy)
if $docker; then
  skopeo "${policy[@]+"${policy[@]}"}" copy --quiet "oci:$img" "docker-archive:$out:emostream:$tag"
else
  skopeo "${policy[@]+"${policy[@]}"}" copy --quiet "oci:$img" "oci-archive:$out:emostream:$tag"
fi
size=$(stat -c %s "$out")
[ "$size" -le "$maxbytes" ] || die "$out is $size bytes, over the 60 MiB budget"
echo "build-image: $out: emostream:$tag ($arch, commit $COMMIT), $((size / 1024)) KiB; binary built in $((built - start)) s, image in $((SECONDS - built)) s" >&2
