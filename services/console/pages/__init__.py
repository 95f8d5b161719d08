"""The console's HTML pages and their actions: thin Falcon resources that ask the inventory or
the history (``services.console.history``), act through ``shared.operations``, and render a
template or redirect back with a notice."""
