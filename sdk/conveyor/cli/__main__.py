"""``python -m conveyor.cli``: the same as the ``conveyor`` console script."""

from .app import main

if __name__ == "__main__":
    main()
