"""`doctor`: the report a person can paste when asking for help."""

from __future__ import annotations

import argparse

from app.cli.output import print_json
from app.core.engine.doctor import DoctorReport, run_doctor
from app.core.units import format_bytes


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check this computer, the llama.cpp build and the starter model")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-model", action="store_true", help="skip loading the starter model")
    p.set_defaults(run=run)


def render(report: DoctorReport) -> str:
    hw = report.hardware
    lines = [
        f"QuantDesk {report.quantdesk_version} · {report.python} · {hw.os}",
        f"CPU: {hw.cpu.name} — {hw.cpu.physical_cores} cores ({hw.cpu.logical_cores} threads)"
        + (f", {' '.join(hw.cpu.features)}" if hw.cpu.features else ""),
        f"Memory: {format_bytes(hw.memory.total_bytes)} total, {format_bytes(hw.memory.available_bytes)} free",
    ]
    if hw.gpus:
        for g in hw.gpus:
            lines.append(f"GPU {g.index}: {g.name} — {format_bytes(g.total_bytes)} "
                         f"({format_bytes(g.free_bytes)} free), driver {g.driver}")
    else:
        lines.append("GPU: no NVIDIA GPU found (models run on the CPU)")
    if hw.backend:
        lines.append(f"llama.cpp: llama-cpp-python {hw.backend.version}, "
                     f"{'GPU offload available' if hw.backend.has_gpu else 'CPU only'}")
        lines.append(f"  {hw.backend.system_info}")
    for warning in hw.warnings:
        lines.append(f"Warning: {warning}")
    s = report.starter
    if s is not None:
        if s.answer is not None:
            lines.append(f"Starter model: answered {s.answer!r} to {s.question!r} "
                         f"({s.tokens_per_second} tokens/s, loaded in {s.load_seconds} s)")
        else:
            lines.append(f"Starter model: FAILED — {s.error}")
            if s.error_detail:
                lines.append(f"  {s.error_detail}")
    lines.append("All good." if report.healthy else "Something needs attention (see above).")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    report = run_doctor(with_model=not args.no_model)
    if args.json:
        print_json(report.to_json())
    else:
        print(render(report))
    return 0 if report.healthy else 1
