from photoclip.cli import main

raise SystemExit(main())
