"""`python -m perennial.cli` (the tests and benchmarks run the command so)."""

from perennial.cli import main

if __name__ == "__main__":  # importing this module (the import-boundary test does) runs nothing
    main()
