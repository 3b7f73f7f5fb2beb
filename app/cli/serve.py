"""`serve [MODEL] [--port N] [--api-key K]`: the model for other programs, OpenAI-compatible, until Ctrl+C."""

from __future__ import annotations

import argparse
import sys

from app.cli.output import report_error
from app.core.engine.client import EngineClient
from app.core.engine.protocol import LoadModel
from app.core.engine.turns import EngineTurns
from app.core.errors import QuantDeskError
from app.core.models.library import STARTER_NAME, resolve_model
from app.core.serve.address import DEFAULT_HOST, ServerAddress, is_this_computer_only
from app.core.serve.api_key import ENV_VAR, choose_key, key_path
from app.core.serve.examples import curl_example, python_example
from app.core.serve.shared_engine import SharedEngine, model_id
from app.core.settings import get_setting


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a model to other programs on this computer (OpenAI-compatible API)")
    p.add_argument("model", nargs="?", default=STARTER_NAME,
                   help="a GGUF file, or 'starter' (the default) for the bundled SmolLM2-135M-Instruct")
    p.add_argument("--port", type=int, help="the port to listen on (default: the app's setting, 8642)")
    p.add_argument("--api-key", help=f"the key clients must send (default: ${ENV_VAR}, else the key the app keeps)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help="the address to listen on (default: %(default)s, this computer only; another address "
                        "lets other computers on the network use the model)")
    p.add_argument("--ctx", type=int, default=4096, help="context length in tokens (default: %(default)s)")
    p.add_argument("--gpu-layers", default="auto",
                   help="layers to put on the GPU: a number (-1: all, 0: none), 'gpu', 'cpu' or 'auto'")
    p.add_argument("--threads", type=int, help="llama.cpp threads (default: the app's setting, else one per core)")
    p.set_defaults(run=run)


def key_source(args: argparse.Namespace) -> str:
    import os

    if args.api_key:
        return "given with --api-key"
    if os.environ.get(ENV_VAR, "").strip():
        return f"from ${ENV_VAR}"
    return f"kept in {key_path()}"


def run(args: argparse.Namespace) -> int:
    from app.core.advice.placement import plan_load  # reads the GGUF (gguf-py, numpy)
    from app.core.serve.server import ApiServer  # uvicorn and Starlette: only for this command

    client = EngineClient()
    try:
        path = resolve_model(args.model)
        choice = args.gpu_layers
        layers = plan_load(path, args.ctx, choice=choice).n_gpu_layers if choice in ("auto", "gpu", "cpu") \
            else int(choice)
        print(f"Loading {path.name}…", file=sys.stderr)
        loaded = client.load_model(LoadModel(str(path), n_ctx=args.ctx, n_gpu_layers=layers,
                                             n_threads=args.threads or get_setting("threads") or None))
        key = choose_key(args.api_key)
        server = ApiServer(SharedEngine(client, EngineTurns(client.stop_generation)), lambda: key,
                           args.host, get_setting("serve_port") if args.port is None else args.port)
        name = model_id(loaded) or path.stem

        def ready(address: ServerAddress) -> None:
            if not is_this_computer_only(address.host):
                print(f"Warning: listening on {address.host}: other computers on the network can use this model "
                      "(with the key).", file=sys.stderr)
            source = key_source(args)
            kept = source.startswith("kept")
            # a key the person gave is not echoed (it would land in terminal logs); the kept one is shown
            shown = key if kept else (f"${ENV_VAR}" if source.startswith("from") else "KEY")
            print(f"QuantDesk API server: {address.base_url}\nModel: {name}")
            print(f"API key: {key}  ({source})" if kept else f"API key: the one {source}")
            print("\nTry it:\n" + curl_example(address.base_url, shown, name))
            print("\nor in Python:\n" + python_example(address.base_url, shown, name))
            print("Press Ctrl+C to stop.", flush=True)

        try:
            server.run(on_ready=ready)
        except KeyboardInterrupt:  # uvicorn stops cleanly on Ctrl+C, then raises it again for its caller
            print("Stopped.", file=sys.stderr)
    except QuantDeskError as error:
        return report_error(error, False)
    finally:
        client.close()
    return 0
