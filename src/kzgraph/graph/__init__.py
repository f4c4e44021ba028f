"""The graph as files: loading, ISO reference data, region outlines, derived artefacts and diffs."""
