"""`python -m courier` runs the command line."""

from courier.cli import main

main()
