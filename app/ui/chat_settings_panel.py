"""The chat's settings: a sampling preset and the details behind it, the reply length, the conversation's
system prompt and the prompt format (the model's own, or text continuation)."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.preferences import ChatPreferences
from app.core.chat.presets import PRESETS, RANDOM_SEED, matching_preset
from app.core.engine.protocol import SamplingSettings

CUSTOM = "custom"
# offered by name besides "the model's own": the formats of the families QuantDesk checks (chat_format.py)
NAMED_FORMATS = ("chatml", "llama3", "gemma", "phi3", "mistral-v7")


class ChatSettingsPanel(QWidget):
    preferences_changed = Signal(object)  # ChatPreferences
    system_prompt_changed = Signal(str)

    def __init__(self, preferences: ChatPreferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._prefs = preferences
        self._updating = False

        self.preset = QComboBox(self)
        for p in PRESETS:
            self.preset.addItem(self.tr(p.name), p.key)
            self.preset.setItemData(self.preset.count() - 1, self.tr(p.description), 3)  # tooltip role
        self.preset.addItem(self.tr("Custom"), CUSTOM)
        self.preset_note = QLabel(self)
        self.preset_note.setWordWrap(True)
        self.preset_note.setObjectName("presetNote")
        self.temperature = self._double(0.0, 2.0, 0.05, self.tr("Randomness: 0 always picks the most likely word"))
        self.top_p = self._double(0.0, 1.0, 0.01, self.tr("Only words within this share of the probability"))
        self.top_k = self._int(0, 500, self.tr("Only the k most likely words (0: no limit)"))
        self.min_p = self._double(0.0, 1.0, 0.01, self.tr("Drop words less likely than this share of the best"))
        self.repeat_penalty = self._double(1.0, 2.0, 0.01, self.tr("Above 1 discourages repeating recent words"))
        self.random_seed = QCheckBox(self.tr("Random"), self)
        self.seed = self._int(0, 2**31 - 1, self.tr("The same seed and settings give the same reply"))
        self.max_tokens = self._int(16, 32768, self.tr("The longest reply, in tokens"))
        self.max_tokens.setSingleStep(128)
        self.seed.setAccessibleName(self.tr("Seed"))
        self.random_seed.setAccessibleName(self.tr("Random seed"))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.random_seed)
        seed_row.addWidget(self.seed, 1)

        self.prompt_format = QComboBox(self)
        self.prompt_format.addItem(self.tr("The model's own"), "auto")
        self.prompt_format.addItem(self.tr("Text continuation"), "text")
        self.prompt_format.setItemData(0, self.tr("Recommended: the chat template inside the model's file"), 3)
        self.prompt_format.setItemData(1, self.tr("For base models: the model continues what you write"), 3)
        for name in NAMED_FORMATS:
            self.prompt_format.addItem(name, name)
        for combo in (self.preset, self.prompt_format):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        self.system_prompt = QPlainTextEdit(self)
        self.system_prompt.setPlaceholderText(self.tr("Optional: how the model should behave in this chat"))
        self.system_prompt.setMinimumHeight(self.fontMetrics().lineSpacing() * 3)
        self.system_prompt.setMaximumHeight(self.fontMetrics().lineSpacing() * 8)
        self.system_prompt.setAccessibleName(self.tr("System prompt"))
        self.system_prompt.setTabChangesFocus(True)  # Tab moves on (the window's rule: app/ui/accessibility.py)
        self.prompt_format.setAccessibleName(self.tr("Prompt format"))

        sampling = QGroupBox(self.tr("Replies"), self)
        form = QFormLayout(sampling)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.form = form
        form.addRow(self.tr("Preset"), self.preset)
        form.addRow(self.preset_note)
        form.addRow(self.tr("Temperature"), self.temperature)
        form.addRow(self.tr("Top-p"), self.top_p)
        form.addRow(self.tr("Top-k"), self.top_k)
        form.addRow(self.tr("Min-p"), self.min_p)
        form.addRow(self.tr("Repeat penalty"), self.repeat_penalty)
        form.addRow(self.tr("Seed"), seed_row)
        form.addRow(self.tr("Max tokens"), self.max_tokens)
        chat = QGroupBox(self.tr("This chat"), self)
        chat_form = QVBoxLayout(chat)
        chat_form.addWidget(QLabel(self.tr("System prompt"), self))
        chat_form.addWidget(self.system_prompt)
        chat_form.addWidget(QLabel(self.tr("Prompt format"), self))
        chat_form.addWidget(self.prompt_format)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(sampling)
        layout.addWidget(chat)
        layout.addStretch(1)

        self.set_preferences(preferences)
        self.preset.currentIndexChanged.connect(self._on_preset_current_index_changed)
        for box in (self.temperature, self.top_p, self.min_p, self.repeat_penalty):
            box.valueChanged.connect(self._on_detail_changed)
        for spin in (self.top_k, self.seed, self.max_tokens):
            spin.valueChanged.connect(self._on_detail_changed)
        self.random_seed.toggled.connect(self._on_detail_changed)
        self.prompt_format.currentIndexChanged.connect(self._on_detail_changed)
        self.system_prompt.textChanged.connect(
            lambda: None if self._updating else self.system_prompt_changed.emit(self.system_prompt.toPlainText()))

    def _double(self, low: float, high: float, step: float, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox(self)
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setDecimals(2)
        box.setToolTip(tip)
        box.setMinimumWidth(self.fontMetrics().averageCharWidth() * 9)
        return box

    def _int(self, low: int, high: int, tip: str) -> QSpinBox:
        box = QSpinBox(self)
        box.setRange(low, high)
        box.setToolTip(tip)
        box.setMinimumWidth(self.fontMetrics().averageCharWidth() * 9)
        return box

    def set_compact(self, compact: bool) -> None:
        """Labels above their fields: a narrow panel (200 % scaling) then fits without scrolling sideways."""
        policy = QFormLayout.RowWrapPolicy.WrapAllRows if compact else QFormLayout.RowWrapPolicy.WrapLongRows
        if self.form.rowWrapPolicy() != policy:
            self.form.setRowWrapPolicy(policy)

    # ---- state -----------------------------------------------------------------------------------------

    @property
    def preferences(self) -> ChatPreferences:
        return self._prefs

    def set_preferences(self, prefs: ChatPreferences) -> None:
        self._prefs = prefs
        self._updating = True
        s = prefs.sampling
        self.temperature.setValue(s.temperature)
        self.top_p.setValue(s.top_p)
        self.top_k.setValue(s.top_k)
        self.min_p.setValue(s.min_p)
        self.repeat_penalty.setValue(s.repeat_penalty)
        self.random_seed.setChecked(s.seed == RANDOM_SEED)
        self.seed.setValue(0 if s.seed == RANDOM_SEED else min(s.seed, 2**31 - 1))
        self.seed.setEnabled(s.seed != RANDOM_SEED)
        self.max_tokens.setValue(prefs.max_tokens)
        index = self.prompt_format.findData(prefs.prompt_format)
        self.prompt_format.setCurrentIndex(max(index, 0))
        match = matching_preset(s)
        self.preset.setCurrentIndex(self.preset.findData(match.key if match else CUSTOM))
        self.preset_note.setText(self.tr(match.description) if match else self.tr("Your own settings."))
        self._updating = False

    def set_system_prompt(self, text: str) -> None:
        self._updating = True
        self.system_prompt.setPlainText(text)
        self._updating = False

    def select_preset(self, key: str) -> None:
        self.preset.setCurrentIndex(self.preset.findData(key))

    def _on_preset_current_index_changed(self, _index: int) -> None:
        key = self.preset.currentData()
        if self._updating or key == CUSTOM:
            return
        chosen = next(p for p in PRESETS if p.key == key)
        seed = self._prefs.sampling.seed  # a fixed seed stays fixed across presets
        self._apply(dataclasses.replace(self._prefs, sampling=dataclasses.replace(chosen.sampling, seed=seed)))

    def _on_detail_changed(self, *_: object) -> None:
        if self._updating:
            return
        self.seed.setEnabled(not self.random_seed.isChecked())
        sampling = SamplingSettings(
            temperature=self.temperature.value(), top_k=self.top_k.value(), top_p=self.top_p.value(),
            min_p=self.min_p.value(), repeat_penalty=self.repeat_penalty.value(),
            seed=RANDOM_SEED if self.random_seed.isChecked() else self.seed.value(),
        )
        self._apply(dataclasses.replace(self._prefs, sampling=sampling, max_tokens=self.max_tokens.value(),
                                        prompt_format=str(self.prompt_format.currentData())))

    def _apply(self, prefs: ChatPreferences) -> None:
        self.set_preferences(prefs)
        self.preferences_changed.emit(prefs)
