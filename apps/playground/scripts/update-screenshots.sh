#!/usr/bin/env bash
# Copies the screenshots in runs/playground — written by `npx vitest run --project playground-browser`, and the two
# Fine-tune ones by `node scripts/finetune-screenshots.mjs` (the pnpm start demo model fine-tuned in the page) — into
# apps/playground/screenshots as 256-colour PNGs (< 150 KB each), the ones the root README shows. Names as
# arguments copy only those (e.g. `finetune-running finetune`). Needs Debian's pngquant (apt-get install pngquant).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p screenshots
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(why-el why-el-phone train translate finetune-running finetune)
for name in "${names[@]}"; do
  pngquant --force --strip --quality 60-90 --output "screenshots/$name.png" "../../runs/playground/$name.png"
  echo "screenshots/$name.png $(stat -c %s "screenshots/$name.png") bytes"
done
