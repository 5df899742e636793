#!/bin/sh
# docs/datasheet.md lists every constant of the register header, with its value.
exec python3 tests/static/datasheet.py
