#!/usr/bin/env bash
# Chromium for the task pane's browser test (httpapi): Debian's chromium
# package, installed when missing. The test drives it with chromedp and
# starts it itself (headless, a fresh profile, no network chatter); this
# script only makes sure the binary is there and prints its path on stdout.
#
#   bash .ci/chromium.sh        # install when missing; prints the binary
#
# .ci/run exports MAILCORRELATE_CHROMIUM with it. Running as root (CI does),
# apt-get installs it; otherwise the script says what to install.
set -euo pipefail

log() { echo "chromium.sh: $*" >&2; }

find_chromium() {
	local c
	for c in chromium chromium-browser google-chrome-stable google-chrome; do
		if command -v "$c" >/dev/null 2>&1; then
			command -v "$c"
			return
		fi
	done
}

bin=$(find_chromium)
if [ -z "$bin" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		log "chromium not found and not root: install it (apt-get install -y chromium) and retry"
		exit 1
	fi
	log "chromium not found: installing it from Debian"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
	bin=$(find_chromium)
fi
if [ -z "$bin" ]; then
	log "chromium still not found after installing"
	exit 1
fi
"$bin" --version >&2 || true
echo "$bin"
