#!/usr/bin/env bash
# Installs Ory Hydra (the OAuth2/OIDC server the identity tests run against) into a bin directory.
#
#   test/tools/hydra/install.sh [BIN_DIR]      # BIN_DIR defaults to <repo root>/bin
#
# The version is pinned by this directory's go.mod (a separate module, so Hydra's large dependency graph
# never enters the mcpgw module). Hydra is built with cgo and the sqlite tags: without them Hydra refuses
# DSN=memory, which the tests use. The script is idempotent: it does nothing when BIN_DIR/hydra already
# is the pinned version. Only the Go module proxy is needed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${1:-$root/bin}"
mkdir -p "$bin"
bin="$(cd "$bin" && pwd)"

version="$(cd "$here" && go list -m -f '{{.Version}}' github.com/ory/hydra/v2)"
target="$bin/hydra"

# `go version -m` reads the build info embedded in the binary: it records Hydra's module version (as the main
# module of the build, or as a dependency with older toolchains), which identifies the build exactly.
if [ -x "$target" ] && go version -m "$target" 2>/dev/null | grep -Eq "^[[:space:]]+(mod|dep)[[:space:]]+github.com/ory/hydra/v2[[:space:]]+${version}[[:space:]]"; then
	echo "hydra ${version} already installed at ${target}"
	exit 0
fi

echo "installing hydra ${version} into ${bin} (cgo build, about a minute)"
cd "$here"
CGO_ENABLED=1 GOBIN="$bin" go install \
	-tags sqlite,sqlite_omit_load_extension \
	-ldflags "-X github.com/ory/hydra/v2/driver/config.Version=${version}" \
	github.com/ory/hydra/v2
"$target" version | sed -n '1,2p'
