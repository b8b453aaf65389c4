"""What a notebook's stored outputs were produced from: a hash of its code cells."""

import hashlib

STAMP_KEY = "cifar_mlp"  # the notebook metadata key that scripts/execute_notebooks.py writes


def code_hash(notebook) -> str:
    """SHA-256 of the code cells' sources, in order (markdown edits do not stale outputs)."""
    digest = hashlib.sha256()
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"]
            digest.update(("".join(source) if isinstance(source, list) else source).encode())
            digest.update(b"\0")
    return digest.hexdigest()
