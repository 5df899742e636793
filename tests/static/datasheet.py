#!/usr/bin/env python3
"""The datasheet matches the register header.

Every integer constant of hw/proxycard/proxycard_regs.h must have exactly one
row in docs/datasheet.md of the form

    | `PROXYCARD_NAME` | 0xVALUE | ...

with the same value, and the datasheet must name no constant the header lacks.
"""
import re
import sys

HEADER = "hw/proxycard/proxycard_regs.h"
SHEET = "docs/datasheet.md"


def header_constants():
    consts = {}
    # Join continuation lines (PROXYCARD_VERSION spans two).
    text = open(HEADER).read().replace("\\\n", " ")
    for m in re.finditer(r"#define\s+(PROXYCARD_\w+)\s+([^\n/]+)", text):
        if m.group(1) != "PROXYCARD_REGS_H":
            consts[m.group(1)] = m.group(2).strip()
    values = {}

    def ev(name):
        if name not in values:
            expr = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)[uU]?\b", r"\1", consts[name])
            expr = re.sub(r"\bPROXYCARD_\w+\b", lambda n: str(ev(n.group(0))), expr)
            values[name] = int(eval(expr, {"__builtins__": {}}))
        return values[name]

    for name in consts:
        ev(name)
    return values


def sheet_rows():
    rows = {}
    for n, line in enumerate(open(SHEET), 1):
        m = re.match(r"\|\s*`(PROXYCARD_\w+)`\s*\|\s*(0x[0-9a-fA-F]+)\s*\|", line)
        if m:
            if m.group(1) in rows:
                print(f"{SHEET}:{n}: {m.group(1)} listed twice")
                sys.exit(1)
            rows[m.group(1)] = int(m.group(2), 16)
    return rows


def main():
    hdr = header_constants()
    sheet = sheet_rows()
    bad = 0
    for name, val in sorted(hdr.items()):
        if name not in sheet:
            print(f"{name} (0x{val:x}) is not in {SHEET}")
            bad += 1
        elif sheet[name] != val:
            print(f"{name}: header 0x{val:x}, datasheet 0x{sheet[name]:x}")
            bad += 1
    for name in sorted(set(sheet) - set(hdr)):
        print(f"{SHEET} lists {name}, which the header does not define")
        bad += 1
    print(f"{len(hdr)} constants checked, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
