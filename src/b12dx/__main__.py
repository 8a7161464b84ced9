from b12dx.cli import main

main()
