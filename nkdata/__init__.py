"""nkdata package."""
