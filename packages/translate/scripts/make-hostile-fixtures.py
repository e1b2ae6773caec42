#!/usr/bin/python3
"""Writes packages/translate/fixtures/hostile: small checkpoints made by torch.save that ask a reader for far more
memory than the file holds. Each is a few KB; the tests read them without torch.

- stride0-2e26.bin: torch.zeros(1).expand(2**26), a 256 MiB float32 view of one element (stride 0).
- stride0-2e29.bin: torch.zeros(1).expand(2**29): 2**31 bytes as float32, one byte over the per-tensor cap.
- stride0-f16-2e29.bin: the same in float16: 1 GiB stored, 2 GiB once upcast to float32.
- stride0-many.bin: eight 1-element storages, each expanded to 2**16 elements: 256 KiB each, 2 MiB in all.
- expanded-views.bin: legitimate small stride-0 views (expand of a scalar and of a row), read to their values.
- zip-bomb.bin: torch.save of 2**22 zeros (16 MiB) repacked with deflate (~16 KB): declared size far beyond the
  compressed data.
- zip-bomb-lying.bin: the same with the central directory's uncompressed size patched to 1024 bytes.
- deflated.bin: the opus-mt-tiny pytorch_model.bin repacked with deflate, a legitimate compressed archive.

Run: /usr/bin/python3 packages/translate/scripts/make-hostile-fixtures.py   (from anywhere)
Needs: Debian package python3-torch.
"""

import collections
import io
import os
import struct
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "hostile")
TINY = os.path.join(HERE, "..", "fixtures", "opus-mt-tiny", "pytorch_model.bin")


def save(name, state):
    torch.save(collections.OrderedDict(state), os.path.join(OUT, name))


def deflate(data):
    """Repacks a torch.save zip with every member deflated (torch itself stores members uncompressed)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))  # reruns: same bytes
            member.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(member, source.read(info.filename))
    return out.getvalue()


def patch_declared_size(data, member_suffix, size):
    """Sets the central-directory uncompressed size of the member whose name ends with member_suffix."""
    data = bytearray(data)
    at = 0
    while True:
        at = data.find(b"PK\x01\x02", at)
        if at < 0:
            raise SystemExit(f"no member ending in {member_suffix}")
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        name = bytes(data[at + 46 : at + 46 + name_length]).decode()
        if name.endswith(member_suffix):
            struct.pack_into("<I", data, at + 24, size)
            return bytes(data)
        at += 4


def main():
    os.makedirs(OUT, exist_ok=True)
    save("stride0-2e26.bin", {"w": torch.zeros(1).expand(2**26)})
    save("stride0-2e29.bin", {"w": torch.zeros(1).expand(2**29)})
    save("stride0-f16-2e29.bin", {"w": torch.zeros(1, dtype=torch.float16).expand(2**29)})
    save("stride0-many.bin", {f"w{i}": torch.full((1,), float(i)).expand(2**16) for i in range(8)})
    save(
        "expanded-views.bin",
        {
            "scalar": torch.tensor([2.5]).expand(4),
            "rows": torch.arange(3, dtype=torch.float32).expand(2, 3),
            "columns": torch.tensor([[1.0], [2.0]]).expand(2, 3),
        },
    )
    buffer = io.BytesIO()
    torch.save(collections.OrderedDict(w=torch.zeros(2**22)), buffer)
    bomb = deflate(buffer.getvalue())
    with open(os.path.join(OUT, "zip-bomb.bin"), "wb") as f:
        f.write(bomb)
    with open(os.path.join(OUT, "zip-bomb-lying.bin"), "wb") as f:
        f.write(patch_declared_size(bomb, "/data/0", 1024))
    with open(TINY, "rb") as f:
        tiny = f.read()
    with open(os.path.join(OUT, "deflated.bin"), "wb") as f:
        f.write(deflate(tiny))
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
