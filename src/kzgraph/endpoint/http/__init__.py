"""HTTP details: content negotiation, protocol requests, responses, pages, bounded connections."""
