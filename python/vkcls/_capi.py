"""ctypes mirror of include/vkcls/vkcls.h: the structs field for field, the function signatures,
and the search for libvkcls.so. Nothing here is public; vkcls/__init__.py wraps it."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (POINTER, c_char_p, c_float, c_int, c_int32, c_int64, c_size_t, c_uint32,
                    c_uint64, c_void_p)
from pathlib import Path

# vkcls_status
OK = 0
STATUS_NAMES = {
    1: "invalid_argument", 2: "invalid_input", 3: "too_long", 4: "unsupported",
    5: "not_found", 6: "model", 7: "overloaded", 8: "cancelled", 9: "device_lost",
    10: "out_of_memory", 11: "internal",
}
CANCELLED = 8


class Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_size_t), ("model_dir", c_char_p), ("revision", c_char_p),
        ("download", c_int), ("device", c_int), ("dtype", c_char_p),
        ("max_batch_tokens", c_int64), ("pooler_config_json", c_char_p),
        ("hf_overrides_json", c_char_p), ("max_queued_requests", c_size_t),
        ("validation", c_int), ("max_input_bytes", c_size_t),
        ("kv_cache_memory", c_uint64), ("no_prefix_cache", c_int),
    ]


ProgressFn = ctypes.CFUNCTYPE(None, c_size_t, c_size_t, c_void_p)


class Params(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_size_t), ("truncate_prompt_tokens", c_int64),
        ("truncation_side", c_char_p), ("add_special_tokens", c_int), ("use_activation", c_int),
        ("priority", c_int64), ("top_k", c_int64), ("normalize", c_int),
        ("dimensions", c_int64), ("aggregation", c_int),
        ("ignore_labels", POINTER(c_char_p)), ("num_ignore_labels", c_size_t),
        ("stride", c_int64), ("progress", ProgressFn), ("progress_user_data", c_void_p),
        ("cancel", c_void_p),
    ]


class Device(ctypes.Structure):
    _fields_ = [
        ("index", c_uint32), ("name", c_char_p), ("type", c_int), ("type_name", c_char_p),
        ("vendor_id", c_uint32), ("device_id", c_uint32), ("driver_name", c_char_p),
        ("api_version", c_char_p), ("device_local_bytes", c_uint64), ("fp16", c_int),
    ]


class DeviceList(ctypes.Structure):
    _fields_ = [("count", c_size_t), ("devices", POINTER(Device)), ("chosen", c_int),
                ("reason", c_char_p)]


class ModelInfo(ctypes.Structure):
    _fields_ = [
        ("model_dir", c_char_p), ("model_type", c_char_p), ("architecture", c_char_p),
        ("num_labels", c_size_t), ("labels", POINTER(c_char_p)), ("has_labels", c_int),
        ("num_tasks", c_size_t), ("tasks", POINTER(c_char_p)), ("default_task", c_char_p),
        ("activation", c_char_p), ("seq_pooling", c_char_p), ("embed_pooling", c_char_p),
        ("tok_pooling", c_char_p), ("dtype", c_char_p), ("device", c_char_p),
        ("hidden_size", c_int64), ("max_model_len", c_int64), ("vocab_size", c_int64),
        ("max_batch_tokens", c_int64), ("weight_bytes", c_uint64),
    ]


class LabelScore(ctypes.Structure):
    _fields_ = [("label", c_char_p), ("score", c_float), ("index", c_int64)]


class ClassifyItem(ctypes.Structure):
    _fields_ = [
        ("status", c_int), ("error", c_char_p), ("label_index", c_int64), ("label", c_char_p),
        ("has_label", c_int), ("num_classes", c_size_t), ("probs", POINTER(c_float)),
        ("num_top_k", c_size_t), ("top_k", POINTER(LabelScore)), ("prompt_tokens", c_int64),
    ]


class Token(ctypes.Structure):
    _fields_ = [("id", c_int32), ("text", c_char_p), ("start", c_int64), ("end", c_int64),
                ("special", c_int), ("probs", POINTER(c_float))]


class Entity(ctypes.Structure):
    _fields_ = [("entity", c_char_p), ("score", c_float), ("index", c_int64), ("word", c_char_p),
                ("start", c_int64), ("end", c_int64)]


class TokenItem(ctypes.Structure):
    _fields_ = [
        ("status", c_int), ("error", c_char_p), ("num_labels", c_size_t),
        ("labels", POINTER(c_char_p)), ("num_tokens", c_size_t), ("tokens", POINTER(Token)),
        ("num_entities", c_size_t), ("entities", POINTER(Entity)), ("prompt_tokens", c_int64),
    ]


class ScoreItem(ctypes.Structure):
    _fields_ = [("status", c_int), ("error", c_char_p), ("index", c_size_t), ("score", c_float),
                ("prompt_tokens", c_int64)]


class EmbedItem(ctypes.Structure):
    _fields_ = [("status", c_int), ("error", c_char_p), ("dimensions", c_size_t),
                ("embedding", POINTER(c_float)), ("prompt_tokens", c_int64)]


def _result(item):
    class Result(ctypes.Structure):
        _fields_ = [("count", c_size_t), ("items", POINTER(item))]
    return Result


ClassifyResult = _result(ClassifyItem)
TokenResult = _result(TokenItem)
ScoreResult = _result(ScoreItem)
EmbedResult = _result(EmbedItem)


class Tokens(ctypes.Structure):
    _fields_ = [("count", c_size_t), ("ids", POINTER(c_int32)), ("tokens", POINTER(c_char_p)),
                ("starts", POINTER(c_int64)), ("ends", POINTER(c_int64))]


def _find_library() -> str:
    """$VKCLS_LIBRARY, else the libvkcls.so installed beside this package, else the system's."""
    env = os.environ.get("VKCLS_LIBRARY")
    if env:
        return env
    here = Path(__file__).resolve().parent
    for name in sorted(here.glob("libvkcls.so*")):
        return str(name)
    found = ctypes.util.find_library("vkcls")
    if found:
        return found
    raise OSError("libvkcls.so not found: set VKCLS_LIBRARY, or install the package with "
                  "`pip install .` from the vkcls repository")


def load() -> ctypes.CDLL:
    lib = ctypes.CDLL(_find_library())
    S = c_int  # vkcls_status
    sigs = {
        "vkcls_version": (c_char_p, []),
        "vkcls_status_name": (c_char_p, [c_int]),
        "vkcls_last_error": (c_char_p, []),
        "vkcls_last_error_param": (c_char_p, []),
        "vkcls_devices": (S, [POINTER(POINTER(DeviceList))]),
        "vkcls_device_list_free": (None, [POINTER(DeviceList)]),
        "vkcls_options_init": (None, [POINTER(Options)]),
        "vkcls_engine_open": (S, [POINTER(Options), POINTER(c_void_p)]),
        "vkcls_engine_close": (None, [c_void_p]),
        "vkcls_engine_info": (S, [c_void_p, POINTER(POINTER(ModelInfo))]),
        "vkcls_cancel_token_new": (S, [POINTER(c_void_p)]),
        "vkcls_cancel": (S, [c_void_p]),
        "vkcls_cancel_token_free": (None, [c_void_p]),
        "vkcls_params_init": (None, [POINTER(Params)]),
        "vkcls_tokenize": (S, [c_void_p, c_char_p, c_int, POINTER(POINTER(Tokens))]),
        "vkcls_tokens_free": (None, [POINTER(Tokens)]),
    }
    texts = POINTER(c_char_p)
    ids = [POINTER(POINTER(c_int32)), POINTER(c_size_t), c_size_t]
    for task, result in (("classify", ClassifyResult), ("token_classify", TokenResult),
                         ("embed", EmbedResult)):
        out = POINTER(POINTER(result))
        sigs[f"vkcls_{task}"] = (S, [c_void_p, texts, c_size_t, POINTER(Params), out])
        sigs[f"vkcls_{task}_ids"] = (S, [c_void_p, *ids, POINTER(Params), out])
    sigs["vkcls_classify_pairs"] = (S, [c_void_p, texts, texts, c_size_t, POINTER(Params),
                                        POINTER(POINTER(ClassifyResult))])
    score_out = POINTER(POINTER(ScoreResult))
    sigs["vkcls_score"] = (S, [c_void_p, c_char_p, texts, c_size_t, POINTER(Params), score_out])
    sigs["vkcls_score_ids"] = (S, [c_void_p, *ids, POINTER(Params), score_out])
    sigs["vkcls_rerank"] = (S, [c_void_p, c_char_p, texts, c_size_t, c_size_t, POINTER(Params),
                                score_out])
    for name, result in (("classify", ClassifyResult), ("token", TokenResult),
                         ("score", ScoreResult), ("embed", EmbedResult)):
        sigs[f"vkcls_{name}_result_free"] = (None, [POINTER(result)])
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib
