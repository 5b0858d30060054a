#!/usr/bin/env bash
# Builds xfer as one self-contained binary (the Swift runtime linked in statically, so the
# machine it is copied to needs no Swift) and installs it under PREFIX (default /usr/local):
#   PREFIX/bin/xfer
#   PREFIX/share/man/man1/xfer.1
#   PREFIX/share/bash-completion/completions/xfer
#   PREFIX/share/zsh/site-functions/_xfer
#   PREFIX/share/fish/vendor_completions.d/xfer.fish
# The man page and completions are printed by the binary just built (`xfer man`,
# `xfer completions SHELL`), from the option table its parser reads.
#
# `xfer --version` names the commit: SwiftPM cannot pass a string into a build without a
# plugin or unsafeFlags, so this script writes the commit into Sources/xfer/BuildCommit.swift
# for the build and puts the checked-in file back afterwards (also on failure or Ctrl-C).
# DESTDIR is honoured, for packaging: files go to DESTDIR/PREFIX/...
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${1:-/usr/local}
destination="${DESTDIR:-}$prefix"
stamp=Sources/xfer/BuildCommit.swift

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    commit="$commit-dirty"   # local changes are in the build, not in the commit
fi

saved=$(mktemp)
cp "$stamp" "$saved"
restore() { cp "$saved" "$stamp"; rm -f "$saved"; }
trap restore EXIT
cat > "$stamp" <<SWIFT
// Written by scripts/install.sh for one build; the checked-in version says nil.

/// The git commit this binary was built from, when scripts/install.sh built it.
let buildCommit: String? = "$commit"
SWIFT

swift build -c release --static-swift-stdlib --product xfer
binary="$(swift build -c release --static-swift-stdlib --product xfer --show-bin-path)/xfer"
restore
trap - EXIT

staged=$(mktemp -d)
trap 'rm -rf "$staged"' EXIT
cp "$binary" "$staged/xfer"
strip "$staged/xfer"
"$staged/xfer" man > "$staged/xfer.1"
for shell in bash zsh fish; do "$staged/xfer" completions "$shell" > "$staged/completion.$shell"; done

install -d "$destination/bin" "$destination/share/man/man1" "$destination/share/bash-completion/completions" \
    "$destination/share/zsh/site-functions" "$destination/share/fish/vendor_completions.d"
install -m 0755 "$staged/xfer" "$destination/bin/xfer"
install -m 0644 "$staged/xfer.1" "$destination/share/man/man1/xfer.1"
install -m 0644 "$staged/completion.bash" "$destination/share/bash-completion/completions/xfer"
install -m 0644 "$staged/completion.zsh" "$destination/share/zsh/site-functions/_xfer"
install -m 0644 "$staged/completion.fish" "$destination/share/fish/vendor_completions.d/xfer.fish"

size=$(stat -c %s "$destination/bin/xfer")
echo "installed $destination/bin/xfer ($((size / 1024)) KiB, $("$destination/bin/xfer" --version))"
echo "  man page:    $destination/share/man/man1/xfer.1"
echo "  completions: bash, zsh, fish under $destination/share"
