"""Reports and downloads built from the tables the pages show."""
