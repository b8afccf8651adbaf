"""The machine's process table read from /proc: who started whom, and CPU used so far.

Benchmarks use it to say where the cores go; tests to find the processes a service started.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Process:
    pid: int
    parent: int
    name: str  # the kernel's short name (comm), e.g. soffice.bin
    state: str  # R, S, D, Z (a zombie: exited, not yet reaped)...
    command: str  # the whole command line, arguments joined by spaces
    cpu_seconds: float  # user + system so far


def process_table() -> dict[int, Process]:
    """Every process readable now (one that exits while being read is left out)."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        # The name may hold spaces and parentheses: the fields start after the last ")".
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = Process(int(entry.name), int(fields[1]), stat[stat.index("(") + 1:stat.rindex(")")],
                                         fields[0], command, (int(fields[11]) + int(fields[12])) / tick)
    return table


def descendants(table: dict[int, Process], root: int) -> list[Process]:
    """Everything ``root`` started, directly or not."""
    children: dict[int, list[Process]] = {}
    for process in table.values():
        children.setdefault(process.parent, []).append(process)
    found, pending = [], [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child.pid)
    return found
