"""The SPARQL endpoint: protocol, saved-query API, linked-data pages and UI over one store.

Import :func:`kzgraph.endpoint.serving.app.create_app` to build the ASGI application.
"""
