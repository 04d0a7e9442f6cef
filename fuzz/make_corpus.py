#!/usr/bin/env python3
"""Seed corpora for the loader fuzzers (fuzz/loaders.cmake), from tests/data/torch_bin/ and a few
tiny files made here. Deterministic; run from anywhere:  python3 fuzz/make_corpus.py"""
import io
import pathlib
import pickle
import zipfile

import safetensors.torch
import torch

HERE = pathlib.Path(__file__).resolve().parent
BIN = HERE.parent / "tests" / "data" / "torch_bin"


def data_pkl(path):
    z = zipfile.ZipFile(path)
    return z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))


def main():
    out = HERE / "corpus" / "fuzz_torch_pickle"
    out.mkdir(parents=True, exist_ok=True)
    # Mode 0 (data.pkl inside a zip with four 64-byte storages "0".."3"): a pickle that fits them.
    g = torch.Generator().manual_seed(5)
    fits = {"w": torch.randn(4, 4, generator=g).t(), "b": torch.randn(16, generator=g).half()[2:10],
            "e": torch.randn(16, generator=g).bfloat16().reshape(4, 4)[1], "i": torch.arange(8, dtype=torch.int64)}
    buf = io.BytesIO()
    torch.save(fits, buf)
    seeds = {
        "m0_fits_storages": b"\x00" + data_pkl(io.BytesIO(buf.getvalue())),
        "m0_tensors": b"\x00" + data_pkl(BIN / "tensors.bin"),
        "m0_protocol4": b"\x00" + data_pkl(BIN / "tensors_protocol4.bin"),
        "m0_malicious": b"\x00" + data_pkl(BIN / "malicious_os_system.bin"),
        "m1_tensors_zip": b"\x01" + (BIN / "tensors.bin").read_bytes(),
        "m1_tensors_legacy": b"\x01" + (BIN / "tensors_legacy.bin").read_bytes(),
        "m2_plain_protocol2": b"\x02" + pickle.dumps({"a": [1, -2, 2.5, "x", b"y", None, True, (1, 2)]}, protocol=2),
        "m2_plain_protocol4": b"\x02" + pickle.dumps([{"k": (1 << 70, "s" * 300)}, [[], {}]], protocol=4),
    }
    for name, data in seeds.items():
        (out / name).write_bytes(data)

    out = HERE / "corpus" / "fuzz_safetensors"
    out.mkdir(parents=True, exist_ok=True)
    (out / "tensors").write_bytes((BIN / "tensors.safetensors").read_bytes())
    small = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(4, dtype=torch.bfloat16),
             "c": torch.zeros(0, 2, dtype=torch.float16), "d": torch.arange(3, dtype=torch.int64)}
    (out / "small").write_bytes(safetensors.torch.save(small, metadata={"format": "pt"}))
    (out / "empty").write_bytes(safetensors.torch.save({}))


if __name__ == "__main__":
    main()
