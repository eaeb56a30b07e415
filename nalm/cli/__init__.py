"""Command-line front end (``nalm ...``). Thin: parses, validates, calls the library, prints."""
