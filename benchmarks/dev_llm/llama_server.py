"""llama.cpp's own OpenAI-compatible server for a GGUF on the CPU, through the ``xllamacpp`` wheel.

For development only -- recording cassettes and running ``benchmarks/llm_chat.py`` against a
small real model -- not part of Stockpilot's runtime, not a dependency, not in CI. It needs, in
any Python 3.11 environment (a separate venv is fine)::

    pip install xllamacpp==2026.10.11549
    python benchmarks/dev_llm/llama_server.py --model /work/models/qwen2.5-1.5b.gguf --port 8301

Why beside ``server.py``: the prebuilt wheel is llama.cpp's own server (``/v1/chat/completions``
with the model's Jinja chat template, Hermes ``<tool_call>`` parsing, prompt-prefix caching),
built with AVX2 and repacked Q4 kernels; on the 2-core machine it read prompts about twice as
fast as ``llama-cpp-cffi``'s generic build (25 vs 13 tokens/s at load 5). The cassettes in
``tests/agents/cassettes/qwen2.5-coder-1.5b/`` were recorded through it.
"""

from __future__ import annotations

import argparse
import time

import xllamacpp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a GGUF file")
    parser.add_argument("--name", default="qwen2.5-1.5b", help="the model id it answers to")
    parser.add_argument("--port", type=int, default=8301)
    parser.add_argument("--ctx", type=int, default=8192, help="context window (tokens)")
    # One thread: two spin against each other on a shared 2-core machine (measured: 0.8
    # generated tokens/s with 2 threads at load 6-10, 9 with 1).
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.name}
    params.n_ctx = args.ctx
    params.n_parallel = 1  # one slot: requests queue, the prompt prefix stays cached
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.use_jinja = True
    params.hostnames = ["127.0.0.1"]  # loopback only
    params.port = args.port
    server = xllamacpp.Server(params)
    print(f"[dev-llm] {server.listening_address}/v1 ({args.name})", flush=True)
    while True:  # the server runs on its own threads; Ctrl-C or a signal ends the process
        time.sleep(3600)


if __name__ == "__main__":
    main()
