"""The documentation site built from the ontology, shapes and saved queries."""
