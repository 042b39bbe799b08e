"""A folder of real prose for tests: docstrings of standard-library functions and classes.

Router training reads module docstrings only, so these texts are not training data.
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path


def stdlib_documents(count: int, min_chars: int = 600, max_chars: int = 2400) -> list[tuple[str, str]]:
    """``count`` (title, text) pairs, each the function/class docstrings of one stdlib module."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    documents = []
    for path in sorted(stdlib.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        parts = []
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                docstring = ast.get_docstring(node)
                if docstring and len(docstring) > 80:
                    parts.append(f"{node.name}: {' '.join(docstring.split())}")
        text = "\n\n".join(parts)[:max_chars]
        if len(text) >= min_chars:
            documents.append((path.stem, text))
        if len(documents) == count:
            break
    return documents
