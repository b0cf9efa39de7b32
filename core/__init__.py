"""Power Marketing Workbench core: the analytics behind the pages, free of any UI."""
