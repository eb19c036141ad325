#!/usr/bin/env python3
"""check-wait-free.py: B13 read off the machine code.

Scheduling is wait-free: a bounded number of steps, no retry loop. So the
control-flow graph of each function a schedule runs (the queue push is
inlined into them) must have no cycle. Calls leave the function and are
checked by their own entries here (aio_notify_wake) or are system calls.

TAP output. Usage: check-wait-free.py LIBRARY [FUNCTION...]
"""
import re
import subprocess
import sys

DEFAULT = ["qemu_bh_schedule", "qemu_bh_schedule_idle", "aio_notify_wake", "aio_notify"]
INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(\S*)")


def disassemble(library):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", library],
                         check=True, capture_output=True, text=True).stdout
    functions, current = {}, None
    for line in out.splitlines():
        head = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if head:
            current = functions.setdefault(head.group(1), [])
            continue
        m = INSN.match(line)
        if m and current is not None:
            current.append((int(m.group(1), 16), m.group(2), m.group(3)))
        elif not line.strip():
            current = None
    return functions


def successors(insns):
    """Edges between instruction addresses inside the function."""
    inside = {addr for addr, _, _ in insns}
    edges = {}
    for i, (addr, op, arg) in enumerate(insns):
        nxt = insns[i + 1][0] if i + 1 < len(insns) else None
        out = []
        is_jump = op.startswith("j")
        target = int(arg, 16) if is_jump and re.fullmatch(r"[0-9a-f]+", arg) else None
        if target is not None and target in inside:
            out.append(target)
        if nxt is not None and op not in ("jmp", "ret", "ud2") and not op.startswith("ret"):
            out.append(nxt)
        edges[addr] = out
    return edges


def find_cycle(edges, start):
    """An edge (from, to) closing a cycle reachable from start, or None."""
    state, stack = {}, [(start, iter(edges.get(start, ())))]
    state[start] = "open"
    while stack:
        node, it = stack[-1]
        for nxt in it:
            if state.get(nxt) == "open":
                return node, nxt
            if nxt not in state:
                state[nxt] = "open"
                stack.append((nxt, iter(edges.get(nxt, ()))))
                break
        else:
            state[node] = "done"
            stack.pop()
    return None


def main():
    library, names = sys.argv[1], sys.argv[2:] or DEFAULT
    functions = disassemble(library)
    print(f"1..{len(names)}")
    failed = False
    for n, name in enumerate(names, 1):
        insns = functions.get(name)
        path = f"/B13/{name}/no-retry-loop"
        if not insns:
            print(f"not ok {n} - {path} # not found in {library}")
            failed = True
            continue
        cycle = find_cycle(successors(insns), insns[0][0])
        locked = sum(1 for _, op, _ in insns if op in ("lock", "xchg") or op.startswith("xchg"))
        if cycle:
            print(f"# branch at {cycle[0]:x} goes back to {cycle[1]:x}")
            print(f"not ok {n} - {path}")
            failed = True
        else:
            print(f"ok {n} - {path} ({len(insns)} instructions, {locked} locked)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
