"""`python -m reelcast.cli`: the same as the `reelcast` command."""

from reelcast.cli import main

main()
