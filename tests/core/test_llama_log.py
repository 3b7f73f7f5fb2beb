from __future__ import annotations

from app.core.llama_log import LEVEL_CONT, LEVEL_ERROR, LEVEL_INFO, LEVEL_WARN, LlamaLogCapture


def test_lines_are_joined_and_problems_filtered() -> None:
    log = LlamaLogCapture(capacity=3, echo=False)
    log.feed(LEVEL_INFO, "loading model\n")
    mark = log.mark()
    log.feed(LEVEL_WARN, "something odd")
    log.feed(LEVEL_CONT, " continues\n")
    log.feed(LEVEL_ERROR, "error loading model: bad tensor\n")
    assert log.problems_since(mark) == ["something odd continues", "error loading model: bad tensor"]


def test_capacity_drops_old_lines_but_marks_stay_correct() -> None:
    log = LlamaLogCapture(capacity=2, echo=False)
    for i in range(5):
        log.feed(LEVEL_INFO, f"line {i}\n")
    mark = log.mark()
    log.feed(LEVEL_ERROR, "late error\n")
    assert [ln.text for ln in log.since(mark)] == ["late error"]
    assert [ln.text for ln in log.lines()] == ["line 4", "late error"]


def test_debug_lines_and_their_continuations_are_dropped() -> None:
    from app.core.llama_log import LEVEL_DEBUG

    log = LlamaLogCapture(echo=False)
    log.feed(LEVEL_DEBUG, "graph node 1")
    log.feed(LEVEL_CONT, " more graph\n")
    log.feed(LEVEL_ERROR, "real error\n")
    assert [ln.text for ln in log.lines()] == ["real error"]
