"""`workbench export LOG -o kernel.py`: the best schedule of a log as a standalone script."""
from __future__ import annotations

from pathlib import Path


def add_parser(subparsers):
    p = subparsers.add_parser("export", help="write the best schedule of a log as a standalone script",
                              description="Write a script that rebuilds the fastest correct kernel of "
                              "LOG from its trace, checks it against numpy and times it.")
    p.add_argument("log", help="a workbench.tune log, a dashboard/explorer JSON-lines log, or a schedule .json")
    p.add_argument("-o", "--output", default="kernel.py", help="script to write (default kernel.py)")
    return p


def run(args) -> int:
    from .script import write_from_log
    try:
        path, what = write_from_log(args.log, args.output)
    except (FileNotFoundError, ValueError, KeyError) as e:
        print(f"workbench export: {e}")
        return 2
    print(f"wrote {path} ({what}); run: python {Path(path)}")
    return 0
