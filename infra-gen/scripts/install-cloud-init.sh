#!/usr/bin/env bash
# Installs `cloud-init` for the user-data schema test without touching the system: the Debian package is
# downloaded and extracted (not installed, so no services are enabled) into <repo>/.work/cloud-init/, its Python
# dependencies go into a venv there, and <repo>/.work/cloud-init/cloud-init runs it. infra-gen's test
# `user_data::cloud_init_accepts_the_document` finds it there (or through INFRA_GEN_CLOUD_INIT / PATH).
# Needs apt (Debian/Ubuntu) and PyPI; idempotent.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=$root/.work/cloud-init
mkdir -p "$dir"
cd "$dir"

if [[ ! -d root/usr/lib/python3/dist-packages/cloudinit ]]; then
  rm -f cloud-init_*.deb
  # apt's sandbox user cannot write here; the download itself is the normal signed-repository fetch.
  # A fresh machine may have no package lists yet: refresh them once and try again.
  if ! apt-get download cloud-init >apt-download.log 2>&1; then
    apt-get update -qq
    apt-get download cloud-init >apt-download.log 2>&1 || { cat apt-download.log >&2; exit 1; }
  fi
  dpkg-deb -x cloud-init_*.deb root
fi
if [[ ! -x venv/bin/python ]]; then
  python3 -m venv venv
fi
# Pinned to the versions the test was last run with.
venv/bin/pip install --quiet --disable-pip-version-check configobj==5.0.9 jinja2==3.1.6 jsonpatch==1.47 \
  jsonschema==4.26.0 netifaces==0.11.0 oauthlib==4.0.1 pyyaml==6.0.3 requests==2.34.2

cat >cloud-init <<'WRAPPER'
#!/usr/bin/env bash
# cloud-init from the extracted Debian package, with its Python dependencies from the venv next to it.
here=$(dirname "$(readlink -f "$0")")
PYTHONPATH=$here/root/usr/lib/python3/dist-packages exec "$here/venv/bin/python" -c \
  'import sys; from cloudinit.cmd.main import main; sys.argv[0] = "cloud-init"; sys.exit(main())' "$@"
WRAPPER
chmod 0755 cloud-init
./cloud-init --version
