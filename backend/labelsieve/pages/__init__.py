"""The live project pages: self-contained HTML with embedded matplotlib plots (``GET /projects/{id}/page``)."""
