"""Markdown for Dagster's metadata from text nobody vouches for (dropped files, their cells and
keys): both code locations render every such cell through here."""

from stack_markdown.inert import inert_text, markdown_table

__all__ = ["inert_text", "markdown_table"]
