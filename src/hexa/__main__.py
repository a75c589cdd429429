from __future__ import annotations

from hexa.cli import main

main()
