from shadowbot.cli import main

raise SystemExit(main())
