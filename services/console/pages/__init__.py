"""The console's HTML pages: thin Falcon resources that ask the inventory (or, from phase 2,
the history) and render a template."""
