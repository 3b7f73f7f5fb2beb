"""`hardware`: what this computer has for running models, in plain words or as JSON."""

from __future__ import annotations

import argparse

from app.cli.output import print_json
from app.core.machine.hardware import HardwareReport, read_hardware
from app.core.units import format_bytes


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hardware", help="show this computer's processor, memory, GPUs and llama.cpp build")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def render(hw: HardwareReport) -> str:
    lines = [
        f"Processor: {hw.cpu.name} — {hw.cpu.physical_cores} cores ({hw.cpu.logical_cores} threads)"
        + (f", {' '.join(hw.cpu.features)}" if hw.cpu.features else ""),
        f"Memory: {format_bytes(hw.memory.total_bytes)}, {format_bytes(hw.memory.available_bytes)} free now",
    ]
    for g in hw.gpus:
        if g.unified_memory:
            lines.append(
                f"GPU: {g.name}, sharing the memory; it may use up to "
                f"{format_bytes(g.working_set_limit_bytes)}"
            )
        else:
            mine = (
                f", {format_bytes(g.process_used_bytes)} used by this program" if g.process_used_bytes else ""
            )
            lines.append(
                f"GPU {g.index}: {g.name} — {format_bytes(g.total_bytes)} "
                f"({format_bytes(g.free_bytes)} free{mine})"
                + ("" if g.usable_by_llama else " — not usable by the installed llama.cpp")
            )
    if not hw.gpus:
        lines.append("GPU: none found; models run on the processor")
    if hw.backend:
        lines.append(
            f"llama.cpp: {'can use the GPU' if hw.backend.has_gpu else 'built for the processor only'}"
            f" (llama-cpp-python {hw.backend.version})"
        )
    lines.extend(f"Warning: {w}" for w in hw.warnings)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    report = read_hardware()
    if args.json:
        print_json(report.to_json())
    else:
        print(render(report))
    return 0
