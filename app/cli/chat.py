"""`chat MODEL --prompt TEXT`: one reply from a model, through the engine process."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from app.cli.machines import add_rpc_option, hardware_with_machines
from app.cli.output import print_json, report_error
from app.core.chat.conversation import Conversation
from app.core.chat.presets import BY_KEY, DEFAULT_PRESET
from app.core.engine.client import EngineClient
from app.core.engine.protocol import GenerationDone, LoadModel, SamplingSettings, TextDelta
from app.core.errors import QuantDeskError
from app.core.models.library import resolve_model


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="ask a model one question and print its reply")
    p.add_argument("model", help="a GGUF file, or 'starter' for the bundled SmolLM2-135M-Instruct")
    p.add_argument("--prompt", required=True, help="the message to send")
    p.add_argument("--system", help="an optional system message")
    p.add_argument("--preset", choices=sorted(BY_KEY), default=DEFAULT_PRESET,
                   help="sampling preset (default: %(default)s); the options below override its details")
    p.add_argument("--seed", type=int, help="fix the random seed so the reply can be repeated")
    p.add_argument("--temperature", type=float, help="0 picks the most likely token every time")
    p.add_argument("--top-p", type=float)
    p.add_argument("--top-k", type=int)
    p.add_argument("--min-p", type=float)
    p.add_argument("--repeat-penalty", type=float, help="1 is off")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--ctx", type=int, default=2048, help="context length in tokens (any length works)")
    p.add_argument("--gpu-layers", default="auto",
                   help="layers to put on the GPU: a number (-1: all, 0: none), 'gpu', 'cpu' or 'auto' "
                        "(default: what the memory estimate says fits)")
    p.add_argument("--format", default="auto",
                   help="prompt format: 'auto' (the model's own), 'text' (continue the prompt as plain text) "
                        "or one of llama.cpp's built-in names (chatml, llama3, gemma, phi3, mistral-v7...)")
    add_rpc_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def plan(path: Path, args: argparse.Namespace) -> tuple[LoadModel, str]:
    """The load request (GPU layers, machines, split) and where each part goes, in words."""
    from app.core.advice.placement import plan_load  # reads the GGUF (gguf-py, numpy): only when a model loads

    hardware = hardware_with_machines(args.rpc) if args.rpc else None
    choice = args.gpu_layers
    placed = plan_load(path, args.ctx, hardware, choice if choice in ("auto", "gpu", "cpu") else "auto")
    layers = placed.n_gpu_layers if choice in ("auto", "gpu", "cpu") else int(choice)
    request = LoadModel(str(path), n_ctx=args.ctx, n_gpu_layers=layers, rpc_servers=placed.rpc_servers,
                        tensor_split=placed.tensor_split)
    return request, placed.where


def run(args: argparse.Namespace) -> int:
    client = EngineClient()
    try:
        path = resolve_model(args.model)
        request, where = plan(path, args)
        if where and not args.json:
            print(f"[{where}]", file=sys.stderr)
        loaded = client.load_model(request)
        conversation = Conversation()  # one question, kept in memory only
        conversation.add_user_message(args.prompt)
        messages = conversation.for_model(args.system or "")
        sampling = sampling_from(args)
        done: GenerationDone | None = None
        for event in client.generate(messages, args.max_tokens, sampling, args.format):
            if isinstance(event, TextDelta) and not args.json:
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, GenerationDone):
                done = event
        assert done is not None
    except QuantDeskError as error:
        return report_error(error, args.json)
    finally:
        client.close()
    if args.json:
        print_json({
            "model": str(path),
            "model_description": loaded.info.description,
            "prompt": args.prompt,
            "reply": done.text,
            "stop_reason": done.stop_reason,
            "end_token": done.end_token,
            "chat_format": "text" if args.format == "text" else loaded.info.chat_format,
            "preset": args.preset,
            "seed": args.seed,
            "temperature": sampling.temperature,
            "prompt_tokens": done.stats.prompt_tokens,
            "generated_tokens": done.stats.generated_tokens,
            "tokens_per_second": round(done.stats.tokens_per_second, 2),
            "prompt_tokens_per_second": round(done.stats.prompt_tokens_per_second, 2),
            "first_token_seconds": round(done.stats.first_token_seconds, 3),
            "load_seconds": round(loaded.load_seconds, 3),
            "n_ctx": loaded.info.n_ctx,
            "n_gpu_layers": loaded.info.n_gpu_layers,
            "devices": list(loaded.info.devices),
            "tensor_split": list(request.tensor_split),
            "rpc_servers": list(request.rpc_servers),
            "where": where,
        })
    else:
        sys.stdout.write(f"\n\n[{done.stats.generated_tokens} tokens, "
                         f"{done.stats.tokens_per_second:.1f} tokens/s]\n")
    return 0


def sampling_from(args: argparse.Namespace) -> SamplingSettings:
    """The preset's settings with whatever the options change."""
    sampling = BY_KEY[args.preset].sampling
    changes = {name: getattr(args, name) for name in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty",
                                                      "seed") if getattr(args, name) is not None}
    return dataclasses.replace(sampling, **changes)
