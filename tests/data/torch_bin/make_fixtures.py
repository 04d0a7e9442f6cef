#!/usr/bin/env python3
"""PyTorch checkpoint fixtures for tests/models/test_torch_bin.cpp.

    python3 tests/data/torch_bin/make_fixtures.py      # a few seconds, no network

Writes, next to this script:
  bert-seqcls/pytorch_model.bin        torch.save(model.state_dict()) of tests/data/models/bert-seqcls
                                       (transformers 5 always saves safetensors, so torch.save is what
                                       produces the .bin a hub model without safetensors has)
  bert-seqcls-sharded/                 the same state dict in two .bin shards + pytorch_model.bin.index.json
  tensors.bin                          odd tensors: fp16, bf16, i64, i32, u8, a scalar, an empty tensor,
                                       transposed / sliced / permuted / expanded views, an offset row,
                                       two names for one tensor
  tensors.safetensors                  the same tensors made contiguous: what tensors.bin must read as
  tensors_legacy.bin                   tensors.bin in the pre-1.6 format (_use_new_zipfile_serialization=False)
  tensors_protocol4.bin                tensors.bin with pickle_protocol=4 (STACK_GLOBAL, MEMOIZE, FRAME)
  malicious_posix_system.bin           torch.save of a state dict holding an object whose __reduce__ is
                                       os.system("touch /tmp/vkcls_malicious_pickle_ran"), as an attacker
                                       would write it (the pickle names posix.system)
  malicious_os_system.bin              a zip like torch.save's whose data.pkl calls os.system by that name
  VERSIONS.txt                         the library versions used

The malicious files are checked here to be live: Python's own unpickler runs the command when it
loads them (the script does so in a subprocess and removes the marker again). Output is
deterministic for the versions in VERSIONS.txt.
"""
import json
import os
import pathlib
import pickle
import platform
import subprocess
import sys
import zipfile

import safetensors
import safetensors.torch
import torch
import transformers

HERE = pathlib.Path(__file__).resolve().parent
MODELS = HERE.parent / "models"
MARKER = "/tmp/vkcls_malicious_pickle_ran"


def bert_seqcls():
    src = MODELS / "bert-seqcls"
    model = transformers.AutoModelForSequenceClassification.from_pretrained(src, dtype=torch.float32)
    sd = model.state_dict()
    twin = safetensors.torch.load_file(src / "model.safetensors")
    assert set(sd) == set(twin), (set(sd) ^ set(twin))
    for k in sd:
        assert torch.equal(sd[k], twin[k]), k

    out = HERE / "bert-seqcls"
    out.mkdir(exist_ok=True)
    torch.save(sd, out / "pytorch_model.bin")

    # Two shards, split by order as transformers' sharding does, with its index layout.
    out = HERE / "bert-seqcls-sharded"
    out.mkdir(exist_ok=True)
    names = list(sd)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map, total = {}, 0
    for i, part in enumerate(halves):
        shard = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        torch.save({k: sd[k] for k in part}, out / shard)
        for k in part:
            weight_map[k] = shard
            total += sd[k].numel() * sd[k].element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def odd_tensors():
    g = torch.Generator().manual_seed(1234)
    base = torch.randn(4, 6, generator=g)
    tied = torch.randn(3, 2, generator=g)
    t = {
        "f32": torch.randn(3, 4, generator=g),
        "f16": torch.randn(5, generator=g).half(),
        "bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "i64": torch.arange(-3, 4, dtype=torch.int64) * 1000000007,
        "i32": torch.arange(-3, 3, dtype=torch.int32),
        "u8": torch.arange(250, 256, dtype=torch.uint8),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
        "transposed": base.t(),               # [6, 4], strides (1, 6)
        "sliced": base[1:3, 2:5],             # [2, 3], offset 8, strides (6, 1)
        "row": base[2],                       # contiguous, offset 12
        "base": base,
        "permuted": torch.randn(2, 3, 4, generator=g).permute(2, 0, 1),
        "expanded": torch.randn(3, 1, generator=g).expand(3, 4),  # stride 0
        "f16_transposed": torch.randn(3, 5, generator=g).half().t(),
        "bf16_every_other": torch.randn(8, generator=g).bfloat16()[::2],
        "tied_a": tied,
        "tied_b": tied,
    }
    assert not t["transposed"].is_contiguous() and not t["sliced"].is_contiguous()
    torch.save(t, HERE / "tensors.bin")
    torch.save(t, HERE / "tensors_legacy.bin", _use_new_zipfile_serialization=False)
    deterministic_legacy_keys(HERE / "tensors_legacy.bin")
    torch.save(t, HERE / "tensors_protocol4.bin", pickle_protocol=4)
    safetensors.torch.save_file({k: v.contiguous().clone() for k, v in t.items()}, HERE / "tensors.safetensors")
    os.chmod(HERE / "tensors.safetensors", 0o644)
    for name in ["tensors.bin", "tensors_legacy.bin", "tensors_protocol4.bin"]:
        # torch's own weights_only unpickler does not know FRAME (protocol 4), so the full one here
        back = torch.load(HERE / name, weights_only=name != "tensors_protocol4.bin")
        for k, v in t.items():
            assert back[k].dtype == v.dtype and torch.equal(back[k], v), (name, k)


def deterministic_legacy_keys(path):
    """The legacy format names storages by their memory address and writes them in the sorted
    order of those names. Rename them by first use (zero-padded to the same length, so the pickles
    keep their layout) and rewrite the key list and the storages in the new sorted order: the file
    torch would have written had the addresses come out that way, and the same on every run."""
    import io
    data = path.read_bytes()
    f = io.BytesIO(data)
    first_use, sizes = [], {}

    class U(pickle.Unpickler):
        def persistent_load(self, pid):
            _, storage_type, key, _, _, _ = pid
            if key not in sizes:
                first_use.append(key)
                sizes[key] = getattr(torch, storage_type)().element_size()
            return None

        def find_class(self, module, name):
            return name if name.endswith("Storage") else (lambda *a, **k: None)

    for _ in range(4):  # magic, protocol, sys_info, state dict
        U(f).load()
    head_end = f.tell()
    keys = pickle.load(f)
    blobs = {}
    for k in keys:  # [u64 count][count * element size bytes]
        count = int.from_bytes(data[f.tell():f.tell() + 8], "little")
        blobs[k] = data[f.tell():f.tell() + 8 + count * sizes[k]]
        f.seek(f.tell() + len(blobs[k]))
    assert f.tell() == len(data)
    head = data[:head_end]
    rename = {k: str(i).zfill(len(k)) for i, k in enumerate(first_use)}
    for k, new in rename.items():
        pattern = b"X" + len(k).to_bytes(4, "little") + k.encode()
        assert head.count(pattern) >= 1, k
        head = head.replace(pattern, b"X" + len(k).to_bytes(4, "little") + new.encode())
    new_keys = sorted(rename.values())
    back = {v: k for k, v in rename.items()}
    tail = pickle.dumps(new_keys, protocol=2) + b"".join(blobs[back[k]] for k in new_keys)
    path.write_bytes(head + tail)


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def malicious():
    torch.save({"weight": torch.zeros(2), "payload": Payload()}, HERE / "malicious_posix_system.bin")

    # The same attack spelt os.system, in a zip laid out like torch.save's.
    pkl = b"\x80\x02}q\x00X\x06\x00\x00\x00weightq\x01cos\nsystem\nq\x02X" + \
        len(f"touch {MARKER}").to_bytes(4, "little") + f"touch {MARKER}".encode() + b"q\x03\x85q\x04Rq\x05s."
    path = HERE / "malicious_os_system.bin"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in [("archive/data.pkl", pkl), ("archive/byteorder", b"little"), ("archive/version", b"3\n")]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)

    # Live check: torch.load(weights_only=False), i.e. Python's unpickler, runs the command
    # (in a child process; the marker is removed again).
    for name in ["malicious_posix_system.bin", "malicious_os_system.bin"]:
        if os.path.exists(MARKER):
            os.remove(MARKER)
        code = f"import torch; torch.load({str(HERE / name)!r}, weights_only=False)"
        subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)
        assert os.path.exists(MARKER), f"{name} is not live: torch.load did not run the payload"
        os.remove(MARKER)
        # and torch's own safe loader refuses it
        try:
            torch.load(HERE / name, weights_only=True)
            raise AssertionError(f"{name}: weights_only=True loaded it")
        except pickle.UnpicklingError:
            pass
        assert not os.path.exists(MARKER)


def main():
    bert_seqcls()
    odd_tensors()
    malicious()
    (HERE / "VERSIONS.txt").write_text(
        f"python {platform.python_version()}\ntorch {torch.__version__}\ntransformers {transformers.__version__}\n"
        f"safetensors {safetensors.__version__}\n")
    print("wrote", ", ".join(sorted(p.name for p in HERE.iterdir() if p.name != "make_fixtures.py")))


if __name__ == "__main__":
    main()
