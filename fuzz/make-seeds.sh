#!/bin/sh
# Builds the seed corpora the runs in README.md used, from ../shared/data, under $1
# (default /var/tmp/vigil-fuzz/seeds): one directory per target, one file per seed.
set -eu
DATA=${DATA:-$(cd "$(dirname "$0")/../../shared/data" && pwd)}
OUT=${1:-/var/tmp/vigil-fuzz/seeds}
# One seed per line of the files under the given directories (at most $MAX per target).
lines() {
    t=$1; shift
    mkdir -p "$OUT/$t"
    find "$@" -type f ! -name '*.md' ! -name SOURCE.txt ! -name 'LICENSE*' ! -name '*.csv' -print0 |
        xargs -0 cat | awk -v d="$OUT/$t" -v max="${MAX:-20000}" \
            'length($0) > 0 && n < max { f = sprintf("%s/l%06d", d, n++); printf "%s", $0 > f; close(f) }'
}
rm -rf "$OUT"
lines syslog "$DATA/syslog-samples" "$DATA/real-logs"
lines cef_leef "$DATA/cef-leef"
lines eve "$DATA/suricata-eve"
lines auditd "$DATA/auditd"
lines access "$DATA/web-access" "$DATA/real-logs/Apache"
lines snare "$DATA/syslog-samples/rsyslog/tests/testsuites/mmsnareparse"
# Zeek: the first 8 KiB of each log.
mkdir -p "$OUT/zeek"
find "$DATA/zeek-logs" -type f ! -name SOURCE.txt | while read -r f; do
    head -c 8192 "$f" > "$OUT/zeek/$(echo "$f" | md5sum | cut -c1-16)"
done
# EVTX: every file of windows-evtx (the malformed ones too: a bad chunk magic, a bad string
# cache, no CRC32, a zero-size event) and of evtx-samples, cut after the header and two chunks
# (4 KiB + 2 x 64 KiB = 135,168 bytes, the -max_len the runs used).
mkdir -p "$OUT/evtx"
find "$DATA/windows-evtx" "$DATA/evtx-samples" -type f -iname '*.evtx' | while read -r f; do
    head -c 135168 "$f" > "$OUT/evtx/$(echo "$f" | md5sum | cut -c1-16)"
done
for d in "$OUT"/*; do echo "$(basename "$d"): $(ls "$d" | wc -l) seeds"; done
