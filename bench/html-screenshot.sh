#!/usr/bin/env bash
# Render a stanch HTML post-mortem in headless Chromium and check the screenshot rendered:
# the PNG has the expected size, is not blank, and (with --drill) shows the red DRILL banner.
#
#   bench/html-screenshot.sh [HTML] [OUT.png] [--drill]
#   (default: tests/fixtures/export/drill.html -> target/export-screenshot.png --drill)
#
# Exit codes: 0 rendered and checked; 1 check failed; 3 chromium is not installed.
# Install it with: apt-get update && apt-get install -y chromium
set -euo pipefail
cd "$(dirname "$0")/.."

html=${1:-tests/fixtures/export/drill.html}
out=${2:-target/export-screenshot.png}
drill=${3:-}
[ $# -eq 0 ] && drill=--drill
width=1200
height=1600

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "html-screenshot: chromium is not installed (apt-get install -y chromium)" >&2
  exit 3
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
rm -f "$out"
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars \
  --screenshot="$out" --window-size="$width,$height" "file://$abs" >/dev/null 2>&1 || true
if [ ! -s "$out" ]; then
  echo "html-screenshot: chromium wrote no screenshot to $out" >&2
  exit 1
fi

# Decode the PNG with the Python standard library only (zlib) and measure it.
python3 - "$out" "$width" "$height" "$drill" <<'PY'
import struct, sys, zlib
path, want_w, want_h, drill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "--drill"
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w, h = 8, b"", None, None
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        w, h, depth, colour = struct.unpack(">IIBB", chunk[:10])
        assert depth == 8 and colour in (2, 6), f"unexpected PNG format depth={depth} colour={colour}"
        bpp = 3 if colour == 2 else 4
    elif kind == b"IDAT":
        idat += chunk
    pos += 12 + length
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
nonwhite = 0
red_banner = 0
colours = set()
for y in range(h):
    f = raw[y * (stride + 1)]
    row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride): row[i] = (row[i] + row[i - bpp]) & 255
    elif f == 2:
        for i in range(stride): row[i] = (row[i] + prev[i]) & 255
    elif f == 3:
        for i in range(stride): row[i] = (row[i] + ((row[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif f == 4:
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp * 4):  # every 4th pixel is plenty for statistics
        r, g, b = row[x], row[x + 1], row[x + 2]
        if r < 245 or g < 245 or b < 245:
            nonwhite += 1
        if y < 200 and r > 150 and g < 80 and b < 80:
            red_banner += 1
        if len(colours) < 5000:
            colours.add((r >> 3, g >> 3, b >> 3))
    prev = row
sampled = h * (w // 4)
share = 100.0 * nonwhite / sampled
print(f"html-screenshot: {path}: {w}x{h}, {share:.1f}% non-white, {len(colours)} colours, {red_banner} red banner pixels in the top 200 rows")
problems = []
if (w, h) != (want_w, want_h): problems.append(f"size {w}x{h}, expected {want_w}x{want_h}")
if share < 2.0: problems.append("the page looks blank")
if len(colours) < 8: problems.append("too few colours for a rendered report")
if drill and red_banner < 50: problems.append("no red DRILL banner at the top")
if problems:
    print("html-screenshot: FAILED: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
PY
