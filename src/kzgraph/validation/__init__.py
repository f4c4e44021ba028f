"""Whether the data keeps the rules: SHACL engines, inference, the report, and lint."""
