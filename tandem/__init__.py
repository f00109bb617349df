"""tandem package."""
