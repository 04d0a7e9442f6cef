"""Helpers of test_vllm_pooling.py: vLLM's fixtures and its test utilities (check_embeddings_close,
binary2tensor, build_metadata_items, the <Kind>Response.model_validate shapes) in stdlib Python."""
import base64
import contextlib
import http.client
import json
import math
import os
import struct
import sys
import traceback

import test_server as ts  # Server, close, all_close, CHECKS, FAILURES; ts.ARGS set by the caller

PER_FILE = {}

# vLLM's tests/entrypoints/pooling fixtures
DUMMY_CHAT_TEMPLATE = """{% for message in messages %}{{message['role'] + ': ' + message['content'] + '\\n'}}{% endfor %}"""  # noqa: E501
MESSAGES = [{"role": "user", "content": "The cat sat on the mat."},
            {"role": "assistant", "content": "A feline was resting on a rug."},
            {"role": "user", "content": "Stars twinkle brightly in the night sky."}]
TEXTS_1 = ["What is the capital of France?", "What is the capital of Germany?"]
TEXTS_2 = ["The capital of France is Paris.", "The capital of Germany is Berlin."]
QUERY = "What is the capital of France?"
DOCS = ["The capital of Brazil is Brasilia.", "The capital of France is Paris.", "Cross-encoder models are neat"]
EMBED_DTYPES = ["float32", "float16", "bfloat16", "fp8_e4m3", "fp8_e5m2"]  # vllm.utils.serial_utils
ENDIANNESS = ["native", "big", "little"]
WIDTH = {"float32": 4, "float16": 2, "bfloat16": 2, "fp8_e4m3": 1, "fp8_e5m2": 1}
MAX_INPUTS = 10


def check(cond, what):
    f = what.split("::")[0]
    PER_FILE[f] = PER_FILE.get(f, 0) + 1
    return ts.check(cond, what)


@contextlib.contextmanager
def case(file, fn):
    """One vLLM test function: an exception (a shape vkcls did not send) is that test's failure."""
    label = f"{file}::{fn}"
    try:
        yield label
    except Exception:
        check(False, f"{label}: raised\n{traceback.format_exc(limit=3)}")


def render(messages, final=False):
    """DUMMY_CHAT_TEMPLATE as transformers renders it (continue_final_message: cut after the last content)."""
    text = "".join(f"{m['role']}: {m['content']}\n" for m in messages)
    return text[:text.rindex(messages[-1]["content"]) + len(messages[-1]["content"])] if final else text


def reference_ids(model, index):
    """input_ids.{index} of the fixture's reference.safetensors: the HF tokenizer's ids (vLLM's
    hard-coded input_tokens) and reference.json's text for them."""
    folder = os.path.join(ts.ARGS.models, model)
    with open(os.path.join(folder, "reference.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        meta = header[f"input_ids.{index}"]
        f.seek(8 + n + meta["data_offsets"][0])
        raw = f.read(meta["data_offsets"][1] - meta["data_offsets"][0])
    with open(os.path.join(folder, "reference.json")) as f:
        text = json.load(f)["inputs"][index]["text"]
    return text, list(struct.unpack(f"<{len(raw) // 4}i", raw))


def raw_post(srv, path, body):
    """A POST whose answer may be bytes (encoding_format bytes / bytes_only); headers lower-cased."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    conn.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data, {k.lower(): v for k, v in r.getheaders()}


def ntok(srv, text, specials=True):
    return srv.post("/tokenize", {"prompt": text, "add_special_tokens": specials})[1]["count"]


def is_bad_request(resp):
    st, body, _ = resp
    return st == 400 and isinstance(body, dict) and body.get("error", {}).get("type") == "BadRequestError"


def usage_ok(usage, tokens=None):
    """UsageInfo: completion_tokens 0, total == prompt (== tokens when given)."""
    return (isinstance(usage, dict) and usage.get("completion_tokens") == 0 and usage.get("prompt_tokens", 0) > 0
            and usage["total_tokens"] == usage["prompt_tokens"] and (tokens is None or usage["prompt_tokens"] == tokens))


ITEM_KEYS = {"classify": {"index", "label", "probs", "num_classes"}, "pooling": {"index", "object", "data"},
             "embedding": {"index", "object", "embedding"}, "score": {"index", "object", "score"}}


def validate(body, kind):
    """vLLM's <Kind>Response.model_validate: the required fields with their types."""
    if not isinstance(body, dict):
        return False
    if kind == "rerank":
        return ({"id", "model", "usage", "results"} <= set(body) and isinstance(body["results"], list)
                and all({"index", "relevance_score"} <= set(r) for r in body["results"]))
    return ({"id", "object", "created", "model", "data", "usage"} <= set(body) and isinstance(body["id"], str)
            and isinstance(body["created"], int) and body["object"] == "list" and isinstance(body["data"], list)
            and all(ITEM_KEYS[kind] <= set(d) for d in body["data"]))


def cos_close(xs_list, ys_list, tol=1e-3):
    """tests/models/utils.py check_embeddings_close: same count and length, cosine >= 1 - tol."""
    if len(xs_list) != len(ys_list):
        return False
    for a, b in zip(xs_list, ys_list):
        if len(a) != len(b):
            return False
        dot = sum(x * y for x, y in zip(a, b))
        norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
        if not dot / max(norm, 1e-8) >= 1 - tol:
            return False
    return True


def flat(v):
    return [x for row in v for x in row] if v and isinstance(v[0], list) else v


def fp8_e4m3(b):
    e, m = (b >> 3) & 15, b & 7
    if e == 15 and m == 7:
        return math.nan
    v = m / 8 * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
    return -v if b & 0x80 else v


def decode(raw, dtype, endianness):
    """vllm.utils.serial_utils.binary2tensor(raw, (-1,), dtype, endianness) as floats."""
    order = "<" if {"native": sys.byteorder, "little": "little", "big": "big"}[endianness] == "little" else ">"
    n = len(raw) // WIDTH[dtype]
    if len(raw) % WIDTH[dtype]:
        raise ValueError(f"{len(raw)} bytes are not {dtype} values")
    if dtype == "float32":
        return list(struct.unpack(f"{order}{n}f", raw))
    if dtype == "float16":
        return list(struct.unpack(f"{order}{n}e", raw))
    if dtype == "bfloat16":
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in struct.unpack(f"{order}{n}H", raw)]
    if dtype == "fp8_e5m2":  # the high byte of a float16
        return [struct.unpack("<e", bytes([0, b]))[0] for b in raw]
    return [fp8_e4m3(b) for b in raw]


def check_encodings(srv, file, path, key, texts, shape):
    """test_base64_embed_dtype_and_endianness, test_bytes_embed_dtype_and_endianness,
    test_bytes_only_embed_dtype_and_endianness and test_params_not_supported (embed/test_online.py,
    pooling/test_online.py): every embed_dtype x endianness against encoding_format float."""
    st, ref, _ = srv.post(path, {"input": texts, "encoding_format": "float"})
    floats = [flat(d[key]) for d in ref["data"]]
    size = math.prod(shape)
    for dtype in EMBED_DTYPES:
        for en in ENDIANNESS:
            what = f"embed_dtype {dtype}, endianness {en}"
            body = {"input": texts, "embed_dtype": dtype, "endianness": en}
            with case(file, "test_base64_embed_dtype_and_endianness") as t:
                st, b64, _ = srv.post(path, {**body, "encoding_format": "base64"})
                got = [decode(base64.b64decode(d[key]), dtype, en) for d in b64["data"]]
                check(st == 200 and cos_close(floats, got, 1e-2), f"{t}: {what}: base64 == float ({st})")
            with case(file, "test_bytes_embed_dtype_and_endianness") as t:
                st, raw, h = raw_post(srv, path, {**body, "encoding_format": "bytes"})
                meta = json.loads(h["metadata"])
                items = sorted(meta["data"], key=lambda x: x["index"])  # decode_pooling_output
                got = [decode(raw[x["start"]:x["end"]], dtype, en) for x in items]
                check(st == 200 and all(set(x) == {"index", "embed_dtype", "endianness", "start", "end", "shape"}
                                        and x["embed_dtype"] == dtype and x["endianness"] == en
                                        and list(x["shape"]) == shape for x in items)
                      and cos_close(floats, got, 1e-2), f"{t}: {what}: metadata {meta['data'][:1]}, bytes == float")
            with case(file, "test_bytes_only_embed_dtype_and_endianness") as t:
                st, raw, h = raw_post(srv, path, {**body, "encoding_format": "bytes_only"})
                n = size * WIDTH[dtype]  # build_metadata_items: n_request items of one shape, back to back
                got = [decode(raw[i * n:(i + 1) * n], dtype, en) for i in range(len(texts))]
                check(st == 200 and "metadata" not in h and len(raw) == n * len(texts)
                      and cos_close(floats, got, 1e-2), f"{t}: {what}: {st}, {len(raw)} bytes, == float")
    with case(file, "test_params_not_supported") as t:
        for param in ["encoding_format", "embed_dtype", "endianness"]:
            resp = srv.post(path, {"input": texts[0], "encoding_format": "base64", param: f"bad_{param}"})
            # vLLM's message is pydantic's ("literal_error"); vkcls names the field and the value
            check(is_bad_request(resp) and f"bad_{param}" in resp[1]["error"]["message"], f"{t}: bad {param}: {resp[1]}")
