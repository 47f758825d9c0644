#!/usr/bin/python3
"""Asserts that a kilnc header reports a scratch arena smaller than the sum
of the temporaries it holds, for every entry point.

Usage: check_memory_plan.py HEADER
Reads the per-entry-point comment "scratch arena A B for N temporaries that
would take T B unshared" and the *_SCRATCH_SIZE macro; prints one line per
entry point and exits non-zero unless 0 < A < T and the macro equals A.
"""
import re
import sys


def main():
    text = open(sys.argv[1]).read()
    entries = re.findall(
        r"/\* Entry point (\w+): .* scratch arena (\d+) B for (\d+) "
        r"temporaries that would take (\d+) B unshared", text)
    assert entries, "no entry point comment found"
    for symbol, arena, count, total in entries:
        arena, count, total = int(arena), int(count), int(total)
        macro = int(re.search(rf"#define {symbol.upper()}_SCRATCH_SIZE (\d+)",
                              text)[1])
        print(f"{symbol}: arena {arena} B < {total} B for {count} "
              f"temporaries")
        assert macro == arena, f"macro {macro} != comment {arena}"
        assert 0 < arena < total, "no bytes shared by the memory plan"
    print("PASS")


if __name__ == "__main__":
    main()
