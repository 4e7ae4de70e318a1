"""Analytics over what was served and decided: prediction acceptance and drift, volume, portal
deflection and KB gaps, reliability curves, plots and dataset exploration for notebooks.

May import: ``triage.bundles`` and below (not ``desk`` or ``assist``)."""
