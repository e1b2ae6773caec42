#!/usr/bin/env bash
# Copies the browser test's screenshots (runs/playground/*.png, written by
# `npx vitest run --project playground-browser`) into apps/playground/screenshots as 256-colour PNGs (< 150 KB
# each), the ones the root README shows. Needs Debian's pngquant (apt-get install pngquant).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p screenshots
for name in why-el why-el-phone train translate finetune-running finetune; do
  pngquant --force --strip --quality 60-90 --output "screenshots/$name.png" "../../runs/playground/$name.png"
  echo "screenshots/$name.png $(stat -c %s "screenshots/$name.png") bytes"
done
