"""llama.cpp on the CPU through the prebuilt binding in the ``llama-cpp-cffi`` wheel (PyPI).

Only the wheel's compiled module (``llama/_llama_cpp_cpu*.so``, llama.cpp's C API via cffi) is
used: the package's own Python layer downloads models and tokenizers from a hub and needs
``transformers``, which this server does not. The GGUF's vocabulary tokenizes (special tokens
parsed, so ``<|im_start|>`` is one token).

The KV cache is kept between requests and reused for the longest common prefix: a chat turn
resends the system prompt, the tool schemas and the history, which on two CPU cores would
otherwise be re-read (≈ 3,000 tokens, a minute) on every call.

The wheel is built against GCC 14's libstdc++, which exports ``__cxa_call_terminate``; Debian 12
has GCC 12's. ``load_library`` compiles a one-line shim with the system C compiler and re-runs
the process with it preloaded (the symbol is only reached on an exception escaping a
``noexcept`` function, where aborting is what would happen anyway).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Qwen2.5's chat-template tokens: generation ends at any of them. The GGUF marks only some as
#: end-of-generation, and greedy decoding once answered nothing but ``<|im_start|>`` (a new turn
#: it went on to imagine), which the client then showed as the answer.
CHAT_STOPS = ("<|im_end|>", "<|im_start|>", "<|endoftext|>")
SHIM_SOURCE = "#include <stdlib.h>\nvoid __cxa_call_terminate(void *e) { (void)e; abort(); }\n"


def _module_path(explicit: str | None) -> Path:
    if explicit:
        path = Path(explicit)
        return next(path.glob("_llama_cpp_cpu*.so")) if path.is_dir() else path
    spec = importlib.util.find_spec("llama")  # the llama-cpp-cffi package, not imported
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "llama-cpp-cffi is not installed: pip install --no-deps llama-cpp-cffi==0.4.42 cffi"
        )
    return next(Path(next(iter(spec.submodule_search_locations))).glob("_llama_cpp_cpu*.so"))


def _shim() -> Path:
    target = Path(tempfile.gettempdir()) / "stockpilot-cxa-shim.so"
    if not target.exists():
        source = target.with_suffix(".c")
        source.write_text(SHIM_SOURCE)
        subprocess.run(
            ["cc", "-O2", "-shared", "-fPIC", "-o", str(target), str(source)], check=True
        )
    return target


def load_library(explicit: str | None = None) -> tuple[Any, Any]:
    """(lib, ffi) of llama.cpp's CPU build; may re-exec the process with the shim preloaded."""
    path = _module_path(explicit)
    loader = importlib.machinery.ExtensionFileLoader("_llama_cpp_cpu", str(path))
    spec = importlib.util.spec_from_file_location("_llama_cpp_cpu", path, loader=loader)
    assert spec is not None
    try:
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except ImportError as exc:
        if "__cxa_call_terminate" not in str(exc) or os.environ.get("LD_PRELOAD"):
            raise
        env = dict(os.environ, LD_PRELOAD=str(_shim()))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    return module.lib, module.ffi


def stop_at(generated: bytes, stops: Sequence[bytes], new: int) -> int | None:
    """Where the first stop sequence in ``generated`` begins, looking only where the last
    ``new`` bytes could have completed one; None when there is none."""
    for stop in stops:
        start = max(0, len(generated) - new - len(stop) + 1)
        found = generated.find(stop, start)
        if found >= 0:
            return found
    return None


def stop_sequences(asked: str | list[str]) -> list[str]:
    """The request's ``stop`` (a string or a list, as OpenAI takes it) and the chat template's
    own tokens, which always end a reply."""
    extra = [asked] if isinstance(asked, str) else [s for s in asked if isinstance(s, str)]
    return list(dict.fromkeys([*CHAT_STOPS, *extra]))


class ContextOverflow(ValueError):
    """The prompt does not fit the window (answered as OpenAI's context_length_exceeded)."""


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    reused_tokens: int
    finish_reason: str
    seconds: float
    prefill_seconds: float


class Engine:
    """One model, one context, one request at a time (two cores have no room for more)."""

    def __init__(
        self,
        model_path: str,
        *,
        n_ctx: int,
        threads: int,
        library: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.lib, self.ffi = load_library(library)
        lib = self.lib
        if not verbose:  # llama.cpp logs every tensor it loads otherwise

            @self.ffi.def_extern()
            def llama_cpp_cffi_ggml_log_callback(_level: Any, _text: Any, _data: Any) -> None:
                return None

            lib.llama_log_set(lib.llama_cpp_cffi_ggml_log_callback, self.ffi.NULL)
        lib.llama_backend_init()
        params = lib.llama_model_default_params()
        params.n_gpu_layers = 0
        self.model = lib.llama_model_load_from_file(model_path.encode(), params)
        if self.model == self.ffi.NULL:
            raise SystemExit(f"cannot load {model_path}")
        ctx_params = lib.llama_context_default_params()
        ctx_params.n_ctx = n_ctx
        ctx_params.n_batch = ctx_params.n_ubatch = 256
        ctx_params.n_threads = ctx_params.n_threads_batch = threads
        self.ctx = lib.llama_init_from_model(self.model, ctx_params)
        if self.ctx == self.ffi.NULL:
            raise SystemExit("cannot create a llama.cpp context")
        self.vocab = lib.llama_model_get_vocab(self.model)
        self.n_ctx = int(lib.llama_n_ctx(self.ctx))
        self.cached: list[int] = []  # tokens whose keys/values are in the cache, in order
        self.lock = threading.Lock()

    def tokenize(self, text: str) -> list[int]:
        data = text.encode()
        size = len(data) + 16
        buf = self.ffi.new("int32_t[]", size)
        n = self.lib.llama_tokenize(self.vocab, data, len(data), buf, size, False, True)
        if n < 0:
            size = -n
            buf = self.ffi.new("int32_t[]", size)
            n = self.lib.llama_tokenize(self.vocab, data, len(data), buf, size, False, True)
        return list(buf[0:n])

    def _piece(self, token: int) -> bytes:
        buf = self.ffi.new("char[]", 256)
        n = self.lib.llama_token_to_piece(self.vocab, token, buf, 256, 0, True)
        return self.ffi.buffer(buf, max(n, 0))[:]

    def _decode(self, tokens: list[int]) -> None:
        step = 256
        for start in range(0, len(tokens), step):
            chunk = tokens[start : start + step]
            arr = self.ffi.new("int32_t[]", chunk)
            if self.lib.llama_decode(self.ctx, self.lib.llama_batch_get_one(arr, len(chunk))) != 0:
                self.lib.llama_kv_self_clear(self.ctx)
                self.cached = []
                raise RuntimeError("llama_decode failed")
            self.cached.extend(chunk)

    def _prefill(self, tokens: list[int]) -> int:
        """Evaluate ``tokens``, reusing the cached common prefix; returns the tokens reused."""
        common = 0
        for a, b in zip(self.cached, tokens, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(tokens) - 1)  # the last token is read again for its logits
        self.lib.llama_kv_self_seq_rm(self.ctx, 0, common, -1)
        self.cached = self.cached[:common]
        self._decode(tokens[common:])
        return common

    def _sampler(self, temperature: float, seed: int) -> Any:
        lib = self.lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(20))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(0.8, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed))
        return chain

    def generate(
        self,
        prompt: str,
        *,
        max_tokens: int,
        temperature: float,
        seed: int = 42,
        stop: Sequence[str] = CHAT_STOPS,
    ) -> Generation:
        """Greedy (or sampled) text until an end-of-generation token, a ``stop`` sequence (not
        included in the text, as OpenAI's ``stop``), ``max_tokens`` or the window."""
        stops = [s.encode() for s in stop if s]
        with self.lock:
            started = time.perf_counter()
            tokens = self.tokenize(prompt)
            if len(tokens) >= self.n_ctx:
                raise ContextOverflow(
                    f"This model's maximum context length is {self.n_ctx} tokens. However, "
                    f"your messages resulted in {len(tokens)} tokens."
                )
            reused = self._prefill(tokens)
            prefilled = time.perf_counter()
            sampler = self._sampler(temperature, seed)
            generated = b""
            count = 0
            finish = "stop"
            try:
                while True:
                    if count >= max_tokens or len(self.cached) >= self.n_ctx:
                        finish = "length"
                        break
                    token = self.lib.llama_sampler_sample(sampler, self.ctx, -1)
                    if self.lib.llama_vocab_is_eog(self.vocab, token):
                        break
                    piece = self._piece(token)
                    generated += piece
                    count += 1
                    if (cut := stop_at(generated, stops, len(piece))) is not None:
                        generated = generated[:cut]
                        break
                    self._decode([token])
            finally:
                self.lib.llama_sampler_free(sampler)
            return Generation(
                text=generated.decode("utf-8", errors="replace"),
                prompt_tokens=len(tokens),
                completion_tokens=count,
                reused_tokens=reused,
                finish_reason=finish,
                seconds=time.perf_counter() - started,
                prefill_seconds=prefilled - started,
            )
