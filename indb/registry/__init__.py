"""What the catalog records besides tables: registered functions (and their code) and runs."""
