"""The bundled demo dataset: real face photographs moved like heads, with synthetic speech."""
