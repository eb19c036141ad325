#!/usr/bin/env python3
"""check-wait-free.py: B13 read off the machine code.

Scheduling is wait-free: a bounded number of steps, no retry loop. So the
control-flow graph of each function a schedule runs must have no cycle.

The graph is the library's, not one symbol's: it follows direct calls and
jumps into any other function of the library (a helper the compiler did not
inline, GCC's .part/.isra/.constprop clones and .cold parts, a tail call),
and calls through the PLT to a function the library defines itself. Calls
that leave the library (PLT stubs of libc and GLib: write(), the
g_return_if_fail() warning) end the path. Works on GNU objdump's output for
both GCC's and clang's machine code (x86-64).

TAP output. Usage: check-wait-free.py LIBRARY [FUNCTION...]
"""
import re
import subprocess
import sys

DEFAULT = ["qemu_bh_schedule", "qemu_bh_schedule_idle", "aio_notify_wake", "aio_notify"]
HEAD = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
INSN = re.compile(r"^\s*([0-9a-f]+):\s+(.*)$")
# Prefixes objdump prints as words before the mnemonic ("lock cmpxchg",
# "repz ret", "notrack jmp *%rax", "bnd jmp", clang's "cs nopw" padding).
PREFIXES = {"lock", "rep", "repz", "repnz", "repe", "repne", "bnd", "notrack",
            "cs", "ds", "ss", "es", "fs", "gs", "data16", "addr32"}
LOOPS = {"loop", "loope", "loopne", "loopz", "loopnz"}
NO_FALLTHROUGH = {"jmp", "ret", "ud2", "hlt"}


class Insn:
    __slots__ = ("addr", "function", "text", "prefixes", "op", "target", "next")

    def __init__(self, addr, function, text):
        self.addr, self.function, self.text = addr, function, text
        words = text.split("#")[0].split()
        self.prefixes = []
        while words and words[0] in PREFIXES and len(words) > 1:
            self.prefixes.append(words.pop(0))
        self.op = words[0] if words else ""
        # A direct branch or call: "jne 2610 <qemu_bh_schedule+0x30>".
        arg = words[1] if len(words) > 1 else ""
        self.target = int(arg, 16) if re.fullmatch(r"[0-9a-f]+", arg) else None
        self.next = None  # the following instruction of the same symbol

    @property
    def is_branch(self):
        return self.op.startswith("j") or self.op in LOOPS

    @property
    def is_call(self):
        return self.op.startswith("call")

    @property
    def falls_through(self):
        op = self.op.rstrip("qlw")  # AT&T suffixes: retq, jmpq
        return op not in NO_FALLTHROUGH and not self.op.startswith("ret")

    @property
    def locked(self):
        return "lock" in self.prefixes or self.op.startswith("xchg")


def disassemble(library):
    """{symbol: [Insn]} and {address: Insn} of every function in @library."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", library],
                         check=True, capture_output=True, text=True).stdout
    functions, current, name = {}, None, None
    for line in out.splitlines():
        head = HEAD.match(line)
        if head:
            name = head.group(2)
            current = functions.setdefault(name, [])
            continue
        m = INSN.match(line)
        if m and current is not None:
            insn = Insn(int(m.group(1), 16), name, m.group(2).strip())
            if current:
                current[-1].next = insn.addr
            current.append(insn)
        elif not line.strip():
            current = None
    at = {insn.addr: insn for insns in functions.values() for insn in insns}
    return functions, at


def followed(functions, at, addr):
    """The address a direct branch or call to @addr leads to inside the
    library, or None if it leaves it (a PLT stub of another library)."""
    insn = at.get(addr)
    if insn is None:
        return None
    plt = re.fullmatch(r"(.+)@plt", insn.function)
    if plt is None:
        return addr
    own = functions.get(plt.group(1))  # the library calling itself via its PLT
    return own[0].addr if own else None


def successors(functions, at, insn):
    out = []
    if (insn.is_branch or insn.is_call) and insn.target is not None:
        target = followed(functions, at, insn.target)
        if target is not None:
            out.append(target)
    # After a call the function goes on (a call to a noreturn function is the
    # last instruction of its symbol, so it has no next).
    if insn.next is not None and insn.falls_through:
        out.append(insn.next)
    return out


def find_cycle(functions, at, start):
    """(reached addresses, an edge (from, to) closing a cycle or None)."""
    state = {start: "open"}
    stack = [(start, iter(successors(functions, at, at[start])))]
    while stack:
        node, it = stack[-1]
        for nxt in it:
            if state.get(nxt) == "open":
                return state, (node, nxt)
            if nxt not in state:
                state[nxt] = "open"
                stack.append((nxt, iter(successors(functions, at, at[nxt]))))
                break
        else:
            state[node] = "done"
            stack.pop()
    return state, None


def where(functions, insn):
    return f"{insn.function}+{insn.addr - functions[insn.function][0].addr:#x}"


def main():
    library, names = sys.argv[1], sys.argv[2:] or DEFAULT
    functions, at = disassemble(library)
    print(f"1..{len(names)}")
    failed = False
    for n, name in enumerate(names, 1):
        insns = functions.get(name)
        path = f"/B13/{name}/no-retry-loop"
        if not insns:
            print(f"not ok {n} - {path} # not found in {library}")
            failed = True
            continue
        reached, cycle = find_cycle(functions, at, insns[0].addr)
        if cycle:
            # On stderr, which `meson test --print-errorlogs` shows.
            back, head = at[cycle[0]], at[cycle[1]]
            print(f"# {path}: {where(functions, back)} ({back.addr:x}) branches back to "
                  f"{where(functions, head)} ({head.addr:x}), a retry loop:", file=sys.stderr)
            if back.function == head.function and head.addr <= back.addr:
                for insn in functions[head.function]:
                    if head.addr <= insn.addr <= back.addr:
                        print(f"#   {insn.addr:x}:  {insn.text}", file=sys.stderr)
            print(f"not ok {n} - {path}")
            failed = True
        else:
            symbols = sorted({at[a].function for a in reached})
            locked = sum(1 for a in reached if at[a].locked)
            print(f"ok {n} - {path} ({len(reached)} instructions reached, {locked} locked; "
                  f"in {', '.join(symbols)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
