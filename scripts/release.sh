#!/usr/bin/env bash
# Release builds of posagent with nothing but Go: the same archives as
# .goreleaser.yaml (which a maintainer with GoReleaser may use instead).
#
#   scripts/release.sh [VERSION]     # default: git describe, without the leading v
#
# Writes into dist/:
#   posagent_VERSION_linux_amd64.tar.gz
#   posagent_VERSION_linux_arm64.tar.gz
#   posagent_VERSION_windows_amd64.zip
#   posagent_VERSION_checksums.txt      (sha256sum format: sha256sum -c checks it)
# Each archive holds one folder posagent_VERSION_OS_ARCH/ with the binary
# (stamped: "posagent version" prints VERSION, the commit and its date),
# README.md, config.example.toml, posagent.service (etc/) and WINDOWS.md
# (docs/). Builds are static (CGO_ENABLED=0), -trimpath,
# and stamped with the commit's time, so one commit gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
version="${version#v}"
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
date="$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)"
targets="${POSAGENT_TARGETS:-linux/amd64 linux/arm64 windows/amd64}"
ldflags="-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date"

rm -rf dist
mkdir -p dist/build
archives=()
for target in $targets; do
  os=${target%/*} arch=${target#*/}
  name="posagent_${version}_${os}_${arch}"
  exe=posagent
  [ "$os" = windows ] && exe=posagent.exe
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "dist/build/$name/$exe" ./cmd/posagent
  files=("$exe=dist/build/$name/$exe" README.md config.example.toml
    posagent.service=etc/posagent.service WINDOWS.md=docs/WINDOWS.md)
  archive="dist/$name.tar.gz"
  [ "$os" = windows ] && archive="dist/$name.zip"
  go run ./scripts/archive pack --out "$archive" --dir "$name" --mtime "$date" "${files[@]}"
  archives+=("$archive")
  echo "built $archive"
done
go run ./scripts/archive sum --out "dist/posagent_${version}_checksums.txt" "${archives[@]}"
rm -rf dist/build
echo "wrote dist/posagent_${version}_checksums.txt"
