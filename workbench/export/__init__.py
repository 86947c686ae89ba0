"""Export a schedule as a standalone script that rebuilds the kernel from its trace, checks it
against numpy and times it, needing only the installed package.

    from workbench.export import write_script, script_text
    write_script("matmul", {"M": 512, "N": 512, "K": 512}, s.trace, "kernel.py")
"""
from .script import best_from_log, script_text, tuned_script_text, write_from_log, write_script

__all__ = ["script_text", "tuned_script_text", "write_script", "write_from_log", "best_from_log"]
