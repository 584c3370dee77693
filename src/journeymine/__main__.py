"""``python -m journeymine``: the ``jm`` command line."""

from journeymine.cli import main

if __name__ == "__main__":
    main()
