"""How it works: a short help page in plain words (F1). Why fewer bits save memory and time, what QuantDesk's
kind of quantization is (after training) against quantization-aware training, why GGUF, what the numbers
mean, and what QuantDesk does with the network."""

from __future__ import annotations

from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget


class HelpView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.browser = QTextBrowser(self)
        self.browser.setObjectName("helpText")
        self.browser.setAccessibleName(self.tr("How QuantDesk works"))
        self.browser.setOpenLinks(False)  # nothing here leaves the app
        self.browser.setHtml("".join(self.sections()))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.addWidget(self.browser)

    def sections(self) -> list[str]:
        return [
            self.tr("<h2>How it works</h2>"),
            self.tr(
                "<h3>Why fewer bits make a model smaller and faster</h3>"
                "<p>A language model is mostly a very long list of numbers, its <i>weights</i>: a model with 7 "
                "billion parameters has 7 billion of them. Kept at full precision (16 bits each, called F16) "
                "that is 14 GB. <b>Quantization</b> stores each weight in fewer bits (about 4.9 at Q4_K_M), so "
                "the same model takes about 4.3 GB, and fits in the memory of an ordinary laptop.</p>"
                "<p>Smaller is also faster. To write each word of a reply, the computer reads every weight "
                "once. Reading memory is the slow part: the processor could do the arithmetic much faster than "
                "memory delivers the numbers. So a reply's speed is set by how many bytes move through memory "
                "for each word: a model a third the size writes about three times as fast. It is also why a "
                "graphics card helps: its memory is many times faster than the computer's main memory.</p>"
                "<p>The price is precision: each weight is rounded to one of a few values. Down to about 4 to 5 "
                "bits the effect is small (Q4_K_M is about 3 % worse on the published measure); below that it "
                "grows fast (Q2_K is about 56 % worse). Small models lose more than large ones.</p>"),
            self.tr(
                "<h3>Quantizing after training: what QuantDesk does</h3>"
                "<p>QuantDesk does <b>post-training quantization</b>: it takes a finished model and rounds its "
                "weights, in minutes, on this computer, with no training and no special hardware. The care is "
                "in how it rounds. <b>K-quants</b> give each small group of weights its own scale and keep the "
                "most sensitive parts at more bits (the _M and _L mixes). <b>I-quants</b> (IQ) match weights to "
                "a small codebook of patterns and keep more quality at 2 to 3 bits. An <b>importance "
                "matrix</b>, measured by running the model over some sample text, tells the quantizer which "
                "weights matter most, so it spends its bits there.</p>"
                "<p><b>Quantization-aware training</b> is the other way: the model is trained (or trained "
                "further) while it sees the rounding, so it learns to work around it. That keeps more quality "
                "at very low bit counts, but it needs the training data, a lot of graphics-card time, and so "
                "usually the model's makers. When makers publish such models as GGUF files, QuantDesk runs "
                "them like any other.</p>"),
            self.tr(
                "<h3>Why GGUF</h3>"
                "<p>GGUF is the file format of llama.cpp, the engine QuantDesk runs models with. One file holds "
                "everything a model needs: its weights in any of the quantized formats, its tokenizer (how text "
                "becomes the pieces the model reads), its chat template and its settings. The file is laid out "
                "to be mapped straight into memory, so loading is quick and needs no second copy, and the same "
                "file runs on processors and on NVIDIA, AMD and Apple graphics. Most models are published as "
                "safetensors files for training tools: the Convert page turns those into GGUF, and many people "
                "publish ready GGUF files (Find models).</p>"),
            self.tr(
                "<h3>What the numbers mean</h3>"
                "<p><b>Perplexity</b> measures how surprised a model is by real text: lower is better. "
                "\"% worse\" is the rise in perplexity as a share of the full-precision model's, as llama.cpp "
                "measured it on Llama-3-8B: one published measure on one model. <b>Bits per weight</b> is the "
                "average storage per weight. Memory figures are estimates from the model's shape, checked "
                "against measured memory (within 1 to 2 %); speeds are estimates from the memory's "
                "bandwidth and the time each layer takes, until a model has run here: then its measured "
                "speed is shown.</p>"),
            self.tr(
                "<h3>Privacy</h3>"
                "<p>Everything runs on this computer and QuantDesk sends no telemetry. It connects to the "
                "internet only when you search for or download models (Hugging Face). The indicator at the "
                "bottom of the window lists every connection made since QuantDesk started, with its reason, "
                "and the Offline switch beside it stops them all.</p>"),
            self.tr(
                "<h3>Keyboard</h3>"
                "<p>Tab and Shift+Tab move between controls; the arrow keys move through the pages on the "
                "left; F1 opens this page. Every control has a name a screen reader reads out.</p>"),
        ]
