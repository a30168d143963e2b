#!/usr/bin/env bash
# Debian packages evict's tests and benchmarks drive for real: chromium (dashboard tests through
# Playwright), shellcheck (plan scripts), bind9-utils (named-checkzone for RPZ output), yara and
# clamav (file-scan benchmark), poppler-utils (pdftotext reads the PDF reports back), squid
# (`squid -k parse` reads the Squid deny list back; the daemon is not started). Installs what is
# missing when run as root on Debian; otherwise says what is missing and leaves it to the tests to
# report.
set -u
packages=(chromium shellcheck bind9-utils yara clamav poppler-utils squid)
declare -A probe=([chromium]=chromium [shellcheck]=shellcheck [bind9-utils]=named-checkzone
                  [yara]=yara [clamav]=clamscan [poppler-utils]=pdftotext
                  [squid]=squid)
missing=()
for p in "${packages[@]}"; do
  command -v "${probe[$p]}" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  for p in "${missing[@]}"; do
    apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 \
      || echo "system-deps: could not install $p" >&2
  done
else
  echo "system-deps: missing ${missing[*]} (install them as root with apt-get)" >&2
fi
exit 0
