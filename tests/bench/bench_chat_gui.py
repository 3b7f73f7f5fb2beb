"""The chat window while a reply streams at full speed: does the GUI thread keep up, and does the window
slow the engine down?

    .venv/bin/python tests/bench/bench_chat_gui.py [MODEL.gguf] [--tokens 600] [--rounds 3]

Each round, the same greedy reply of exactly --tokens tokens (end-of-turn tokens barred by a logit bias, so
every run writes the same number) is generated twice, interleaved so a noisy machine hurts both alike:
  engine  headless: QuantDesk's engine process alone (EngineClient), its own tokens/s
  window  the real MainWindow (offscreen), the reply sent from the chat, streamed, written to SQLite and
          drawn as Markdown; a 5 ms QTimer on the GUI thread records how late each tick fires
Goals: the GUI thread never stalls more than 50 ms at the 99th percentile of ticks; the tokens/s the window
shows (under the reply) is at least 0.95 of the engine's own headless figure (medians over rounds).
Exit status 1 on a missed goal.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QUANTDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="quantdesk-bench-")
os.environ["QUANTDESK_CONFIG_DIR"] = os.path.join(os.environ["QUANTDESK_DATA_DIR"], "config")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from app.core.engine.client import EngineClient
from app.core.engine.protocol import ChatMessage, LoadModel, SamplingSettings
from app.core.models.library import starter_model_path
from app.ui.application import create_application
from app.ui.main_window import MainWindow

PROMPT = ("Write a long guide to baking bread at home, with headings, bullet lists, bold words and a short "
          "Python snippet that converts grams to cups.")
TICK_MS = 5
STALL_GOAL_MS = 50.0
SPEED_GOAL = 0.95
N_CTX = 2048


def sampling_without_end(client: EngineClient) -> SamplingSettings:
    """Greedy, with the starter's end-of-turn and control tokens barred: every reply is --tokens long."""
    bar = tuple((token, -1000.0) for token in range(17))  # SmolLM2's special tokens are ids 0-16
    return SamplingSettings(temperature=0.0, repeat_penalty=1.1, logit_bias=bar)


def headless_rate(client: EngineClient, sampling: SamplingSettings, n_tokens: int) -> float:
    done = client.complete([ChatMessage("user", PROMPT)], n_tokens, sampling)
    assert done.stats.generated_tokens == n_tokens, done.stats
    return done.stats.tokens_per_second


def wait(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the window never got there")
        QApplication.processEvents()
        time.sleep(0.002)


def window_round(window: MainWindow, sampling: SamplingSettings, n_tokens: int) -> tuple[float, list[float]]:
    """(tokens/s shown under the reply, lateness of each 5 ms tick in ms) for one streamed reply."""
    chat = window.chat
    chat.new_conversation()
    chat.prefs = dataclasses.replace(chat.prefs, sampling=sampling, max_tokens=n_tokens)
    late: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        late.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
        last[0] = now

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    loop = QEventLoop()  # a real event loop, as app.exec() runs one, until the reply is done
    chat.reply_finished.connect(loop.quit)
    QTimer.singleShot(600_000, loop.quit)
    assert chat.send(PROMPT)
    last[0] = time.perf_counter()
    timer.start()
    loop.exec()
    timer.stop()
    chat.reply_finished.disconnect(loop.quit)
    QApplication.processEvents()
    shown = chat.transcript.views[-1].figures.text()
    match = re.search(r"([\d.]+) tokens/s", shown)
    assert match, shown
    reply = chat.conversation.messages[-1]
    assert reply.figures.generated_tokens == n_tokens, reply.figures
    return float(match.group(1)), late


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default=str(starter_model_path()))
    parser.add_argument("--tokens", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    create_application()
    window = MainWindow()
    window.resize(1180, 760)
    window.show()
    window.bridge.load_model(Path(args.model), n_ctx=N_CTX)
    wait(lambda: window.bridge.loaded is not None and not window.bridge.busy, 120)
    client = EngineClient()
    client.load_model(LoadModel(args.model, n_ctx=N_CTX, n_gpu_layers=window.bridge.loaded.info.n_gpu_layers))
    sampling = sampling_without_end(client)
    headless_rate(client, sampling, 32)  # warm both up
    window_round(window, sampling, 32)

    engine_rates, shown_rates, late_all = [], [], []
    try:
        for round_no in range(1, args.rounds + 1):
            client.restart()  # a fresh, equal start for both: no cached prompt, same memory state
            client.load_model(LoadModel(args.model, n_ctx=N_CTX,
                                        n_gpu_layers=window.bridge.loaded.info.n_gpu_layers))
            engine = headless_rate(client, sampling, args.tokens)
            shown, late = window_round(window, sampling, args.tokens)
            engine_rates.append(engine)
            shown_rates.append(shown)
            late_all.extend(late)
            p99 = statistics.quantiles(late, n=100)[98]
            print(f"round {round_no}: engine {engine:.1f} tok/s, window shows {shown:.1f} tok/s "
                  f"({shown / engine:.3f}); GUI ticks {len(late)}, late p99 {p99:.1f} ms, max {max(late):.1f} ms")
    finally:
        client.close()
        window.close()

    engine, shown = statistics.median(engine_rates), statistics.median(shown_rates)
    p50 = statistics.median(late_all)
    p99 = statistics.quantiles(late_all, n=100)[98]
    ratio = shown / engine
    print(f"\nmodel {Path(args.model).name}, {args.tokens} tokens, {args.rounds} rounds")
    print(f"tokens/s: engine alone {engine:.1f}, shown in the window {shown:.1f}: ratio {ratio:.3f} "
          f"(goal >= {SPEED_GOAL})")
    print(f"GUI thread lateness over {len(late_all)} ticks of {TICK_MS} ms: median {p50:.1f} ms, "
          f"p99 {p99:.1f} ms (goal <= {STALL_GOAL_MS:.0f}), max {max(late_all):.1f} ms")
    ok = ratio >= SPEED_GOAL and p99 <= STALL_GOAL_MS
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
