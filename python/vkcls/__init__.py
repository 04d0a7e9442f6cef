"""vkcls: Hugging Face transformer classification models on Vulkan compute, from Python.

A binding over the C API (libvkcls.so, include/vkcls/vkcls.h) with ctypes::

    import vkcls
    engine = vkcls.Engine("assets/models/sentiment-minilm-l4")
    for r in engine.classify(["what a lovely day", "this is awful"]):
        print(r.label, r.probs[r.label_index])

Every call takes a batch and returns one plain object per input, in input order. Errors are
exceptions (subclasses of vkcls.Error, carrying the engine's message and the field it names):
a request-level error raises at once; an input that fails on its own (empty, invalid UTF-8,
too long) raises vkcls.InputError naming its index unless ``errors="return"``, which puts the
InputError object in its place instead. Calls release the GIL while the engine works, so
threads using one Engine share its device batches.
"""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from . import _capi

__all__ = [
    "Engine", "CancelToken", "Device", "devices", "version", "Error", "InputError",
    "ClassifyResult", "LabelScore", "TokenClassifyResult", "TokenScore", "Entity",
    "ScoreResult", "RerankResult", "EmbedResult", "Tokens",
]

_lib = _capi.load()
__version__: str = _lib.vkcls_version().decode()


def version() -> str:
    """The version of the libvkcls.so in use."""
    return _lib.vkcls_version().decode()


class Error(Exception):
    """A vkcls call failed. ``status`` is the C status name ("not_found", "invalid_input",
    "unsupported", "cancelled", ...); ``param`` the field the message is about, or ""."""

    def __init__(self, message: str, status: str, param: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.param = param


@dataclass
class InputError:
    """One input of a batch failed on its own (raised as vkcls.Error by default)."""
    index: int
    status: str
    message: str

    def exception(self) -> Error:
        return Error(f"input {self.index}: {self.message}", self.status)


def _s(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b else ""


def _check(status: int) -> None:
    if status != _capi.OK:
        raise Error(_s(_lib.vkcls_last_error()), _capi.STATUS_NAMES.get(status, "unknown"),
                    _s(_lib.vkcls_last_error_param()))


# ---- devices ------------------------------------------------------------------------------

@dataclass
class Device:
    index: int
    name: str
    type: str  # "discrete GPU", "integrated GPU", "CPU", ...
    vendor_id: int
    device_id: int
    driver: str
    api_version: str
    memory_bytes: int
    fp16: bool
    chosen: bool  # what Engine(device=-1) opens


def devices() -> List[Device]:
    """The Vulkan devices the loader lists; ``chosen`` marks the one vkcls picks."""
    out = ctypes.POINTER(_capi.DeviceList)()
    _check(_lib.vkcls_devices(ctypes.byref(out)))
    try:
        d = out.contents
        return [Device(x.index, _s(x.name), _s(x.type_name), x.vendor_id, x.device_id,
                       _s(x.driver_name), _s(x.api_version), x.device_local_bytes, bool(x.fp16),
                       i == d.chosen)
                for i, x in enumerate(d.devices[i] for i in range(d.count))]
    finally:
        _lib.vkcls_device_list_free(out)


# ---- results ------------------------------------------------------------------------------

@dataclass
class LabelScore:
    label: str
    score: float
    index: int


@dataclass
class ClassifyResult:
    label: str
    label_index: int
    probs: List[float]  # activated scores, or logits with use_activation=False
    top_k: List[LabelScore]
    prompt_tokens: int


@dataclass
class TokenScore:
    id: int
    token: str
    start: int  # code points into the text; 0, 0 for special tokens
    end: int
    special: bool
    probs: List[float]


@dataclass
class Entity:
    entity: str
    score: float
    index: int
    word: str
    start: int
    end: int


@dataclass
class TokenClassifyResult:
    labels: List[str]
    tokens: List[TokenScore]
    entities: List[Entity]
    prompt_tokens: int


@dataclass
class ScoreResult:
    score: float
    prompt_tokens: int


@dataclass
class RerankResult:
    index: int  # the document's position in the input
    score: float
    prompt_tokens: int


@dataclass
class EmbedResult:
    embedding: Any  # a numpy float32 array when numpy is installed, else a list of floats
    prompt_tokens: int


@dataclass
class Tokens:
    ids: List[int]
    tokens: List[str]
    offsets: List[Tuple[int, int]] = field(default_factory=list)


def _floats(ptr: Any, n: int) -> List[float]:
    return ptr[:n] if n else []


def _embedding(ptr: Any, n: int) -> Any:
    try:
        import numpy as np
    except ImportError:
        return _floats(ptr, n)
    return np.ctypeslib.as_array(ptr, shape=(n,)).copy() if n else np.zeros(0, np.float32)


def _classify_item(x: Any) -> ClassifyResult:
    return ClassifyResult(_s(x.label), x.label_index, _floats(x.probs, x.num_classes),
                          [LabelScore(_s(t.label), t.score, t.index)
                           for t in (x.top_k[i] for i in range(x.num_top_k))],
                          x.prompt_tokens)


def _token_item(x: Any) -> TokenClassifyResult:
    labels = [_s(x.labels[i]) for i in range(x.num_labels)]
    tokens = [TokenScore(t.id, _s(t.text), t.start, t.end, bool(t.special),
                         _floats(t.probs, x.num_labels))
              for t in (x.tokens[i] for i in range(x.num_tokens))]
    entities = [Entity(_s(e.entity), e.score, e.index, _s(e.word), e.start, e.end)
                for e in (x.entities[i] for i in range(x.num_entities))]
    return TokenClassifyResult(labels, tokens, entities, x.prompt_tokens)


# ---- cancellation -------------------------------------------------------------------------

class CancelToken:
    """Pass as ``cancel=`` to any call; ``cancel()`` from any thread (or from a progress
    callback) stops the calls using it: work not yet on the device is dropped and the call
    raises vkcls.Error with status "cancelled". Tokens do not reset."""

    def __init__(self) -> None:
        self._h = ctypes.c_void_p()
        _check(_lib.vkcls_cancel_token_new(ctypes.byref(self._h)))

    def cancel(self) -> None:
        _check(_lib.vkcls_cancel(self._h))

    def __del__(self) -> None:
        if getattr(self, "_h", None) and _lib is not None:
            _lib.vkcls_cancel_token_free(self._h)
            self._h = None


_AGGREGATIONS = {None: 0, "none": 1, "simple": 2, "first": 3, "average": 4, "max": 5}
Progress = Callable[[int, int], None]


class Engine:
    """A model folder (or hub id in the local cache) loaded onto a Vulkan device.

    Args:
        model_dir: a Hugging Face model folder (config.json, weights, tokenizer.json).
        device: a vkcls.devices() index; -1 picks the best.
        dtype: "auto", "f32" or "f16" (device weights).
        max_batch_tokens: tokens per device batch; 0: the device's default.
        pooler_config: vLLM's --pooler-config, as a dict.
        hf_overrides: vLLM's --hf-overrides, a dict merged into config.json.
        validation: the Khronos validation layer (debugging).
        max_input_bytes: bytes of any one text, checked before tokenizing; 0: no limit.
        kv_cache_memory: causal decoders: bytes of the paged KV cache (0: the default).
        prefix_cache: causal decoders: share cached prompt prefixes between requests.
    """

    def __init__(self, model_dir: str, *, device: int = -1, dtype: str = "auto",
                 max_batch_tokens: int = 0, pooler_config: Optional[dict] = None,
                 hf_overrides: Optional[dict] = None, max_queued_requests: int = 0,
                 revision: Optional[str] = None, validation: bool = False,
                 max_input_bytes: int = 1 << 20, kv_cache_memory: int = 0,
                 prefix_cache: bool = True) -> None:
        o = _capi.Options()
        _lib.vkcls_options_init(ctypes.byref(o))
        o.model_dir = str(model_dir).encode()
        o.device = device
        o.dtype = dtype.encode()
        o.max_batch_tokens = max_batch_tokens
        o.max_queued_requests = max_queued_requests
        o.validation = int(validation)
        o.max_input_bytes = max_input_bytes
        o.kv_cache_memory = kv_cache_memory
        o.no_prefix_cache = int(not prefix_cache)
        if revision:
            o.revision = revision.encode()
        if pooler_config is not None:
            o.pooler_config_json = json.dumps(pooler_config).encode()
        if hf_overrides is not None:
            o.hf_overrides_json = json.dumps(hf_overrides).encode()
        self._h = ctypes.c_void_p()
        _check(_lib.vkcls_engine_open(ctypes.byref(o), ctypes.byref(self._h)))
        info = ctypes.POINTER(_capi.ModelInfo)()
        _check(_lib.vkcls_engine_info(self._h, ctypes.byref(info)))
        i = info.contents
        self.info: dict = {
            "model_dir": _s(i.model_dir), "model_type": _s(i.model_type),
            "architecture": _s(i.architecture),
            "labels": [_s(i.labels[k]) for k in range(i.num_labels)],
            "tasks": [_s(i.tasks[k]) for k in range(i.num_tasks)],
            "default_task": _s(i.default_task), "activation": _s(i.activation),
            "dtype": _s(i.dtype), "device": _s(i.device), "hidden_size": i.hidden_size,
            "max_model_len": i.max_model_len, "max_batch_tokens": i.max_batch_tokens,
            "weight_bytes": i.weight_bytes,
        }

    def close(self) -> None:
        """Frees the engine (also on garbage collection and at the end of a with block)."""
        if getattr(self, "_h", None) and _lib is not None:  # _lib: None at interpreter exit
            _lib.vkcls_engine_close(self._h)
            self._h = None

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    # -- plumbing

    def _handle(self) -> ctypes.c_void_p:
        if not getattr(self, "_h", None):
            raise Error("the engine is closed", "invalid_argument")
        return self._h

    @staticmethod
    def _params(progress: Optional[Progress], cancel: Optional[CancelToken],
                keep: list, **kw: Any) -> _capi.Params:
        p = _capi.Params()
        _lib.vkcls_params_init(ctypes.byref(p))
        t = kw.get("truncate_prompt_tokens")
        p.truncate_prompt_tokens = 0 if t is None else t
        if kw.get("truncation_side"):
            p.truncation_side = kw["truncation_side"].encode()
        p.add_special_tokens = int(kw.get("add_special_tokens", True))
        ua = kw.get("use_activation")
        p.use_activation = -1 if ua is None else int(ua)
        p.priority = kw.get("priority", 0)
        p.top_k = kw.get("top_k", 0)
        n = kw.get("normalize")
        p.normalize = -1 if n is None else int(n)
        p.dimensions = kw.get("dimensions") or 0
        agg = kw.get("aggregation")
        if agg not in _AGGREGATIONS:
            raise Error(f"aggregation: {agg!r} is not one of none, simple, first, average, max",
                        "invalid_argument", "aggregation")
        p.aggregation = _AGGREGATIONS[agg]
        labels = kw.get("ignore_labels")
        if labels is not None:
            arr = (ctypes.c_char_p * max(len(labels), 1))(*[s.encode() for s in labels])
            keep.append(arr)
            p.ignore_labels = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
            p.num_ignore_labels = len(labels)
        p.stride = kw.get("stride", 0)
        if progress is not None:
            cb = _capi.ProgressFn(lambda done, total, _user: progress(done, total))
            keep.append(cb)
            p.progress = cb
        if cancel is not None:
            p.cancel = cancel._h
        return p

    @staticmethod
    def _texts(texts: Sequence[Optional[str]], name: str) -> Any:
        if isinstance(texts, (str, bytes)):
            raise TypeError(f"{name} must be a list of strings, not one string")
        enc = [None if t is None else (t if isinstance(t, bytes) else str(t).encode())
               for t in texts]
        return (ctypes.c_char_p * max(len(enc), 1))(*enc)

    @staticmethod
    def _ids(ids: Sequence[Sequence[int]]) -> Tuple[Any, Any, list]:
        rows = [(ctypes.c_int32 * max(len(r), 1))(*r) for r in ids]
        ptrs = (ctypes.POINTER(ctypes.c_int32) * max(len(rows), 1))(
            *[ctypes.cast(r, ctypes.POINTER(ctypes.c_int32)) for r in rows])
        lengths = (ctypes.c_size_t * max(len(rows), 1))(*[len(r) for r in ids])
        return ptrs, lengths, rows

    @staticmethod
    def _collect(result: Any, free: Callable, convert: Callable, errors: str) -> list:
        try:
            r = result.contents
            out: list = []
            for i in range(r.count):
                x = r.items[i]
                if x.status != _capi.OK:
                    err = InputError(i, _capi.STATUS_NAMES.get(x.status, "unknown"), _s(x.error))
                    if errors == "raise":
                        raise err.exception()
                    out.append(err)
                else:
                    out.append(convert(x))
            return out
        finally:
            free(result)

    def _run(self, fn: Callable, args: list, result_type: Any, free: Callable,
             convert: Callable, errors: str, progress: Optional[Progress],
             cancel: Optional[CancelToken], **kw: Any) -> list:
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be 'raise' or 'return', not {errors!r}")
        keep: list = []
        p = self._params(progress, cancel, keep, **kw)
        out = ctypes.POINTER(result_type)()
        status = fn(self._handle(), *args, ctypes.byref(p), ctypes.byref(out))
        if status == _capi.CANCELLED and out:
            free(out)  # the items that ran are dropped: a cancelled call raises
        _check(status)
        return self._collect(out, free, convert, errors)

    # -- tasks

    def classify(self, texts: Sequence[str], *, text_pairs: Optional[Sequence[str]] = None,
                 top_k: int = 0, errors: str = "raise", progress: Optional[Progress] = None,
                 cancel: Optional[CancelToken] = None,
                 **params: Any) -> List[Union[ClassifyResult, InputError]]:
        """Sequence classification (with ``text_pairs``: NLI-style pairs). Parameters as vLLM
        names them: truncate_prompt_tokens, truncation_side, add_special_tokens,
        use_activation, priority."""
        t = self._texts(texts, "texts")
        if text_pairs is not None:
            if len(text_pairs) != len(texts):
                raise ValueError("text_pairs must have one entry per text")
            args = [t, self._texts(text_pairs, "text_pairs"), len(texts)]
            fn = _lib.vkcls_classify_pairs
        else:
            args, fn = [t, len(texts)], _lib.vkcls_classify
        return self._run(fn, args, _capi.ClassifyResult, _lib.vkcls_classify_result_free,
                         _classify_item, errors, progress, cancel, top_k=top_k, **params)

    def classify_ids(self, ids: Sequence[Sequence[int]], *, top_k: int = 0,
                     errors: str = "raise", **params: Any) -> List[Any]:
        """classify() over token ids used as given."""
        ptrs, lengths, _rows = self._ids(ids)
        return self._run(_lib.vkcls_classify_ids, [ptrs, lengths, len(ids)],
                         _capi.ClassifyResult, _lib.vkcls_classify_result_free, _classify_item,
                         errors, params.pop("progress", None), params.pop("cancel", None),
                         top_k=top_k, **params)

    def token_classify(self, texts: Sequence[str], *, aggregation: Optional[str] = None,
                       ignore_labels: Optional[Sequence[str]] = None, stride: int = 0,
                       errors: str = "raise", progress: Optional[Progress] = None,
                       cancel: Optional[CancelToken] = None,
                       **params: Any) -> List[Union[TokenClassifyResult, InputError]]:
        """Token classification (NER). ``aggregation``: None (no entities), "none",
        "simple", "first", "average", "max" as the Hugging Face pipeline; ``ignore_labels``
        defaults to ["O"]."""
        return self._run(_lib.vkcls_token_classify, [self._texts(texts, "texts"), len(texts)],
                         _capi.TokenResult, _lib.vkcls_token_result_free, _token_item, errors,
                         progress, cancel, aggregation=aggregation, ignore_labels=ignore_labels,
                         stride=stride, **params)

    def score(self, query: str, documents: Sequence[str], *, errors: str = "raise",
              progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None,
              **params: Any) -> List[Union[ScoreResult, InputError]]:
        """Cross-encoder scores of (query, document) pairs, in input order."""
        return self._run(_lib.vkcls_score, [query.encode(), self._texts(documents, "documents"),
                                            len(documents)],
                         _capi.ScoreResult, _lib.vkcls_score_result_free,
                         lambda x: ScoreResult(x.score, x.prompt_tokens), errors, progress,
                         cancel, **params)

    def rerank(self, query: str, documents: Sequence[str], *, top_n: int = 0,
               errors: str = "raise", progress: Optional[Progress] = None,
               cancel: Optional[CancelToken] = None,
               **params: Any) -> List[Union[RerankResult, InputError]]:
        """vLLM's /rerank: documents best first (the top_n best; 0: all)."""
        return self._run(_lib.vkcls_rerank, [query.encode(), self._texts(documents, "documents"),
                                             len(documents), top_n],
                         _capi.ScoreResult, _lib.vkcls_score_result_free,
                         lambda x: RerankResult(x.index, x.score, x.prompt_tokens), errors,
                         progress, cancel, **params)

    def embed(self, texts: Sequence[str], *, normalize: Optional[bool] = None,
              dimensions: Optional[int] = None, errors: str = "raise",
              progress: Optional[Progress] = None, cancel: Optional[CancelToken] = None,
              **params: Any) -> List[Union[EmbedResult, InputError]]:
        """Pooled embeddings (numpy float32 arrays when numpy is installed)."""
        return self._run(_lib.vkcls_embed, [self._texts(texts, "texts"), len(texts)],
                         _capi.EmbedResult, _lib.vkcls_embed_result_free,
                         lambda x: EmbedResult(_embedding(x.embedding, x.dimensions),
                                               x.prompt_tokens),
                         errors, progress, cancel, normalize=normalize, dimensions=dimensions,
                         **params)

    def tokenize(self, text: str, add_special_tokens: bool = True) -> Tokens:
        """The model's tokenizer: ids, token strings and code-point offsets."""
        out = ctypes.POINTER(_capi.Tokens)()
        _check(_lib.vkcls_tokenize(self._handle(), text.encode(), int(add_special_tokens),
                                   ctypes.byref(out)))
        try:
            t = out.contents
            return Tokens(list(t.ids[:t.count]), [_s(t.tokens[i]) for i in range(t.count)],
                          list(zip(t.starts[:t.count], t.ends[:t.count])))
        finally:
            _lib.vkcls_tokens_free(out)
