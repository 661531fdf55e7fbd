"""``python -m nnfs_gpu``: the ``nnfs-gpu`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
