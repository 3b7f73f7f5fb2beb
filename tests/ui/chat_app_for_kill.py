"""The real window in a process of its own, for the durability test: it loads the starter, asks for a long
story and, each time the streaming reply is drawn, prints the text drawn (one JSON line). The test kills this
process mid-reply and reopens the conversation database.

    python tests/ui/chat_app_for_kill.py DATA_DIR
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    data = Path(sys.argv[1])
    os.environ["QUANTDESK_DATA_DIR"] = str(data)
    os.environ["QUANTDESK_CONFIG_DIR"] = str(data / "config")
    from app.core.engine.protocol import SamplingSettings
    from app.ui.application import create_application
    from app.ui.main_window import MainWindow
    from app.ui.transcript_view import TranscriptView

    app = create_application()
    drawn = TranscriptView.update_streaming

    def update_streaming(self: TranscriptView, message: object) -> None:
        drawn(self, message)  # type: ignore[arg-type]
        print(json.dumps({"drawn": message.content}), flush=True)  # type: ignore[attr-defined]

    TranscriptView.update_streaming = update_streaming  # type: ignore[method-assign]
    window = MainWindow()
    window.show()

    def on_loaded(_loaded: object) -> None:
        window.chat.sampling = SamplingSettings(temperature=0.8, seed=11)
        window.chat.send("Tell me a very long story about a dragon, a knight and a lighthouse keeper.")
        print(json.dumps({"sent": True}), flush=True)

    window.bridge.model_loaded.connect(on_loaded)
    window.load_default_model()
    app.exec()


if __name__ == "__main__":
    main()
