"""`python -m scamshare` is the `scamshare` command."""

from scamshare.cli import main

main()
