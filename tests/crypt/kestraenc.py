#!/usr/bin/env python3
"""Kestra's KESTRAENC file format (plugin-compress's AbstractFileCrypt:
"KESTRAENC", version 1, the key derivation's byte, a 16-byte salt, a
12-byte GCM nonce, the derivation's parameters big-endian, then AES-256-GCM
with the header as associated data), written apart from Baton's Rust, with
Python's `cryptography` (AES-GCM, Argon2id) and `hashlib` (PBKDF2-SHA512,
scrypt), so tests/tests/compress_crypt.rs checks Baton's files against a
second implementation both ways.

    kestraenc.py seal PBKDF2_SHA512|ARGON2ID|SCRYPT PASSWORD < plain > sealed
    kestraenc.py open PASSWORD < sealed > plain
"""
import hashlib
import os
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id


def derive(alg, password, salt, p):
    if alg == 2:
        return hashlib.pbkdf2_hmac("sha512", password, salt, p["iterations"], 32)
    if alg == 3:
        return Argon2id(salt=salt, length=32, iterations=p["iterations"], lanes=p["parallelism"],
                        memory_cost=p["memory"]).derive(password)
    if alg == 4:
        return hashlib.scrypt(password, salt=salt, n=p["memory"], r=8, p=p["parallelism"],
                              maxmem=2**31 - 1, dklen=32)
    raise SystemExit(f"unknown key derivation byte {alg}")


def seal(kdf, password, plain):
    salt, nonce = os.urandom(16), os.urandom(12)
    if kdf == "PBKDF2_SHA512":
        alg, p, tail = 2, {"iterations": 100000}, struct.pack(">i", 100000)
    elif kdf == "ARGON2ID":
        alg, p, tail = 3, {"iterations": 2, "memory": 8192, "parallelism": 1}, struct.pack(">iiH", 2, 8192, 1)
    elif kdf == "SCRYPT":
        alg, p, tail = 4, {"memory": 1024, "parallelism": 1}, struct.pack(">iBB", 1024, 8, 1)
    else:
        raise SystemExit(f"unknown key derivation {kdf}")
    header = b"KESTRAENC" + bytes([1, alg]) + salt + nonce + tail
    return header + AESGCM(derive(alg, password, salt, p)).encrypt(nonce, plain, header)


def open_(password, data):
    if data[:9] != b"KESTRAENC" or data[9] != 1:
        raise SystemExit("not a KESTRAENC version 1 file")
    alg, salt, nonce, at = data[10], data[11:27], data[27:39], 39
    if alg == 2:
        (it,) = struct.unpack(">i", data[at:at + 4])
        p, at = {"iterations": it}, at + 4
    elif alg == 3:
        it, mem, par = struct.unpack(">iiH", data[at:at + 10])
        p, at = {"iterations": it, "memory": mem, "parallelism": par}, at + 10
    else:
        mem, r, par = struct.unpack(">iBB", data[at:at + 6])
        if r != 8:
            raise SystemExit(f"scrypt r {r}")
        p, at = {"memory": mem, "parallelism": par}, at + 6
    return AESGCM(derive(alg, password, salt, p)).decrypt(nonce, data[at:], data[:at])


if __name__ == "__main__":
    data = sys.stdin.buffer.read()
    if sys.argv[1] == "seal":
        out = seal(sys.argv[2], sys.argv[3].encode(), data)
    else:
        out = open_(sys.argv[2].encode(), data)
    sys.stdout.buffer.write(out)
