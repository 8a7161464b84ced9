"""Renderers: an Assessment as text (Rich), Markdown, HTML, JSON or FHIR."""
