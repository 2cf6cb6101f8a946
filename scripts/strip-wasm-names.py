"""Trunk post-build hook: drops the `name` and `producers` custom sections
from the built .wasm files. They only serve debuggers and profilers (function
names in stack traces) and are a quarter of the download."""
import os
import pathlib
import sys

DROP = {b"name", b"producers"}


def leb128(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def strip(data):
    if data[:4] != b"\0asm":
        raise ValueError("not a wasm module")
    out = bytearray(data[:8])
    i = 8
    while i < len(data):
        start = i
        section_id = data[i]
        size, body = leb128(data, i + 1)
        end = body + size
        if section_id == 0:
            name_len, name_at = leb128(data, body)
            if bytes(data[name_at:name_at + name_len]) in DROP:
                i = end
                continue
        out += data[start:end]
        i = end
    return bytes(out)


def main():
    staging = pathlib.Path(os.environ.get("TRUNK_STAGING_DIR") or (sys.argv[1] if len(sys.argv) > 1 else "dist"))
    for wasm in sorted(staging.glob("*.wasm")):
        before = wasm.read_bytes()
        after = strip(before)
        wasm.write_bytes(after)
        print(f"{wasm.name}: {len(before)} -> {len(after)} bytes (debug names removed)")


if __name__ == "__main__":
    main()
