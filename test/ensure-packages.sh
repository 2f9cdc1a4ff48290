#!/usr/bin/env bash
# Installs the Debian packages that `npm test` (default), `npm run demo` (argument `demo`) or `npm run bench`
# (argument `bench`) drives, from the table in test/packages.txt, when run as root; otherwise stops with the list
# of what is missing.
set -euo pipefail
group="${1:-test}"
here="${BASH_SOURCE[0]%/*}"; [ "$here" = "${BASH_SOURCE[0]}" ] && here=.
table="$here/packages.txt"
need=()
while read -r cmd pkg users; do
  case "$cmd" in ''|'#'*) continue ;; esac
  case " $users " in *" $group "*) ;; *) continue ;; esac
  command -v "$cmd" >/dev/null 2>&1 && continue
  case " ${need[*]-} " in *" $pkg "*) ;; *) need+=("$pkg") ;; esac
done < "$table"
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$EUID" -ne 0 ]; then
  echo "vxtun $group needs these Debian packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get install -y ${need[*]}   (or run it as root)" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
